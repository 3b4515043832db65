"""Random orientations of image batches: rotations by any angle and mirror flips.

Rotations are interpolated bilinearly with ``affine_grid``/``grid_sample``; the corners that
a rotation brings in from outside the stamp are filled by reflection, which for sky-dominated
cutouts looks like more sky.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["orient", "random_orientation_matrices"]


def random_orientation_matrices(n, generator=None, device=None):
    """``(n, 2, 3)`` affine matrices of uniform random angles and a mirror flip half the time.

    Examples
    --------
    >>> import torch
    >>> theta = random_orientation_matrices(4, torch.Generator().manual_seed(0))
    >>> theta.shape, bool(torch.allclose(theta[:, :, :2].det().abs(), torch.ones(4)))
    (torch.Size([4, 2, 3]), True)
    """
    angle = 2 * math.pi * torch.rand(n, generator=generator, device=device)
    flip = 1.0 - 2.0 * (torch.rand(n, generator=generator, device=device) < 0.5).float()
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(angle)
    return torch.stack([torch.stack([cos * flip, -sin, zero], -1),
                        torch.stack([sin * flip, cos, zero], -1)], 1)


def orient(images, theta):
    """Resample ``images`` ``(n, C, H, W)`` through the affine matrices ``theta``.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> quarter = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]])
    >>> bool(torch.allclose(orient(x, quarter), torch.rot90(x, 1, (2, 3)), atol=1e-5))
    True
    """
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection",
                         align_corners=False)
