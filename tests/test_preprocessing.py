import numpy as np
import pytest

from minuet_sk import AsinhStretch, SegmentationMasker
from minuet_sk.preprocessing import central_source_masks


def _blob(x0, y0, flux=1.0, size=32, sigma2=6.0):
    yy, xx = np.mgrid[:size, :size]
    return flux * np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / sigma2)


@pytest.fixture
def two_sources():
    rng = np.random.default_rng(1)
    central, neighbour = _blob(15.5, 15.5, 1.0), _blob(5, 26, 0.8)
    noise = 0.01 * rng.standard_normal((3, 32, 32))
    return (central + neighbour + noise)[None].astype(np.float32), central, neighbour


class TestAsinhStretch:
    def test_round_trip_to_float32_precision(self):
        X = np.random.default_rng(0).lognormal(0, 2, size=(5, 3, 8, 8)).astype(np.float32)
        X[:, :, 0, 0] *= -1
        st = AsinhStretch(image_shape=(3, 8, 8)).fit(X)
        back = st.inverse_transform(st.transform(X)).reshape(X.shape)
        np.testing.assert_allclose(back, X, rtol=2e-6, atol=1e-7)

    def test_compresses_bright_pixels_and_is_monotonic(self):
        x = np.linspace(-1, 100, 50, dtype=np.float32)
        X = np.tile(x, (1, 3, 1)).reshape(1, 3, 1, 50)
        y = AsinhStretch(image_shape=None).fit(X).transform(X).reshape(3, 50)
        assert np.all(np.diff(y, axis=1) > 0)
        assert y[0, -1] / y[0, -2] < x[-1] / x[-2]

    def test_legacy_survey_scales_and_custom(self):
        X = np.ones((2, 3, 2, 2))
        assert AsinhStretch(image_shape=None).fit(X).scales_.tolist() == [6.0, 3.4, 2.2]
        with pytest.raises(ValueError, match="one per band"):
            AsinhStretch(image_shape=None, scales=[1.0, 2.0]).fit(X)

    def test_nan_stays_nan(self):
        X = np.ones((2, 3, 2, 2))
        X[0, 1, 0, 0] = np.nan
        Y = AsinhStretch(image_shape=None).fit_transform(X)
        assert np.isnan(Y).sum() == 1


class TestSegmentationMasker:
    def test_removes_neighbour_keeps_central(self, two_sources):
        img = two_sources[0]
        masker = SegmentationMasker(image_shape=(3, 32, 32), random_state=0)
        clean = masker.fit_transform(img).reshape(3, 32, 32)
        # the neighbour's peak is gone (down to the noise), the central galaxy untouched
        assert abs(clean[:, 26, 5]).max() < 0.1
        np.testing.assert_allclose(clean[:, 14:18, 14:18], img[0, :, 14:18, 14:18])
        mask = masker.central_masks(img)[0]
        assert mask[16, 16] and not mask[26, 5]

    def test_noise_fill_matches_sky_and_zero_fill(self, two_sources):
        img = two_sources[0]
        noisy = SegmentationMasker(image_shape=None, random_state=0).fit_transform(img)
        zeros = SegmentationMasker(image_shape=None, fill="zeros").fit_transform(img)
        noisy, zeros = noisy.reshape(3, 32, 32), zeros.reshape(3, 32, 32)
        assert zeros[0, 26, 5] == 0.0
        patch = noisy[:, 23:30, 2:9]
        assert 0.003 < patch.std() < 0.03  # sky-like scatter (sky noise is 0.01)

    def test_same_image_same_result_whatever_batch(self, two_sources):
        img = two_sources[0]
        batch = np.concatenate([img, img[:, :, ::-1]])
        masker = SegmentationMasker(image_shape=None, random_state=3).fit(batch)
        np.testing.assert_array_equal(masker.transform(batch)[:1], masker.transform(img))

    def test_empty_stamp_has_no_central_mask(self):
        sky = 0.01 * np.random.default_rng(0).standard_normal((1, 3, 24, 24))
        assert not central_source_masks(sky).any()

    def test_flattened_rows_are_refused(self, two_sources):
        with pytest.raises(ValueError, match=r"\(n, C, H, W\).*reshape"):
            central_source_masks(two_sources[0].reshape(1, -1))


class TestBackgroundNoise:
    """Each cutout's own sky level and noise, from the pixels farthest from its centre."""

    @pytest.mark.parametrize("noise", [0.001, 0.02, 1.5])
    def test_known_noise_is_recovered_beside_a_bright_galaxy(self, noise):
        from minuet_sk.preprocessing import background_noise

        rng = np.random.default_rng(1)
        level = np.array([0.2, -0.1, 3.0])
        images = level[None, :, None, None] + noise * rng.standard_normal((20, 3, 72, 72))
        yy, xx = np.mgrid[:72, :72]
        galaxy = 50 * noise * np.exp(-((yy - 35.5) ** 2 + (xx - 35.5) ** 2) / (2 * 9.0**2))
        images += galaxy  # a wide galaxy: a plain median of the stamp would be biased
        images[:, :, :, :8] = np.nan  # a missing edge is ignored
        got_level, got_noise = background_noise(images)
        np.testing.assert_allclose(got_noise, noise, rtol=0.1)
        np.testing.assert_allclose(got_level, np.broadcast_to(level, (20, 3)), atol=0.15 * noise)

    def test_a_band_without_data_gives_nan(self):
        from minuet_sk.preprocessing import background_noise

        images = np.random.default_rng(0).normal(size=(2, 2, 16, 16))
        images[0, 1] = np.nan
        level, noise = background_noise(images)
        assert np.isnan(level[0, 1]) and np.isnan(noise[0, 1])
        assert np.isfinite(level[1]).all() and np.isfinite(noise[0, 0])
        with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
            background_noise(images[0])
