import numpy as np
import pytest
import torch

from minuet_sk.nn.diffusion import (
    GaussianDiffusion,
    cosine_beta_schedule,
    ddim_timesteps,
    linear_beta_schedule,
)


class TestSchedules:
    def test_linear_golden_values(self):
        diffusion = GaussianDiffusion(1000, "linear")
        assert diffusion.betas.dtype == torch.float32
        np.testing.assert_allclose(diffusion.betas[[0, 500, 999]].numpy(),
                                   [1e-4, 0.01005996, 0.02], rtol=1e-6)
        np.testing.assert_allclose(diffusion.alphas_cumprod[[0, 499, 999]].numpy(),
                                   [0.9999, 0.0785872429, 4.0358298e-05], rtol=1e-5)
        np.testing.assert_allclose(diffusion.sqrt_one_minus_alphas_cumprod[999].item(),
                                   0.99997982, rtol=1e-6)

    def test_cosine_golden_values(self):
        diffusion = GaussianDiffusion(1000, "cosine")
        np.testing.assert_allclose(diffusion.betas[[0, 999]].numpy(), [4.1284225e-05, 0.999],
                                   rtol=1e-5)
        np.testing.assert_allclose(diffusion.alphas_cumprod[[0, 499]].numpy(),
                                   [0.99995872, 0.49384359], rtol=1e-6)

    @pytest.mark.parametrize("schedule", [linear_beta_schedule, cosine_beta_schedule])
    def test_float64_and_monotone(self, schedule):
        betas = schedule(1000)
        assert betas.dtype == np.float64
        alpha_bar = np.cumprod(1 - betas)
        assert np.all(np.diff(alpha_bar) < 0) and 0 < alpha_bar[-1] < alpha_bar[0] < 1

    def test_linear_rescaled_for_fewer_steps(self):
        # the end-point noise level stays close when T changes
        a100 = np.cumprod(1 - linear_beta_schedule(100))[-1]
        a1000 = np.cumprod(1 - linear_beta_schedule(1000))[-1]
        assert a100 < 1e-3 and a1000 < 1e-3

    def test_ddim_timesteps(self):
        assert ddim_timesteps(1000, 1).tolist() == [999]
        times = ddim_timesteps(1000, 50)
        assert times[0] == 999 and times[-1] == 0 and torch.all(times[1:] < times[:-1])
        with pytest.raises(ValueError, match="sampling_steps"):
            ddim_timesteps(10, 11)

    def test_bad_names(self):
        with pytest.raises(ValueError, match="noise_schedule"):
            GaussianDiffusion(10, "quadratic")
        with pytest.raises(ValueError, match="prediction"):
            GaussianDiffusion(10, "linear", "x0")


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("prediction", ["epsilon", "v"])
class TestDiffusion:
    def test_eps_v_x0_round_trip(self, schedule, prediction):
        diffusion = GaussianDiffusion(1000, schedule, prediction).double()
        g = torch.Generator().manual_seed(0)
        x0 = torch.randn(6, 2, 3, 3, generator=g, dtype=torch.float64)
        noise = torch.randn(6, 2, 3, 3, generator=g, dtype=torch.float64)
        t = torch.tensor([0, 1, 200, 500, 900, 998])
        x_t = diffusion.q_sample(x0, t, noise)
        eps, x0_hat = diffusion.to_eps_and_x0(diffusion.target(x0, t, noise), x_t, t)
        torch.testing.assert_close(eps, noise)
        torch.testing.assert_close(x0_hat, x0)

    @pytest.mark.parametrize("eta", [0.0, 1.0])
    def test_ddim_with_oracle_recovers_x0(self, schedule, prediction, eta):
        diffusion = GaussianDiffusion(1000, schedule, prediction)
        x0 = torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(1))

        def oracle(x_t, t):  # the exact target given the true x0
            sqrt_a = diffusion.sqrt_alphas_cumprod[t].reshape(-1, 1, 1, 1)
            sqrt_1ma = diffusion.sqrt_one_minus_alphas_cumprod[t].reshape(-1, 1, 1, 1)
            noise = (x_t - sqrt_a * x0) / sqrt_1ma
            return diffusion.target(x0, t, noise)

        g = torch.Generator().manual_seed(2)
        out = diffusion.sample(oracle, x0.shape, sampling_steps=20, eta=eta, generator=g)
        torch.testing.assert_close(out, x0, atol=2e-3, rtol=0)

    def test_sampling_reproducible_with_generator(self, schedule, prediction):
        diffusion = GaussianDiffusion(100, schedule, prediction)

        def model(x_t, t):
            return 0.5 * x_t

        def run(seed):
            g = torch.Generator().manual_seed(seed)
            return diffusion.sample(model, (2, 1, 3, 3), sampling_steps=10, eta=0.5,
                                    generator=g, clip_x0=5.0)

        torch.testing.assert_close(run(0), run(0), rtol=0, atol=0)
        assert not torch.equal(run(0), run(1))


class TestLoss:
    def test_weighted_loss_ignores_zero_weight_pixels(self):
        diffusion = GaussianDiffusion(100, "linear")
        x0 = torch.zeros(2, 1, 2, 2)
        t = torch.tensor([10, 50])
        noise = torch.ones_like(x0)

        def model(x_t, t):  # perfect except one pixel
            out = torch.ones_like(x_t)
            out[0, 0, 0, 0] = 100.0
            return out

        weights = torch.ones_like(x0)
        assert diffusion.loss(model, x0, t, noise, weights) > 1.0
        weights[0, 0, 0, 0] = 0.0
        assert diffusion.loss(model, x0, t, noise, weights) == 0.0

    def test_no_weights_is_equal_weights(self):
        diffusion = GaussianDiffusion(100, "cosine", "v")
        x0, noise = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
        t = torch.tensor([1, 40, 99])
        model = lambda x_t, t: 0.5 * x_t
        ones = torch.ones(3, 1, 4, 4)
        torch.testing.assert_close(diffusion.loss(model, x0, t, noise),
                                   diffusion.loss(model, x0, t, noise, ones))
        torch.testing.assert_close(diffusion.loss(model, x0, t, noise, reduction="none"),
                                   diffusion.loss(model, x0, t, noise, ones, reduction="none"))

    def test_loss_has_gradients(self):
        diffusion = GaussianDiffusion(100, "cosine", "v")
        scale = torch.nn.Parameter(torch.tensor(0.3))
        x0 = torch.randn(4, 1, 2, 2)
        loss = diffusion.loss(lambda x_t, t: scale * x_t, x0, torch.tensor([1, 2, 50, 99]),
                              torch.randn_like(x0))
        loss.backward()
        assert scale.grad is not None and torch.isfinite(scale.grad)



def test_v_prediction_keeps_x0_estimate_stable_at_high_noise():
    """Why MinuetEncoder predicts v: at the first DDIM step (t = T - 1, cosine) a 1% error of
    the network stays ~1% in the clean-image estimate with v, but epsilon's is divided by
    sqrt(alpha_bar) ~ 5e-5."""
    t = torch.tensor([999])
    x0, noise = torch.ones(1, 1, 2, 2), torch.randn(1, 1, 2, 2)
    errors = {}
    for prediction in ("epsilon", "v"):
        diffusion = GaussianDiffusion(1000, "cosine", prediction)
        x_t = diffusion.q_sample(x0, t, noise)
        _, x0_hat = diffusion.to_eps_and_x0(diffusion.target(x0, t, noise) + 0.01, x_t, t)
        errors[prediction] = (x0_hat - x0).abs().max().item()
    assert errors["v"] < 0.02
    assert errors["epsilon"] > 100
