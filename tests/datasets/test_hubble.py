"""Real HST galaxies cut from the Hubble Deep Field image that scikit-image ships."""

import numpy as np
import pytest
from skimage import data as skimage_data

from minuet_sk.datasets import load_hubble_deep_field

SIZE = 48


@pytest.fixture(scope="module")
def hdf():
    return load_hubble_deep_field(image_size=SIZE, min_area=60)


@pytest.fixture(scope="module")
def rgb():
    return np.moveaxis(skimage_data.hubble_deep_field().astype(np.float32), -1, 0)


class TestHubbleDeepField:
    def test_bunch_shapes(self, hdf):
        n = len(hdf.data)
        assert n > 50
        assert hdf.images.shape == (n, 3, SIZE, SIZE) and hdf.images.dtype == np.float32
        assert hdf.segmentation.shape == (872, 1000)
        assert set(np.unique(hdf.segmentation)) == {0, *hdf.data["label"]}
        assert hdf.bands == ("R", "G", "B") and hdf.pixel_scale is None
        assert {"x", "y", "area", "flux", "ellipticity", "orientation", "fwhm",
                "touches_edge"} <= set(hdf.data.columns)

    def test_source_properties(self, hdf):
        data = hdf.data
        assert (data["area"] >= 60).all()
        assert (data["flux"] > 0).all()
        assert data["ellipticity"].between(0, 1).all()
        # real galaxies come in many shapes: not all round, not all thin
        assert data["ellipticity"].std() > 0.05

    def test_cutouts_are_centred_on_the_sources(self, hdf, rgb):
        brightest = np.argsort(hdf.data["flux"].to_numpy())[::-1][:10]
        xy = np.rint(hdf.data[["x", "y"]].to_numpy()[brightest]).astype(int)
        centres = hdf.images[brightest][:, :, SIZE // 2, SIZE // 2]
        sky = rgb[:, xy[:, 1], xy[:, 0]].T - centres  # the same sky level for every source
        np.testing.assert_allclose(sky, np.broadcast_to(sky[0], sky.shape))
        assert np.all(sky[0] > 0)
        labels = hdf.segmentation[xy[:, 1], xy[:, 0]]
        assert np.mean(labels == hdf.data["label"].to_numpy()[brightest]) >= 0.8

    def test_edge_sources_are_nan_padded_and_interior_ones_complete(self, hdf):
        x, y = np.rint(hdf.data[["x", "y"]].to_numpy()).T.astype(int)
        half = SIZE // 2  # the cutout spans centre - half .. centre + half - 1
        near_edge = (x < half) | (y < half) | (x + half > 1000) | (y + half > 872)
        has_nan = np.isnan(hdf.images).any(axis=(1, 2, 3))
        assert near_edge.any()
        np.testing.assert_array_equal(has_nan, near_edge)

    def test_background_subtraction(self, hdf):
        raw = load_hubble_deep_field(image_size=16, min_area=400, subtract_background=False)
        sub = load_hubble_deep_field(image_size=16, min_area=400)
        diff = (raw.images - sub.images).reshape(len(raw.images), 3, -1)
        levels = np.nanmedian(diff, axis=(0, 2))
        assert np.all(levels > 0) and np.allclose(np.nanstd(diff, axis=(0, 2)), 0, atol=1e-4)

    def test_isolate_blanks_every_other_source_and_keeps_the_galaxy(self, hdf):
        alone = load_hubble_deep_field(image_size=SIZE, min_area=60, isolate=True)
        assert alone.images.shape == hdf.images.shape
        changed = ((alone.images != hdf.images) & ~np.isnan(hdf.images)).any(axis=1)
        # what changed was set to the sky level (0 after subtraction), in every channel
        assert np.all(np.moveaxis(alone.images, 1, -1)[changed] == 0)
        changed = changed[:, None]
        # most stamps had neighbours to blank; no galaxy loses its centre
        assert changed.any(axis=(1, 2, 3)).mean() > 0.5
        assert not changed[:, :, SIZE // 2, SIZE // 2].any()
        # the blanked pixels lie outside the galaxy's own segment
        x, y = np.rint(hdf.data[["x", "y"]].to_numpy()).T.astype(int)
        half = SIZE // 2
        for i in np.flatnonzero(changed.any(axis=(1, 2, 3)))[:20]:
            if not (half <= x[i] < 1000 - half and half <= y[i] < 872 - half):
                continue
            own = hdf.segmentation[y[i] - half : y[i] + half, x[i] - half : x[i] + half]
            assert not np.any(changed[i, 0] & (own == hdf.data["label"].iloc[i]))

    def test_deblending_splits_sources(self):
        blended = load_hubble_deep_field(image_size=8, min_area=60, deblend=False)
        deblended = load_hubble_deep_field(image_size=8, min_area=60)
        assert len(deblended.data) > len(blended.data)

    @pytest.mark.filterwarnings("ignore::photutils.utils.exceptions.NoDetectionsWarning")
    def test_nothing_detected(self):
        with pytest.raises(ValueError, match="No sources"):
            load_hubble_deep_field(n_sigma=1e6)

    def test_bad_image_size(self):
        with pytest.raises(ValueError, match="image_size"):
            load_hubble_deep_field(image_size=-3)



@pytest.fixture(scope="module")
def seen():
    return load_hubble_deep_field(image_size=SIZE, min_area=400, as_survey="decals",
                                  random_state=0)


class TestAsSurvey:
    def test_rendered_as_decals_sees_them(self, seen):
        sharp = load_hubble_deep_field(image_size=SIZE, min_area=400)
        n = len(sharp.data)
        assert n >= 5 and seen.images.shape == (n, 3, SIZE, SIZE)
        assert seen.bands == ("g", "r", "z") and seen.pixel_scale == 0.262
        assert np.isfinite(seen.images).all()
        assert seen.data["mag_r"].between(16, 19).all()
        assert seen.data["blank_fraction"].between(0, 1).all()
        # each galaxy's r flux (a 4-arcsec aperture) is about what its magnitude says;
        # neighbours, the noise and the flux beyond the aperture make up the rest
        yy, xx = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
        aperture = np.hypot(xx, yy) < 4 / 0.262
        r_flux = seen.images[:, 1][:, aperture].sum(1)
        expected = 10 ** (-0.4 * (seen.data["mag_r"].to_numpy() - 22.5))
        assert np.median(r_flux / expected) == pytest.approx(1.0, abs=0.35)
        # sky noise at DECaLS depth in the corners, and the seeing broadens every galaxy
        corner = seen.images[:, 1, :6, :6]
        assert np.median(corner.std((1, 2)) / seen.conditions["noise_sigma_r"]) < 1.5
        assert (seen.conditions["seeing"] > 0.8).all()

    def test_same_random_state_same_galaxies_and_bad_settings(self, seen):
        again = load_hubble_deep_field(image_size=SIZE, min_area=400, as_survey="decals",
                                       random_state=0)
        np.testing.assert_array_equal(again.images, seen.images)
        with pytest.raises(ValueError, match="Unknown survey"):
            load_hubble_deep_field(min_area=400, as_survey="hsc")
        with pytest.raises(ValueError, match="source_pixel_scale"):
            load_hubble_deep_field(min_area=400, as_survey="decals", source_pixel_scale=0)
        with pytest.raises(ValueError, match="mag_range"):
            load_hubble_deep_field(min_area=400, as_survey="decals", mag_range=(19, 16))
        with pytest.raises(ValueError, match="band_gains"):
            load_hubble_deep_field(min_area=400, as_survey="decals", band_gains=(1, 0, 1))

    def test_band_gains_scale_the_bands_before_the_noise(self, seen):
        gains = (0.5, 1.0, 2.0)
        tinted = load_hubble_deep_field(image_size=SIZE, min_area=400, as_survey="decals",
                                        band_gains=gains, random_state=0)
        # the same draws: the same noise, the galaxy's light times each band's gain
        yy, xx = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
        aperture = np.hypot(xx, yy) < 4 / 0.262
        ratio = tinted.images[:, :, aperture].sum(-1) / seen.images[:, :, aperture].sum(-1)
        np.testing.assert_allclose(np.median(ratio, axis=0), gains, rtol=0.05)
        np.testing.assert_array_equal(tinted.data["mag_r"], seen.data["mag_r"])
