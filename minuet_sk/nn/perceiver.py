"""Perceiver encoder: an image becomes a few scalars (Minuet's latents).

Patch tokens with learned positions are read by a small learnable latent array of
``n_latents`` tokens. Each of ``depth`` blocks lets the latent array cross-attend to the
patch tokens and then attend to itself; each latent token is finally projected to one
scalar. The patch tokens are not updated, so the cost grows linearly with the number of
patches (Jaegle et al. 2021, "Perceiver").
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import Attention, FeedForward, PatchEmbedding

__all__ = ["PerceiverEncoder"]


class _PerceiverBlock(nn.Module):
    def __init__(self, width, n_heads):
        super().__init__()
        self.norm_latents = nn.LayerNorm(width)
        self.norm_patches = nn.LayerNorm(width)
        self.cross = Attention(width, n_heads)
        self.norm_cross_ff = nn.LayerNorm(width)
        self.cross_ff = FeedForward(width)
        self.norm_self = nn.LayerNorm(width)
        self.self_attn = Attention(width, n_heads)
        self.norm_self_ff = nn.LayerNorm(width)
        self.self_ff = FeedForward(width)

    def forward(self, latents, patches):
        latents = latents + self.cross(self.norm_latents(latents), self.norm_patches(patches))
        latents = latents + self.cross_ff(self.norm_cross_ff(latents))
        latents = latents + self.self_attn(self.norm_self(latents))
        return latents + self.self_ff(self.norm_self_ff(latents))


class PerceiverEncoder(nn.Module):
    """Image ``(B, C, H, W)`` -> latents ``(B, n_latents)``, one scalar per latent token.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)`` of the input; ``H``, ``W`` are padded to a multiple of ``patch_size``.
    n_latents : int
        Number of latent tokens, and so of output scalars.
    patch_size : int
        Side of the square patches.
    width : int
        Token dimension.
    depth : int
        Number of (cross-attention, self-attention) blocks.
    n_heads : int
        Attention heads; must divide ``width``.

    Examples
    --------
    >>> import torch
    >>> encoder = PerceiverEncoder((3, 16, 16), n_latents=5, patch_size=4, width=32,
    ...                            depth=2, n_heads=4)
    >>> encoder(torch.randn(2, 3, 16, 16)).shape
    torch.Size([2, 5])
    """

    def __init__(self, image_shape, n_latents=5, *, patch_size=6, width=128, depth=4,
                 n_heads=4):
        super().__init__()
        self.patches = PatchEmbedding(image_shape, patch_size, width)
        self.latents = nn.Parameter(0.02 * torch.randn(n_latents, width))
        self.blocks = nn.ModuleList(_PerceiverBlock(width, n_heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 1)

    def forward(self, images):
        patches = self.patches(images)
        latents = self.latents.expand(images.shape[0], -1, -1)
        for block in self.blocks:
            latents = block(latents, patches)
        return self.head(self.norm(latents)).squeeze(-1)
