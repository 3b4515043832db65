"""High-resolution galaxy images seen as a ground-based survey sees them (GalSim).

The technique used to simulate ground-based lensing data from space images (GalSim's
``RealGalaxy``; Mandelbaum et al. 2012): each band of a sharp cutout becomes a GalSim
``InterpolatedImage`` (flux kept), its own PSF is deconvolved where it is known, the
survey's PSF convolved in, the result drawn on the survey's pixels (their response
included) and the survey's sky noise added. The survey's PSF must be much broader than the
source's: the deconvolution then only divides by the source PSF where the survey's PSF
has left signal.

The observing conditions are those of :func:`~minuet_sk.datasets.make_galaxies`: per galaxy a
Moffat PSF (beta 3.5) of DECaLS-like seeing (r FWHM about 1.3 arcsec, scattered night to
night; g broader, z sharper, a small ellipticity) and Gaussian sky noise at DECaLS-like
5-sigma depths (g 24.6, r 24.0, z 23.1), so that rendered real galaxies and simulated ones
share their noise and resolution.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._render import observing_conditions, psf_profile

__all__ = ["SURVEYS", "observe_as_survey"]

#: Surveys :func:`observe_as_survey` renders for: bands and pixel scale (arcsec).
SURVEYS = {"decals": {"bands": "grz", "pixel_scale": 0.262}}


def _survey_settings(survey):
    """The :data:`SURVEYS` entry of ``survey``; a clear error for an unknown one."""
    if survey not in SURVEYS:
        raise ValueError(f"Unknown survey {survey!r}; choose from {sorted(SURVEYS)}.")
    return SURVEYS[survey]


def _check(images, pixel_scale, survey, image_size, source_psf_fwhm):
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, C, H, W); got {images.shape}.")
    bands = _survey_settings(survey)["bands"]
    if images.shape[1] != len(bands):
        raise ValueError(
            f"{survey} has {len(bands)} bands ({bands}); the images have {images.shape[1]} "
            "channels. Give one channel per band, in that order."
        )
    if not (np.isscalar(pixel_scale) and pixel_scale > 0):
        raise ValueError(f"pixel_scale must be a positive number (arcsec); got {pixel_scale!r}.")
    if not (isinstance(image_size, (int, np.integer)) and image_size > 0):
        raise ValueError(f"image_size must be a positive integer; got {image_size!r}.")
    if source_psf_fwhm is not None and not source_psf_fwhm > 0:
        raise ValueError(f"source_psf_fwhm must be positive or None; got {source_psf_fwhm!r}.")
    return images, bands


def observe_as_survey(images, pixel_scale, *, survey="decals", source_psf_fwhm=None,
                      flux_scale=1.0, image_size=72, noise=True, random_state=None):
    """Render sharp galaxy cutouts as a ground-based survey would see them.

    Parameters
    ----------
    images : ndarray of shape (n, C, H, W)
        High-resolution cutouts, one channel per survey band (for DECaLS: g, r, z), sky
        subtracted, the galaxy at the centre. NaN pixels (beyond an image's edge) count as
        empty sky. The stamp should cover the survey stamp, ``image_size *
        survey_pixel_scale`` arcsec, or what lies outside it is empty.
    pixel_scale : float
        Arcsec per pixel of ``images``.
    survey : {"decals"}, default="decals"
        The survey (:data:`SURVEYS`): its bands, pixel scale, seeing and depth.
    source_psf_fwhm : float, optional
        FWHM (arcsec) of the images' own PSF, taken as Gaussian and deconvolved. None: the
        images are taken as sharp (an HST PSF, about 0.1 arcsec, under a 1.3 arcsec seeing
        changes the result by well under a percent of the flux in any pixel).
    flux_scale : float or array-like of shape (n,) or (n, C), default=1.0
        Multiplies ``images`` into nanomaggies (per galaxy, or per galaxy and band).
    image_size : int, default=72
        Side of the rendered cutouts, in survey pixels.
    noise : bool, default=True
        Add the survey's Gaussian sky noise.
    random_state : int, RandomState instance or None, default=None
        Seeing, PSF and noise draws.

    Returns
    -------
    Bunch
        ``images`` float32 ``(n, C, image_size, image_size)`` in nanomaggies; ``conditions``,
        a dict of per-galaxy arrays as :func:`~minuet_sk.datasets.make_galaxies`' truth has
        them (``seeing``, ``psf_fwhm_<band>``, ``psf_depth_<band>``, ``noise_sigma_<band>``,
        ...); ``bands``; ``pixel_scale`` (the survey's).

    Examples
    --------
    >>> import galsim, numpy as np
    >>> sharp = galsim.Exponential(half_light_radius=1.5, flux=100.0).shear(q=0.5, beta=0.3 *
    ...     galsim.radians).drawImage(nx=160, ny=160, scale=0.1).array
    >>> seen = observe_as_survey(np.stack([sharp] * 3)[None], 0.1, random_state=0)
    >>> seen.images.shape, round(float(seen.images[0, 1].sum()) / 100, 1)  # flux kept
    ((1, 3, 72, 72), 1.0)
    """
    import galsim

    images, bands = _check(images, pixel_scale, survey, image_size, source_psf_fwhm)
    n, channels = images.shape[:2]
    scale = np.broadcast_to(np.asarray(flux_scale, np.float64).reshape(
        np.shape(flux_scale) + (1,) * (2 - np.ndim(flux_scale))), (n, channels))
    rng = check_random_state(random_state)
    target_scale = SURVEYS[survey]["pixel_scale"]
    conditions = observing_conditions(rng, n, bands, target_scale)
    out = np.zeros((n, channels, image_size, image_size), np.float32)
    source_psf = (None if source_psf_fwhm is None
                  else galsim.Deconvolve(galsim.Gaussian(fwhm=source_psf_fwhm)))
    for i in range(n):
        row = {k: v[i] for k, v in conditions.items()}
        for c, band in enumerate(bands):
            pixels = np.nan_to_num(images[i, c] * scale[i, c], nan=0.0)
            if not pixels.any():
                continue
            source = galsim.InterpolatedImage(galsim.Image(pixels, scale=pixel_scale))
            parts = [source, psf_profile(row, band)]
            if source_psf is not None:
                parts.append(source_psf)
            drawn = galsim.Convolve(parts).drawImage(nx=image_size, ny=image_size,
                                                     scale=target_scale)
            out[i, c] = drawn.array
    if noise:
        sigma = np.stack([conditions[f"noise_sigma_{b}"] for b in bands], axis=1)
        out += (sigma[:, :, None, None] * rng.standard_normal(out.shape)).astype(np.float32)
    return Bunch(images=out, conditions=conditions, bands=tuple(bands),
                 pixel_scale=target_scale)
