"""Convolutional variational autoencoder: conv encoder -> diagonal Gaussian, conv decoder."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["ConvVAE", "gaussian_kl", "gaussian_log_likelihood"]


def gaussian_log_likelihood(x, mean, log_sigma, weight):
    """Per-image ``sum_pixels weight * log N(x | mean, sigma^2)``.

    Parameters
    ----------
    x, mean, weight : Tensor of shape (n, C, H, W)
        ``weight`` is 0 at missing pixels, which then add nothing.
    log_sigma : Tensor of shape (C,)
        Per-band log standard deviation.

    Returns
    -------
    Tensor of shape (n,)

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(1, 1, 1, 1)
    >>> float(gaussian_log_likelihood(x, x, torch.zeros(1), torch.ones_like(x)))  # doctest: +ELLIPSIS
    -0.918938...
    """
    log_sigma = log_sigma.reshape(1, -1, 1, 1)
    z = (x - mean) * torch.exp(-log_sigma)
    log_pdf = -0.5 * z**2 - log_sigma - 0.5 * math.log(2 * math.pi)
    return (weight * log_pdf).flatten(1).sum(1)


def gaussian_kl(mean, log_var):
    """Per-row KL divergence ``KL(N(mean, exp(log_var)) || N(0, I))``.

    Examples
    --------
    >>> import torch
    >>> float(gaussian_kl(torch.zeros(1, 3), torch.zeros(1, 3)))
    0.0
    """
    return 0.5 * (mean**2 + log_var.exp() - 1.0 - log_var).sum(1)


class ConvVAE(nn.Module):
    """Convolutional VAE for ``(C, H, W)`` images of any size.

    The encoder halves the resolution once per entry of ``channels`` (stride-2 3x3
    convolutions, GroupNorm, SiLU) and maps to the mean and log-variance of a diagonal
    Gaussian over ``n_latents``; the decoder mirrors it with transposed convolutions. H and
    W are zero-padded (centred) up to a multiple of ``2 ** len(channels)`` on the way in and
    cropped back on the way out, so any image shape works.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``.
    n_latents : int
    channels : tuple of int
        Feature maps per resolution level.
    log_sigma : float
        Per-band log standard deviation of the Gaussian likelihood: fixed, or the starting
        value of the running estimate when ``learn_sigma``.
    learn_sigma : bool
        Estimate sigma per band in closed form: in training, each batch uses its own
        maximum-likelihood value, the RMS residual per band (the "optimal sigma-VAE" of
        Rybkin et al. 2021; its gradient equals that of a learned sigma at its optimum, with
        no lag), and an exponential running average of it (``sigma_momentum``) is kept in
        the ``log_sigma`` buffer for evaluation.
    sigma_momentum : float
        Weight of each training batch in the running average.

    Examples
    --------
    >>> import torch
    >>> vae = ConvVAE((3, 10, 12), 4, channels=(8, 16))
    >>> mean, log_var = vae.encode(torch.zeros(2, 3, 10, 12))
    >>> mean.shape, vae.decode(mean).shape
    (torch.Size([2, 4]), torch.Size([2, 3, 10, 12]))
    """

    def __init__(self, image_shape, n_latents, channels=(32, 64, 128), log_sigma=0.0,
                 learn_sigma=True, sigma_momentum=0.05):
        super().__init__()
        c, h, w = image_shape
        self.image_shape = tuple(image_shape)
        factor = 2 ** len(channels)
        self.padded = (math.ceil(h / factor) * factor, math.ceil(w / factor) * factor)
        self.bottom = (self.padded[0] // factor, self.padded[1] // factor)
        n_bottom = channels[-1] * self.bottom[0] * self.bottom[1]

        layers, prev = [], c
        for ch in channels:
            layers += [nn.Conv2d(prev, ch, 3, stride=2, padding=1), _norm(ch), nn.SiLU()]
            prev = ch
        self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(n_bottom, 2 * n_latents))

        self.project = nn.Linear(n_latents, n_bottom)
        layers = []
        for ch_in, ch_out in zip(channels[::-1], channels[::-1][1:] + channels[:1]):
            layers += [nn.SiLU(), nn.ConvTranspose2d(ch_in, ch_out, 4, stride=2, padding=1),
                       _norm(ch_out)]
        self.decoder = nn.Sequential(*layers, nn.SiLU(), nn.Conv2d(channels[0], c, 3, padding=1))

        self.learn_sigma = learn_sigma
        self.sigma_momentum = sigma_momentum
        self.register_buffer("log_sigma", torch.full((c,), float(log_sigma)))

    def _offsets(self):
        _, h, w = self.image_shape
        return (self.padded[0] - h) // 2, (self.padded[1] - w) // 2

    def encode(self, x):
        """Posterior ``(mean, log_var)``, each of shape (n, n_latents)."""
        _, h, w = self.image_shape
        top, left = self._offsets()
        pad = (left, self.padded[1] - w - left, top, self.padded[0] - h - top)
        mean, log_var = self.encoder(F.pad(x, pad)).chunk(2, dim=1)
        return mean, log_var.clamp(-20.0, 10.0)

    def decode(self, z):
        """Mean image of the likelihood, shape (n, C, H, W)."""
        _, h, w = self.image_shape
        top, left = self._offsets()
        x = self.project(z).reshape(len(z), -1, *self.bottom)
        return self.decoder(x)[:, :, top : top + h, left : left + w]

    def forward(self, x):
        return self.encode(x)

    def elbo_terms(self, x, weight, eps=None, reference=None):
        """Per-image Gaussian log-likelihood and KL term.

        Parameters
        ----------
        x, weight : Tensor of shape (n, C, H, W)
        eps : Tensor of shape (n, n_latents) or None
            Standard-normal noise for the reparametrised sample ``mean + std * eps``;
            None decodes the posterior mean (deterministic).
        reference : Tensor of shape (n, C, H, W) or None
            What the decoder should rebuild from the latents of ``x`` (default ``x``).

        Returns
        -------
        log_likelihood, kl : Tensor of shape (n,)
        """
        mean, log_var = self.encode(x)
        z = mean if eps is None else mean + torch.exp(0.5 * log_var) * eps
        recon = self.decode(z).float()
        goal = x if reference is None else reference
        log_sigma = self.log_sigma
        if self.learn_sigma and self.training:
            log_sigma = self._batch_log_sigma(goal, recon, weight)
        return gaussian_log_likelihood(goal, recon, log_sigma, weight), gaussian_kl(
            mean.float(), log_var.float()
        )

    @torch.no_grad()
    def _batch_log_sigma(self, x, recon, weight):
        """Per-band log RMS residual of the batch; updates the running ``log_sigma``."""
        dims = (0, 2, 3)
        mse = (weight * (x - recon) ** 2).sum(dims) / weight.sum(dims).clamp(min=1.0)
        batch = 0.5 * torch.log(mse.clamp(min=math.exp(-14.0)))
        self.log_sigma.lerp_(batch, self.sigma_momentum)
        return batch


def _norm(channels):
    return nn.GroupNorm(math.gcd(8, channels), channels)
