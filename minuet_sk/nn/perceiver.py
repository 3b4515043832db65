"""Perceiver encoder: an image becomes a few scalars (Minuet's latents).

Patch tokens with learned positions are read by a small learnable latent array of
``n_latents`` tokens. Each of ``depth`` blocks lets the latent array cross-attend to the
patch tokens and then attend to itself; each latent token is finally projected to one
scalar. The patch tokens are not updated, so the cost grows linearly with the number of
patches (Jaegle et al. 2021, "Perceiver").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Attention, FeedForward, PatchEmbedding

__all__ = ["LatentNorm", "PerceiverEncoder"]


class LatentNorm(nn.BatchNorm1d):
    """Batch standardisation of the latents, without a learned scale or shift.

    Unbounded latents drift: in a diffusion autoencoder whose denoiser layer-normalises
    ``z * w + b``, a latent far from 0 passes on little more than its sign, its gradient
    fades, and it freezes (measured: four of five latents with a spread of 0.03 around
    +-5 after six epochs). Fixing the scale keeps every latent in the range where its
    value matters. A single image in training mode is standardised with the running
    statistics, since a batch of one has no spread. Under ``torch.distributed`` the batch
    statistics are those of the whole global batch (summed over the processes, with
    gradients, as in ``SyncBatchNorm``, which needs a GPU), so that N processes train the
    model that one process would.

    Parameters
    ----------
    n_latents : int
        Number of latent scalars per image.

    Examples
    --------
    >>> import torch
    >>> norm = LatentNorm(2)
    >>> z = norm(torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]]))
    >>> z.mean(0).abs().max().item() < 1e-6, norm(torch.ones(1, 2)).shape
    (True, torch.Size([1, 2]))
    """

    def __init__(self, n_latents):
        super().__init__(n_latents, affine=False)

    def forward(self, z):
        if self.training and _world_size() > 1:
            return self._global_batch_norm(z)
        if self.training and z.shape[0] < 2:
            return self._with_running_statistics(z)
        return super().forward(z)

    def _with_running_statistics(self, z):
        return F.batch_norm(z, self.running_mean, self.running_var, training=False,
                            eps=self.eps)

    def _global_batch_norm(self, z):
        from torch.distributed.nn.functional import all_reduce

        # two passes (global mean, then the global sum of squared deviations): the one-pass
        # E[z^2] - E[z]^2 loses float32 digits when the latents' mean is large to their spread
        sums = all_reduce(torch.cat([z.sum(0), z.new_full((1,), len(z))]))
        count = sums[-1]
        if count < 2:  # one image in the global batch: as in forward
            return self._with_running_statistics(z)
        mean = sums[:-1] / count
        var = all_reduce(((z - mean) ** 2).sum(0)) / count
        with torch.no_grad():
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_((var * count / (count - 1)).detach(), self.momentum)
            self.num_batches_tracked += 1
        return (z - mean) / torch.sqrt(var + self.eps)


def _world_size():
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_world_size()
    return 1


class _PerceiverBlock(nn.Module):
    def __init__(self, width, n_heads, ff_width=None, dropout=0.0):
        super().__init__()
        self.norm_latents = nn.LayerNorm(width)
        self.norm_patches = nn.LayerNorm(width)
        self.cross = Attention(width, n_heads, dropout)
        self.norm_cross_ff = nn.LayerNorm(width)
        self.cross_ff = FeedForward(width, hidden=ff_width, dropout=dropout)
        self.norm_self = nn.LayerNorm(width)
        self.self_attn = Attention(width, n_heads, dropout)
        self.norm_self_ff = nn.LayerNorm(width)
        self.self_ff = FeedForward(width, hidden=ff_width, dropout=dropout)

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
    ff_width : int or None
        Hidden units of the feed-forward layers (None: ``4 * width``).
    dropout : float
        Dropout of attention weights and feed-forward outputs, in training.

    Attention runs from the latent tokens to the patches and among the latent tokens, never
    among the patches (Perceiver; Minuet's ``selfattn=False``).

    Examples
    --------
    >>> import torch
    >>> encoder = PerceiverEncoder((3, 16, 16), n_latents=5, patch_size=4, width=32,
    ...                            depth=2, n_heads=4)
    >>> encoder(torch.randn(2, 3, 16, 16)).shape
    torch.Size([2, 5])
    """

    def __init__(self, image_shape, n_latents=5, *, patch_size=6, width=128, depth=4,
                 n_heads=4, ff_width=None, dropout=0.0):
        super().__init__()
        self.patches = PatchEmbedding(image_shape, patch_size, width)
        self.latents = nn.Parameter(0.02 * torch.randn(n_latents, width))
        self.blocks = nn.ModuleList(_PerceiverBlock(width, n_heads, ff_width, dropout)
                                    for _ in range(depth))
        # no biases before the standardisation, which removes them: their gradient is zero
        # but for rounding, and Adam would turn that noise into full-size random steps
        self.norm = nn.LayerNorm(width, bias=False)
        self.head = nn.Linear(width, 1, bias=False)
        self.standardise = LatentNorm(n_latents)

    def forward(self, images):
        patches = self.patches(images)
        latents = self.latents.expand(images.shape[0], -1, -1)
        for block in self.blocks:
            latents = block(latents, patches)
        return self.standardise(self.head(self.norm(latents)).squeeze(-1))
