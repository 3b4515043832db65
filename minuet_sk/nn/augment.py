"""Orientations of image batches: random rotations by any angle and mirror flips, random
turns by quarter turns and mirrors (exact), and each image's canonical frame.

Rotations are interpolated bilinearly with ``affine_grid``/``grid_sample``; the corners that
a rotation brings in from outside the stamp are filled by reflection, which for sky-dominated
cutouts looks like more sky. Quarter turns and mirrors move pixels onto pixels: no
interpolation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["canonical_orientation_matrices", "centre_window", "inverse_orientation", "orient",
           "random_dihedral_matrices", "random_orientation_matrices"]


def _turn_matrices(cos, sin, flip_x, flip_y=1.0):
    """``(n, 2, 3)`` affine matrices (for :func:`orient`): mirror x by ``flip_x`` and y by
    ``flip_y`` (each +-1), then rotate by the angle of ``cos`` and ``sin``."""
    zero = torch.zeros_like(cos)
    return torch.stack([torch.stack([cos * flip_x, -sin * flip_y, zero], -1),
                        torch.stack([sin * flip_x, cos * flip_y, zero], -1)], 1)


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
    return _turn_matrices(torch.cos(angle), torch.sin(angle), flip)


def random_dihedral_matrices(n, generator=None, device=None):
    """``(n, 2, 3)`` affine matrices of random quarter turns (0, 90, 180 or 270 degrees) and a
    mirror flip half the time: the eight symmetries of the pixel grid.

    Examples
    --------
    >>> import torch
    >>> theta = random_dihedral_matrices(5, torch.Generator().manual_seed(0))
    >>> bool(torch.equal(theta[:, :, :2].abs().sum((1, 2)), torch.full((5,), 2.0)))
    True
    """
    quarter = torch.randint(4, (n,), generator=generator, device=device)
    flip = 1.0 - 2.0 * (torch.rand(n, generator=generator, device=device) < 0.5).float()
    cos = torch.tensor([1.0, 0.0, -1.0, 0.0], device=device)[quarter]
    sin = torch.tensor([0.0, 1.0, 0.0, -1.0], device=device)[quarter]
    return _turn_matrices(cos, sin, flip)


def centre_window(height, width, fraction=0.125, device=None):
    """A round Gaussian ``(1, 1, H, W)`` about the stamp's centre, of standard deviation
    ``fraction`` times the smaller side: the weight that makes
    :func:`canonical_orientation_matrices` measure the central galaxy and not the neighbours
    near the edges.

    Examples
    --------
    >>> import torch
    >>> w = centre_window(8, 8)
    >>> w.shape, bool(torch.allclose(w, torch.rot90(w, 1, (2, 3))))  # turns leave it alone
    (torch.Size([1, 1, 8, 8]), True)
    """
    yy = torch.arange(height, device=device, dtype=torch.float32)[:, None] - (height - 1) / 2
    xx = torch.arange(width, device=device, dtype=torch.float32)[None, :] - (width - 1) / 2
    sigma = fraction * min(height, width)
    return torch.exp(-(xx**2 + yy**2) / (2 * sigma**2))[None, None]


def canonical_orientation_matrices(x, weight):
    """``(n, 2, 3)`` matrices (for :func:`~minuet_sk.nn.augment.orient`) that turn each
    image's second-moment major axis onto the x axis and then mirror it, if need be, so that
    its light is skewed towards +x and +y: a frame that every rotation and mirror image of
    the image shares (up to interpolation, and to the skew's sign where it is nearly 0).

    The moments are those of the positive part of the band sum times the first band of
    ``weight`` (e.g. the masked loss's weights, or :func:`centre_window`, which favour the
    central galaxy), about its centroid.

    Examples
    --------
    >>> import math, torch
    >>> yy, xx = torch.meshgrid(torch.arange(32.0) - 15.5, torch.arange(32.0) - 15.5,
    ...                         indexing="ij")
    >>> c, s = math.cos(0.5), math.sin(0.5)  # major axis at 0.5 rad
    >>> u, v = c * xx + s * yy, -s * xx + c * yy
    >>> x = torch.exp(-(u / 6) ** 2 - (v / 2) ** 2)[None, None]
    >>> theta = canonical_orientation_matrices(x, torch.ones_like(x))
    >>> round(math.atan2(float(theta[0, 1, 0]), float(theta[0, 0, 0])), 3)
    0.5
    """
    light = x.sum(1).clamp_min(0) * weight[:, 0]
    height, width = light.shape[-2:]
    yy = torch.arange(height, device=x.device, dtype=light.dtype)[:, None]
    xx = torch.arange(width, device=x.device, dtype=light.dtype)[None, :]
    total = light.sum((1, 2)).clamp_min(1e-12)
    cy = (light * yy).sum((1, 2)) / total
    cx = (light * xx).sum((1, 2)) / total
    dy, dx = yy - cy[:, None, None], xx - cx[:, None, None]
    ixx = (light * dx * dx).sum((1, 2)) / total
    iyy = (light * dy * dy).sum((1, 2)) / total
    ixy = (light * dx * dy).sum((1, 2)) / total
    angle = 0.5 * torch.atan2(2 * ixy, ixx - iyy)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # offsets along the turned image's axes; mirror an axis where the light's third moment
    # along it is clearly negative (a symmetric profile's is 0 up to rounding: left alone)
    flips = []
    for along in (cos[:, None, None] * dx + sin[:, None, None] * dy,
                  -sin[:, None, None] * dx + cos[:, None, None] * dy):
        skew = (light * along**3).sum((1, 2))
        scale = (light * along.abs() ** 3).sum((1, 2))
        flips.append(torch.where(skew < -1e-3 * scale, -1.0, 1.0).to(light.dtype))
    return _turn_matrices(cos, sin, *flips).to(x.dtype)


def inverse_orientation(theta):
    """The matrices that undo the rotations and mirror images ``theta`` ``(n, 2, 3)`` (no
    translation): the transposes of their orthogonal parts.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> quarter = torch.tensor([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]])
    >>> back = orient(orient(x, quarter), inverse_orientation(quarter))
    >>> bool(torch.allclose(back, x, atol=1e-5))
    True
    """
    inverse = torch.zeros_like(theta)
    inverse[:, :, :2] = theta[:, :, :2].transpose(1, 2)
    return inverse


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
