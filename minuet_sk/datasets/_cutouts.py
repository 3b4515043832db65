"""Cutting images to a common size, shared by the readers of real images."""

from __future__ import annotations

import numpy as np

__all__ = ["center_crop"]


def center_crop(images, size, *, fill=np.nan):
    """Centre-crop or pad the last two axes of ``images`` to ``size`` x ``size``.

    Padding uses ``fill`` (NaN: the added pixels are missing data). The crop starts at
    ``(n - size) // 2`` and the padding puts the input at ``(size - n) // 2``, so the
    centre pixel stays the centre pixel for odd sizes.

    Parameters
    ----------
    images : ndarray of shape (..., H, W)
    size : int
    fill : float

    Returns
    -------
    ndarray of shape (..., size, size), float32

    Examples
    --------
    >>> import numpy as np
    >>> center_crop(np.arange(25.0).reshape(5, 5), 3)[1].tolist()
    [11.0, 12.0, 13.0]
    >>> center_crop(np.ones((1, 1)), 3)[0].tolist()
    [nan, nan, nan]
    """
    images = np.asarray(images)
    out = np.full(images.shape[:-2] + (size, size), fill, dtype=np.float32)
    src, dst = [], []
    for n in images.shape[-2:]:
        if n >= size:
            start = (n - size) // 2
            src.append(slice(start, start + size))
            dst.append(slice(0, size))
        else:
            start = (size - n) // 2
            src.append(slice(0, n))
            dst.append(slice(start, start + n))
    out[(..., *dst)] = images[(..., *src)]
    return out


# --------------------------------------------------------------------------- FITS cutouts
