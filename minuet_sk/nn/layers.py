"""Building blocks shared by the encoder and the denoiser: patches and attention.

Images of any ``(C, H, W)`` are zero-padded on the bottom/right up to a multiple of
``patch_size``, cut into non-overlapping patches, and put back and cropped on the way out.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Attention",
    "FeedForward",
    "PatchEmbedding",
    "PatchUnembedding",
    "padded_size",
    "sinusoidal_embedding",
]


def padded_size(size, patch_size):
    """Smallest multiple of ``patch_size`` that is at least ``size``.

    Examples
    --------
    >>> padded_size(72, 6), padded_size(1, 6), padded_size(13, 4)
    (72, 6, 16)
    """
    return -(-int(size) // int(patch_size)) * int(patch_size)


class PatchEmbedding(nn.Module):
    """Image ``(B, C, H, W)`` -> patch tokens ``(B, n_patches, width)`` with learned positions.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``; ``H`` and ``W`` need not be multiples of ``patch_size``.
    patch_size : int
        Side of the square patches.
    width : int
        Token dimension.

    Examples
    --------
    >>> import torch
    >>> embed = PatchEmbedding((3, 10, 10), patch_size=4, width=8)
    >>> embed(torch.zeros(2, 3, 10, 10)).shape  # 10 -> 12 = 3 x 3 patches
    torch.Size([2, 9, 8])
    """

    def __init__(self, image_shape, patch_size, width):
        super().__init__()
        channels, height, width_px = image_shape
        self.image_shape = tuple(int(s) for s in image_shape)
        self.patch_size = int(patch_size)
        self.grid = (padded_size(height, patch_size) // patch_size,
                     padded_size(width_px, patch_size) // patch_size)
        self.proj = nn.Conv2d(channels, width, kernel_size=patch_size, stride=patch_size)
        self.position = nn.Parameter(0.02 * torch.randn(1, self.grid[0] * self.grid[1], width))

    def forward(self, images):
        _, height, width_px = self.image_shape
        pad_h = self.grid[0] * self.patch_size - height
        pad_w = self.grid[1] * self.patch_size - width_px
        images = F.pad(images, (0, pad_w, 0, pad_h))
        tokens = self.proj(images).flatten(2).transpose(1, 2)
        return tokens + self.position


class PatchUnembedding(nn.Module):
    """Patch tokens ``(B, n_patches, width)`` -> image ``(B, C, H, W)`` (the inverse layout).

    Examples
    --------
    >>> import torch
    >>> unembed = PatchUnembedding((3, 10, 10), patch_size=4, width=8)
    >>> unembed(torch.zeros(2, 9, 8)).shape
    torch.Size([2, 3, 10, 10])
    """

    def __init__(self, image_shape, patch_size, width):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.patch_size = int(patch_size)
        channels = self.image_shape[0]
        self.grid = tuple(padded_size(s, patch_size) // patch_size for s in self.image_shape[1:])
        self.proj = nn.Linear(width, channels * patch_size * patch_size)

    def forward(self, tokens):
        channels, height, width_px = self.image_shape
        p, (gh, gw) = self.patch_size, self.grid
        patches = self.proj(tokens).reshape(-1, gh, gw, channels, p, p)
        images = patches.permute(0, 3, 1, 4, 2, 5).reshape(-1, channels, gh * p, gw * p)
        return images[:, :, :height, :width_px]


class Attention(nn.Module):
    """Multi-head attention of ``queries`` to ``context`` with ``scaled_dot_product_attention``.

    ``context=None`` is self-attention.

    Examples
    --------
    >>> import torch
    >>> attn = Attention(8, n_heads=2)
    >>> attn(torch.zeros(2, 5, 8), torch.zeros(2, 7, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, width, n_heads, dropout=0.0):
        super().__init__()
        if width % n_heads:
            raise ValueError(f"width={width} must be a multiple of n_heads={n_heads}.")
        self.n_heads = int(n_heads)
        self.dropout = float(dropout)  # of the attention weights, in training
        self.to_q = nn.Linear(width, width)
        self.to_kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)

    def forward(self, queries, context=None):
        context = queries if context is None else context
        batch, n_q, width = queries.shape
        heads = self.n_heads

        def split(x):
            return x.reshape(batch, -1, heads, width // heads).transpose(1, 2)

        keys, values = self.to_kv(context).chunk(2, dim=-1)
        mixed = F.scaled_dot_product_attention(
            split(self.to_q(queries)), split(keys), split(values),
            dropout_p=self.dropout if self.training else 0.0)
        return self.out(mixed.transpose(1, 2).reshape(batch, n_q, width))


class FeedForward(nn.Sequential):
    """Two-layer GELU MLP of hidden size ``hidden`` (default ``mult * width``), with dropout
    on its output when ``dropout > 0``.

    Examples
    --------
    >>> import torch
    >>> FeedForward(8)(torch.zeros(3, 8)).shape
    torch.Size([3, 8])
    >>> FeedForward(8, hidden=32, dropout=0.1)[0].out_features
    32
    """

    def __init__(self, width, mult=4, *, hidden=None, dropout=0.0):
        hidden = mult * width if hidden is None else int(hidden)
        layers = [nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width)]
        if dropout > 0:  # appended: the Linear layers keep their state-dict names
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


def sinusoidal_embedding(timesteps, dim, max_period=10_000.0):
    """Transformer sinusoidal embedding of (float) diffusion times, shape ``(B, dim)``.

    Examples
    --------
    >>> import torch
    >>> sinusoidal_embedding(torch.tensor([0.0, 10.0]), 6).shape
    torch.Size([2, 6])
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=timesteps.device) / half)
    angles = timesteps.float()[:, None] * freqs[None]
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    return F.pad(embedding, (0, dim - 2 * half))
