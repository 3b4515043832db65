"""minuet_sk.metrics against closed forms."""

import numpy as np
import pytest
from scipy import stats

from minuet_sk import metrics


def gaussian_crps(y, mu, sigma):
    """Closed form (Gneiting & Raftery 2007, eq. 21)."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


class TestDistributionMetrics:
    def test_crps_of_a_gaussian(self):
        rng = np.random.default_rng(0)
        y = np.array([-1.0, 0.0, 0.5, 3.0])
        sigma = np.array([0.5, 1.0, 2.0, 1.0])
        samples = sigma[:, None] * rng.standard_normal((4, 40000))
        np.testing.assert_allclose(
            metrics.crps(y, samples), gaussian_crps(y, 0.0, sigma), rtol=0.02
        )

    def test_crps_fair_and_point_forecast(self):
        samples = np.array([[1.0, 3.0]])
        # plug-in: mean|x - 0| - 0.5 * mean|x - x'| = 2 - 0.5 * (2 * 2 / 4) = 1.5
        assert metrics.crps([0.0], samples)[0] == pytest.approx(1.5)
        assert metrics.crps([0.0], samples, fair=True)[0] == pytest.approx(1.0)
        assert metrics.crps([0.0], np.full((1, 5), 2.0))[0] == pytest.approx(2.0)

    def test_crps_multivariate_shape(self):
        samples = np.random.default_rng(0).standard_normal((5, 100, 3))
        assert metrics.crps(np.zeros((5, 3)), samples).shape == (5, 3)

    def test_pit_uniform_for_a_correct_model(self):
        rng = np.random.default_rng(0)
        mu, sigma = rng.standard_normal(2000), rng.uniform(0.5, 2, 2000)
        truth = mu + sigma * rng.standard_normal(2000)
        samples = mu[:, None] + sigma[:, None] * rng.standard_normal((2000, 500))
        values = metrics.pit(truth, samples)
        assert stats.kstest(values, "uniform").pvalue > 0.01
        overconfident = metrics.pit(truth, mu[:, None] + 0.3 * (samples - mu[:, None]))
        assert stats.kstest(overconfident, "uniform").pvalue < 1e-6

    def test_coverage_of_a_known_interval(self):
        rng = np.random.default_rng(1)
        samples = rng.standard_normal((4000, 400))
        truth = rng.standard_normal(4000)
        for level in (0.68, 0.95):
            assert metrics.interval_coverage(truth, samples, level) == pytest.approx(
                level, abs=0.025
            )
        wide = metrics.interval_coverage(truth, 3 * samples, 0.68)
        assert wide == pytest.approx(2 * stats.norm.cdf(3 * stats.norm.ppf(0.84)) - 1, abs=0.02)
        with pytest.raises(ValueError, match="level"):
            metrics.interval_coverage(truth, samples, 1.5)

    def test_shape_errors(self):
        with pytest.raises(ValueError, match="do not match"):
            metrics.pit(np.zeros(3), np.zeros((4, 10)))

    def test_tarp(self):
        rng = np.random.default_rng(0)
        mu = rng.standard_normal((1000, 3))
        truth = mu + rng.standard_normal((1000, 3))
        good = mu[:, None] + rng.standard_normal((1000, 300, 3))
        res = metrics.tarp_coverage(truth, good, random_state=0)
        assert res.ecp[0] == 0.0 and res.ecp[-1] > 0.99
        assert res.max_deviation < 0.06 and res.pvalue > 0.01
        narrow = mu[:, None] + 0.3 * rng.standard_normal((1000, 300, 3))
        assert metrics.tarp_coverage(truth, narrow, random_state=0).pvalue < 1e-6


class TestPointMetrics:
    def test_sigma_nmad_of_gaussian_residuals(self):
        rng = np.random.default_rng(0)
        z = rng.uniform(0.1, 1.0, 50000)
        z_pred = z + 0.05 * (1 + z) * rng.standard_normal(50000)
        assert metrics.sigma_nmad(z, z_pred) == pytest.approx(0.05, rel=0.03)
        assert metrics.sigma_nmad(z, z + 0.2 * rng.standard_normal(50000), relative=False) == (
            pytest.approx(0.2, rel=0.03)
        )

    def test_outliers_and_bias(self):
        z = np.array([0.0, 1.0, 1.0, 0.5])
        z_pred = np.array([0.1, 1.4, 1.2, 0.5])
        # |dz| / (1 + z) = 0.1, 0.2, 0.1, 0
        assert metrics.outlier_fraction(z, z_pred) == pytest.approx(0.25)
        assert metrics.bias(z, z_pred) == pytest.approx(0.1)
        assert metrics.bias(z, z_pred, relative=False) == pytest.approx(0.175)
        two = metrics.sigma_nmad(np.c_[z, z], np.c_[z_pred, z])
        assert two.shape == (2,) and two[1] == 0.0


class TestPowerSpectrum:
    def test_white_noise_is_flat(self):
        images = np.random.default_rng(0).standard_normal((50, 2, 32, 32))
        power, k = metrics.radial_power_spectrum(images, return_frequencies=True)
        assert power.shape == (50, 2, 16) and k.shape == (16,)
        # the DC bin averages a single frequency: skip it
        np.testing.assert_allclose(power.mean(axis=0)[:, 1:], 1.0, atol=0.15)

    def test_single_mode_lands_in_its_bin(self):
        _, xx = np.mgrid[:32, :32]
        wave = np.cos(2 * np.pi * 4 * xx / 32)[None, None]  # |k| = 0.125 cycles / pixel
        power = metrics.radial_power_spectrum(wave, n_bins=8)
        assert np.argmax(power[0, 0]) == 2  # bins of width 1/16: [0.125, 0.1875) is the third

    def test_error_of_a_blurred_reconstruction(self):
        rng = np.random.default_rng(0)
        truth = rng.standard_normal((10, 3, 16, 16))
        assert np.allclose(metrics.power_spectrum_error(truth, truth), 0.0)
        blurred = 0.5 * (truth + np.roll(truth, 1, axis=-1))
        error = metrics.power_spectrum_error(truth, blurred)
        assert error.shape == (3, 8)
        assert (error[:, -1] < error[:, 0]).all()
        with pytest.raises(ValueError, match="differ"):
            metrics.power_spectrum_error(truth, truth[:, :2])
