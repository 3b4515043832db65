"""VAEEncoder and its torch module."""

import numpy as np
import pytest
import torch

from minuet_sk import VAEEncoder
from minuet_sk.nn.vae import ConvVAE, gaussian_kl, gaussian_log_likelihood

SHAPE = (3, 12, 12)


def tiny(**kw):
    params = {
        "n_components": 3, "image_shape": SHAPE, "channels": (8, 16), "max_epochs": 2,
        "batch_size": 16, "random_state": 0, "device": "cpu",
    }
    params.update(kw)
    return VAEEncoder(**params)


# X and fitted (conftest.py)
IMAGES = {"n": 64, "shape": SHAPE, "random_state": 2}
ESTIMATOR = tiny()


class TestModule:
    @pytest.mark.parametrize("shape", [(1, 1, 5), (3, 8, 8), (2, 13, 9)])
    def test_shapes_and_gradients(self, shape):
        vae = ConvVAE(shape, 4, channels=(4, 8))
        x = torch.randn(3, *shape)
        mean, log_var = vae.encode(x)
        assert mean.shape == log_var.shape == (3, 4)
        assert vae.decode(mean).shape == (3, *shape)
        log_lik, kl = vae.elbo_terms(x, torch.ones_like(x), torch.randn(3, 4))
        (kl - log_lik).sum().backward()
        assert all(p.grad is not None for p in vae.parameters())

    def test_zero_weight_pixels_do_not_count(self):
        x = torch.randn(2, 1, 3, 3)
        weight = torch.ones_like(x)
        weight[:, :, 0, 0] = 0
        changed = x.clone()
        changed[:, :, 0, 0] = 1e6
        mean = torch.zeros_like(x)
        a = gaussian_log_likelihood(x, mean, torch.zeros(1), weight)
        b = gaussian_log_likelihood(changed, mean, torch.zeros(1), weight)
        torch.testing.assert_close(a, b)

    def test_kl_against_closed_form(self):
        mean, log_var = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, np.log(4.0)]])
        expected = 0.5 * (1.0 + (4.0 - 1.0 - np.log(4.0)))
        assert float(gaussian_kl(mean, log_var)) == pytest.approx(expected)

    def test_fixed_sigma_stays_fixed(self):
        vae = ConvVAE((1, 4, 4), 2, channels=(4,), log_sigma=-1.0, learn_sigma=False)
        x = torch.randn(5, 1, 4, 4)
        vae.elbo_terms(x, torch.ones_like(x), torch.randn(5, 2))
        assert "log_sigma" not in dict(vae.named_parameters())
        assert float(vae.log_sigma[0]) == -1.0

    def test_learned_sigma_is_the_batch_rms_residual(self):
        vae = ConvVAE((2, 4, 4), 2, channels=(4,), sigma_momentum=1.0)
        x = torch.randn(6, 2, 4, 4)
        weight = torch.ones_like(x)
        weight[:, :, 0] = 0
        vae.train()
        log_lik, _ = vae.elbo_terms(x, weight)
        recon = vae.decode(vae.encode(x)[0])
        rms = torch.sqrt((weight * (x - recon) ** 2).sum((0, 2, 3)) / weight.sum((0, 2, 3)))
        torch.testing.assert_close(vae.log_sigma.exp(), rms)
        expected = gaussian_log_likelihood(x, recon, rms.log(), weight)
        torch.testing.assert_close(log_lik, expected)
        vae.eval()
        before = vae.log_sigma.clone()
        vae.elbo_terms(x, weight)
        torch.testing.assert_close(vae.log_sigma, before)


class TestEstimator:
    def test_transform_shapes_and_names(self, fitted, X):
        Z, std = fitted.transform(X, return_std=True)
        assert Z.shape == std.shape == (64, 3)
        assert (std > 0).all()
        np.testing.assert_array_equal(fitted.transform(X), Z)
        assert fitted.get_feature_names_out().tolist() == ["vae0", "vae1", "vae2"]

    def test_inverse_transform_in_input_units(self, fitted, X):
        recon = fitted.inverse_transform(fitted.transform(X))
        assert recon.shape == (64, int(np.prod(SHAPE)))
        # decoded images live in the input's units: same order of magnitude
        assert 0.1 < recon.std() / X.std() < 10
        with pytest.raises(ValueError, match="n_components"):
            fitted.inverse_transform(np.zeros((2, 5)))

    def test_sample(self, fitted):
        a = fitted.sample(4, random_state=1)
        assert a.shape == (4, *SHAPE)
        np.testing.assert_array_equal(a, fitted.sample(4, random_state=1))
        assert not np.array_equal(a, fitted.sample(4, random_state=2))

    def test_score_is_deterministic(self, fitted, X):
        per_image = fitted.score_samples(X)
        assert per_image.shape == (64,)
        assert fitted.score(X) == fitted.score(X) == pytest.approx(per_image.mean())

    def test_training_improves_elbo(self, X):
        short = tiny(max_epochs=1, early_stopping=False).fit(X)
        long = tiny(max_epochs=25, early_stopping=False, lr=3e-3).fit(X)
        assert long.score(X) > short.score(X)
        assert long.history_[-1]["train_loss"] < long.history_[0]["train_loss"]

    def test_fixed_sigma_and_beta(self, X):
        est = tiny(sigma=0.5, beta=4.0, max_epochs=1).fit(X)
        assert float(est.net_.module_.log_sigma[0]) == pytest.approx(np.log(0.5))
        assert np.isfinite(est.score(X))

    def test_missing_pixels_are_imputed_with_the_images_own_sky(self, fitted, X):
        from minuet_sk._training.streaming import fill_missing

        with_nan = X[:4].copy()
        with_nan[:, 1, 2, 3] = np.nan
        median = fitted.band_median_.reshape(1, -1, 1, 1)
        scale = fitted.band_scale_.reshape(1, -1, 1, 1)
        standardised = ((with_nan - median) / scale).astype(np.float32)
        fill_missing(standardised, np.isnan(with_nan))
        with_sky = standardised * scale + median
        assert np.isfinite(with_sky).all()
        np.testing.assert_allclose(
            fitted.transform(with_nan), fitted.transform(with_sky), rtol=1e-5, atol=1e-6
        )

    def test_flattened_and_4d_inputs_agree(self, fitted, X):
        np.testing.assert_array_equal(
            fitted.transform(X), fitted.transform(X.reshape(len(X), -1))
        )

    def test_invalid_params(self, X):
        with pytest.raises(ValueError, match="sigma"):
            tiny(sigma=-1.0).fit(X)
        with pytest.raises(ValueError, match="likelihood"):
            tiny(likelihood="bernoulli").fit(X)
