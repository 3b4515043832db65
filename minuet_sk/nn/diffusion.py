"""Gaussian diffusion: noise schedules, the training loss and DDIM sampling.

Notation of Ho et al. 2020 (DDPM) and Song et al. 2021 (DDIM): ``alpha_bar_t`` is
``alphas_cumprod[t]``, ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps``, and
``v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0`` (Salimans & Ho 2022).
Schedules are computed in float64 and kept as float32 buffers named after their formula.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = [
    "GaussianDiffusion",
    "cosine_beta_schedule",
    "ddim_step",
    "ddim_timesteps",
    "linear_beta_schedule",
]


def linear_beta_schedule(diffusion_steps, beta_start=1e-4, beta_end=0.02):
    """DDPM's linear betas, rescaled so that any number of steps spans the same noise.

    Examples
    --------
    >>> betas = linear_beta_schedule(1000)
    >>> float(betas[0]), float(betas[-1])
    (0.0001, 0.02)
    """
    scale = 1000.0 / diffusion_steps
    return np.linspace(scale * beta_start, scale * beta_end, diffusion_steps, dtype=np.float64)


def cosine_beta_schedule(diffusion_steps, s=0.008, max_beta=0.999):
    """Cosine schedule of Nichol & Dhariwal 2021: ``alpha_bar(t) = cos^2((t/T + s)/(1 + s) pi/2)``.

    Examples
    --------
    >>> betas = cosine_beta_schedule(1000)
    >>> round(float(betas[0]), 8), float(betas[-1])
    (4.128e-05, 0.999)
    """
    steps = np.arange(diffusion_steps + 1, dtype=np.float64) / diffusion_steps
    alpha_bar = np.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return np.clip(1.0 - alpha_bar[1:] / alpha_bar[:-1], 0.0, max_beta)


def ddim_timesteps(diffusion_steps, sampling_steps):
    """Decreasing sub-sequence of ``sampling_steps`` times from ``T - 1`` down to 0.

    Examples
    --------
    >>> ddim_timesteps(1000, 5).tolist()
    [999, 749, 500, 250, 0]
    """
    if not 1 <= sampling_steps <= diffusion_steps:
        raise ValueError(f"sampling_steps must be in [1, {diffusion_steps}]; got {sampling_steps}.")
    times = np.linspace(diffusion_steps - 1, 0, sampling_steps).round().astype(np.int64)
    return torch.from_numpy(times)


def _take(buffer, t, like):
    """``buffer[t]`` shaped to broadcast against a batch ``like``."""
    return buffer[t].reshape(-1, *([1] * (like.ndim - 1)))


def ddim_step(eps, x0, alpha_bar_prev, alpha_bar_t, eta=0.0, generator=None):
    """One DDIM update from time ``t`` to the previous time in the sub-sequence.

    Parameters
    ----------
    eps, x0 : Tensor
        The model's noise and clean-image estimates at time ``t`` (see
        :meth:`GaussianDiffusion.to_eps_and_x0`).
    alpha_bar_prev, alpha_bar_t : Tensor
        ``alpha_bar`` at the previous (less noisy) time and at ``t``; broadcastable.
    eta : float
        0 is the deterministic DDIM; 1 matches the DDPM posterior variance.
    generator : torch.Generator or None
        Source of the fresh noise when ``eta > 0``.

    Returns
    -------
    Tensor
        ``x_{t-1}``.

    Examples
    --------
    >>> import torch
    >>> x0 = torch.ones(1, 1, 2, 2)
    >>> ddim_step(torch.zeros_like(x0), x0, torch.tensor(1.0), torch.tensor(0.5)).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """
    # (16) sigma_t = eta sqrt((1 - a_{t-1}) / (1 - a_t)) sqrt(1 - a_t / a_{t-1})
    sigma = eta * torch.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t)
                             * (1 - alpha_bar_t / alpha_bar_prev))
    # (12) x_{t-1} = sqrt(a_{t-1}) "predicted x_0"
    #              + sqrt(1 - a_{t-1} - sigma_t^2) "direction pointing to x_t"
    #              + sigma_t "random noise"
    direction = torch.sqrt((1 - alpha_bar_prev - sigma**2).clamp_min(0)) * eps
    x_prev = torch.sqrt(alpha_bar_prev) * x0 + direction
    if eta > 0:
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        x_prev = x_prev + sigma * noise
    return x_prev


class GaussianDiffusion(nn.Module):
    """Noise schedule, forward process, training loss and DDIM sampler.

    Parameters
    ----------
    diffusion_steps : int
        Number of training noise levels ``T``.
    noise_schedule : {"linear", "cosine"}
        ``"linear"``: betas from 1e-4 to 0.02 (DDPM, Minuet); ``"cosine"``: Nichol & Dhariwal.
    prediction : {"epsilon", "v"}
        What the network predicts.

    Examples
    --------
    >>> import torch
    >>> diffusion = GaussianDiffusion(1000, "linear")
    >>> round(float(diffusion.sqrt_alphas_cumprod[0]), 6)
    0.99995
    >>> x0 = torch.zeros(2, 1, 4, 4)
    >>> diffusion.q_sample(x0, torch.tensor([0, 999]), torch.ones_like(x0)).shape
    torch.Size([2, 1, 4, 4])
    """

    def __init__(self, diffusion_steps=1000, noise_schedule="cosine", prediction="epsilon"):
        super().__init__()
        schedules = {"linear": linear_beta_schedule, "cosine": cosine_beta_schedule}
        if noise_schedule not in schedules:
            raise ValueError(f"noise_schedule must be one of {sorted(schedules)}; "
                             f"got {noise_schedule!r}.")
        if prediction not in ("epsilon", "v"):
            raise ValueError(f"prediction must be 'epsilon' or 'v'; got {prediction!r}.")
        self.diffusion_steps = int(diffusion_steps)
        self.prediction = prediction
        betas = schedules[noise_schedule](self.diffusion_steps)
        alphas_cumprod = np.cumprod(1.0 - betas)
        for name, value in {
            "betas": betas,
            "alphas_cumprod": alphas_cumprod,
            "sqrt_alphas_cumprod": np.sqrt(alphas_cumprod),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - alphas_cumprod),
        }.items():
            self.register_buffer(name, torch.from_numpy(value).float(), persistent=False)

    def q_sample(self, x0, t, noise):
        """Forward process: ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) noise``."""
        return (_take(self.sqrt_alphas_cumprod, t, x0) * x0
                + _take(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise)

    def target(self, x0, t, noise):
        """What the network should output: ``noise`` or ``v``."""
        if self.prediction == "epsilon":
            return noise
        return (_take(self.sqrt_alphas_cumprod, t, x0) * noise
                - _take(self.sqrt_one_minus_alphas_cumprod, t, x0) * x0)

    def to_eps_and_x0(self, model_output, x_t, t):
        """Turn the network output at ``(x_t, t)`` into noise and clean-image estimates."""
        sqrt_a = _take(self.sqrt_alphas_cumprod, t, x_t)
        sqrt_1ma = _take(self.sqrt_one_minus_alphas_cumprod, t, x_t)
        if self.prediction == "epsilon":
            eps = model_output
            return eps, (x_t - sqrt_1ma * eps) / sqrt_a
        v = model_output
        return sqrt_1ma * x_t + sqrt_a * v, sqrt_a * x_t - sqrt_1ma * v

    def loss(self, model, x0, t, noise, weights=None, reduction="mean"):
        """Weighted mean squared error of ``model(x_t, t)`` against :meth:`target`.

        Parameters
        ----------
        model : callable
            ``model(x_t, t)`` -> prediction of the shape of ``x0``.
        x0 : Tensor of shape (B, C, H, W)
            Clean images (missing pixels already imputed).
        t : LongTensor of shape (B,)
        noise : Tensor like ``x0``
        weights : Tensor broadcastable to ``x0`` or None
            Per-pixel weights (0 at missing pixels); the loss is
            ``sum(w * err^2) / sum(w)``. None weighs every pixel equally.
        reduction : {"mean", "none"}
            ``"none"`` returns the per-pixel ``w * err^2`` (for per-image sums).
        """
        err = (model(self.q_sample(x0, t, noise), t) - self.target(x0, t, noise)) ** 2
        if weights is None:
            return err if reduction == "none" else err.mean()
        weights = torch.broadcast_to(weights, err.shape)
        if reduction == "none":
            return weights * err
        return (weights * err).sum() / weights.sum().clamp_min(1e-12)

    @torch.no_grad()
    def sample(self, model, shape, *, sampling_steps=50, eta=0.0, generator=None,
               device=None, clip_x0=None):
        """DDIM: start from Gaussian noise and denoise in ``sampling_steps`` steps.

        ``model(x_t, t)`` is called with ``t`` a LongTensor of shape ``(B,)``. All noise
        comes from ``generator``, so a seeded generator gives the same images.
        ``clip_x0`` (a bound or None) clamps the clean-image estimate at every step: with
        epsilon prediction ``x_0 = (x_t - sqrt(1 - a) eps) / sqrt(a)`` amplifies errors by
        ``1 / sqrt(a)``, which reaches 2e4 at the end of the cosine schedule.
        """
        x_t = torch.randn(shape, generator=generator, device=device)
        times = ddim_timesteps(self.diffusion_steps, sampling_steps).to(x_t.device)
        one = torch.ones((), device=x_t.device)
        for i, t in enumerate(times):
            t_batch = t.expand(shape[0])
            eps, x0 = self.to_eps_and_x0(model(x_t, t_batch).float(), x_t, t_batch)
            if clip_x0 is not None:
                x0 = x0.clamp(-clip_x0, clip_x0)
                eps = (x_t - _take(self.sqrt_alphas_cumprod, t_batch, x_t) * x0) / _take(
                    self.sqrt_one_minus_alphas_cumprod, t_batch, x_t)
            alpha_bar_prev = self.alphas_cumprod[times[i + 1]] if i + 1 < len(times) else one
            x_t = ddim_step(eps, x0, alpha_bar_prev, self.alphas_cumprod[t], eta, generator)
        return x_t
