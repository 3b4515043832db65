"""A small convolutional U-Net denoiser conditioned on the latents through adaptive group
normalisation, after DiffAE (Preechakul et al. 2022): the alternative to the transformer
denoiser of :mod:`minuet_sk.nn.denoiser`, with the same call ``denoiser(x_t, t, z)``.

Convolutions see every pixel at every level, so the output has no patch structure, and the
latents modulate every residual block: ``h = GroupNorm(h) * (1 + scale) + shift`` with
``(scale, shift)`` from the sum of the time and latent embeddings. Pure torch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import padded_size, sinusoidal_embedding

__all__ = ["UNetDenoiser"]


def _groups(channels):
    """The most groups (at most 8) that divide ``channels``."""
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class _ResBlock(nn.Module):
    """Two 3x3 convolutions with adaptive group normalisation, and a residual path."""

    def __init__(self, channels_in, channels_out, embedding_dim, dropout=0.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(channels_in), channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(_groups(channels_out), channels_out, affine=False)
        self.modulation = nn.Linear(embedding_dim, 2 * channels_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)
        self.skip = (nn.Identity() if channels_in == channels_out
                     else nn.Conv2d(channels_in, channels_out, 1))

    def forward(self, h, embedding):
        out = self.conv1(F.silu(self.norm1(h)))
        scale, shift = self.modulation(embedding)[:, :, None, None].chunk(2, dim=1)
        out = self.norm2(out) * (1 + scale) + shift
        out = self.conv2(self.dropout(F.silu(out)))
        return self.skip(h) + out


class UNetDenoiser(nn.Module):
    """Predict the noise (or ``v``) in ``x_t`` given the time ``t`` and the latents ``z``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``; ``H``, ``W`` are padded inside to a multiple of ``2 ** (levels - 1)``.
    n_latents : int
        Number of conditioning scalars.
    channels : int
        Feature maps at full resolution.
    channel_mult : tuple of int
        Multiplier of ``channels`` at each resolution level (each level halves the size).
    dropout : float
        Dropout inside the residual blocks, in training.
    pixel_fold : int
        Fold ``pixel_fold x pixel_fold`` pixel blocks into channels first
        (:func:`torch.nn.functional.pixel_unshuffle`) and back at the end: the convolutions
        run at ``1 / pixel_fold`` of the resolution (2: 4 times cheaper on a CPU).

    Examples
    --------
    >>> import torch
    >>> unet = UNetDenoiser((3, 10, 10), n_latents=5, channels=8, channel_mult=(1, 2))
    >>> x_t, t, z = torch.randn(2, 3, 10, 10), torch.tensor([3, 900]), torch.randn(2, 5)
    >>> unet(x_t, t, z).shape
    torch.Size([2, 3, 10, 10])
    """

    def __init__(self, image_shape, n_latents=5, *, channels=32, channel_mult=(1, 2, 2),
                 dropout=0.0, pixel_fold=1):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.pixel_fold = int(pixel_fold)
        in_channels = self.image_shape[0] * self.pixel_fold ** 2
        self.multiple = 2 ** (len(channel_mult) - 1) * self.pixel_fold
        self.channels = int(channels)
        embedding_dim = 4 * self.channels
        self.time_mlp = nn.Sequential(nn.Linear(self.channels, embedding_dim), nn.SiLU(),
                                      nn.Linear(embedding_dim, embedding_dim))
        self.latent_mlp = nn.Sequential(nn.Linear(n_latents, embedding_dim), nn.SiLU(),
                                        nn.Linear(embedding_dim, embedding_dim))
        self.stem = nn.Conv2d(in_channels, self.channels, 3, padding=1)
        widths = [self.channels * m for m in channel_mult]
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        previous = self.channels
        for level, width in enumerate(widths):
            self.down.append(_ResBlock(previous, width, embedding_dim, dropout))
            last = level == len(widths) - 1
            self.downsample.append(nn.Identity() if last
                                   else nn.Conv2d(width, width, 3, stride=2, padding=1))
            previous = width
        self.middle = _ResBlock(previous, previous, embedding_dim, dropout)
        self.up = nn.ModuleList()
        for width in reversed(widths):
            self.up.append(_ResBlock(previous + width, width, embedding_dim, dropout))
            previous = width
        self.out_norm = nn.GroupNorm(_groups(previous), previous)
        self.out = nn.Conv2d(previous, in_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x_t, t, z):
        height, width = x_t.shape[-2:]
        pad_h = padded_size(height, self.multiple) - height
        pad_w = padded_size(width, self.multiple) - width
        h = F.pad(x_t, (0, pad_w, 0, pad_h), mode="reflect" if min(height, width) > 1
                  and pad_h < height and pad_w < width else "constant")
        embedding = self.time_mlp(sinusoidal_embedding(t, self.channels)) + self.latent_mlp(z)
        if self.pixel_fold > 1:
            h = F.pixel_unshuffle(h, self.pixel_fold)
        h = self.stem(h)
        skips = []
        for block, downsample in zip(self.down, self.downsample):
            h = block(h, embedding)
            skips.append(h)
            h = downsample(h)
        h = self.middle(h, embedding)
        for block in self.up:
            skip = skips.pop()
            if h.shape[-2:] != skip.shape[-2:]:
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1), embedding)
        out = self.out(F.silu(self.out_norm(h)))
        if self.pixel_fold > 1:
            out = F.pixel_shuffle(out, self.pixel_fold)
        return out[..., :height, :width]
