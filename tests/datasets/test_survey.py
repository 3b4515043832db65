"""datasets.observe_as_survey: sharp cutouts rendered as DECaLS sees them, against GalSim
drawing the same galaxy directly at the survey's PSF and pixels."""

import galsim
import numpy as np
import pytest

from minuet_sk.datasets import observe_as_survey
from minuet_sk.datasets._render import psf_profile

SHARP_SCALE = 0.1  # arcsec per pixel of the sharp cutouts: 200 pixels cover the DECaLS stamp


def sharp_galaxy(blur_fwhm=None, size=200):
    """An inclined exponential disk (3 bands, fluxes 50/100/150), drawn sharp or blurred by a
    Gaussian PSF, and its profile."""
    galaxy = galsim.Exponential(half_light_radius=1.5, flux=1.0).shear(
        q=0.5, beta=0.4 * galsim.radians)
    seen = galaxy if blur_fwhm is None else galsim.Convolve(galaxy,
                                                            galsim.Gaussian(fwhm=blur_fwhm))
    image = seen.drawImage(nx=size, ny=size, scale=SHARP_SCALE).array
    return np.stack([f * image for f in (50.0, 100.0, 150.0)]), galaxy


@pytest.mark.parametrize("blur_fwhm", [None, 0.3])
def test_matches_the_galaxy_drawn_at_the_survey_psf(blur_fwhm):
    sharp, galaxy = sharp_galaxy(blur_fwhm)
    seen = observe_as_survey(sharp[None], SHARP_SCALE, source_psf_fwhm=blur_fwhm,
                             noise=False, random_state=0)
    row = {k: v[0] for k, v in seen.conditions.items()}
    for c, (band, flux) in enumerate(zip("grz", (50.0, 100.0, 150.0))):
        direct = galsim.Convolve(galaxy * flux, psf_profile(row, band)).drawImage(
            nx=72, ny=72, scale=0.262).array
        assert np.abs(seen.images[0, c] - direct).max() < 0.01 * direct.max(), band
    assert seen.bands == ("g", "r", "z") and seen.pixel_scale == 0.262


def test_noise_flux_scale_and_missing_pixels():
    sharp, _ = sharp_galaxy(size=120)
    sharp[:, :, :10] = np.nan  # beyond the image's edge: empty sky
    pair = np.stack([sharp, sharp])
    scale = [[1, 1, 1], [2, 2, 0.5]]
    clean = observe_as_survey(pair, SHARP_SCALE, flux_scale=scale, noise=False,
                              random_state=1)
    assert np.isfinite(clean.images).all()
    totals = clean.images.sum((2, 3))
    np.testing.assert_allclose(totals[1] / totals[0], [2, 2, 0.5], rtol=0.02)
    noisy = observe_as_survey(pair, SHARP_SCALE, flux_scale=scale, random_state=1)
    sigma = noisy.conditions["noise_sigma_r"]
    residual = (noisy.images - clean.images)[:, 1]
    np.testing.assert_allclose(residual.std((1, 2)), sigma, rtol=0.05)
    again = observe_as_survey(pair, SHARP_SCALE, flux_scale=scale, random_state=1)
    np.testing.assert_array_equal(again.images, noisy.images)  # reproducible


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"images": np.zeros((2, 3, 8))}, "shape"),
    ({"images": np.zeros((1, 2, 8, 8))}, "3 bands"),
    ({"pixel_scale": 0.0}, "pixel_scale"),
    ({"survey": "sdss"}, "Unknown survey"),
    ({"image_size": 0}, "image_size"),
    ({"source_psf_fwhm": -1.0}, "source_psf_fwhm"),
])
def test_bad_input_is_a_clear_error(kwargs, match):
    args = {"images": np.zeros((1, 3, 8, 8)), "pixel_scale": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        observe_as_survey(**args)
