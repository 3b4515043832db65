"""Reading images in batches from arrays that may not fit in memory.

An image source is either an in-memory NumPy array (validated once, read by fancy indexing)
or an out-of-core array-like (``np.memmap``, ``h5py.Dataset``, Zarr, the lazy Galaxy10
reader: anything with ``shape`` and slicing), read in contiguous chunks and checked batch by
batch. :class:`ImageBatches` turns either into standardised ``(images, pixel_weights)``
batches for torch, shuffled by a ``torch.Generator`` when one is given.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import IterableDataset

from ._validation import check_image_batch

__all__ = ["ImageBatches", "band_statistics", "is_out_of_core", "split_blocks"]

# Out-of-core arrays are read this many images at a time (about 60 MB of 3x72x72 float32).
CHUNK_IMAGES = 1024


def is_out_of_core(X):
    """True for arrays read lazily in chunks (memmap, h5py, Zarr, ...), False for in-memory.

    Examples
    --------
    >>> import numpy as np
    >>> is_out_of_core(np.zeros((2, 3))), is_out_of_core([[1.0]])
    (False, False)
    """
    if isinstance(X, np.memmap):
        return True
    if isinstance(X, (np.ndarray, list, tuple, torch.Tensor)) or sp.issparse(X):
        return False
    if hasattr(X, "iloc") or hasattr(X, "__array_namespace__"):
        return False
    shape = getattr(X, "shape", None)
    return shape is not None and len(shape) in (2, 4) and hasattr(X, "__getitem__")


def split_blocks(n, validation_fraction, out_of_core, rng):
    """Split ``range(n)`` into train and validation blocks of contiguous indices.

    In-memory data split image by image; out-of-core data in blocks of up to
    :data:`CHUNK_IMAGES` images (at least 50 blocks when possible), so that each read is
    contiguous on disk.

    Parameters
    ----------
    n : int
    validation_fraction : float
    out_of_core : bool
    rng : numpy.random.Generator

    Returns
    -------
    train, valid : list of (start, stop)
        ``valid`` is empty when the fraction leaves no image (or every image) to validate.

    Examples
    --------
    >>> import numpy as np
    >>> train, valid = split_blocks(10, 0.2, False, np.random.default_rng(0))
    >>> len(train), len(valid)
    (8, 2)
    """
    size = max(1, min(CHUNK_IMAGES, n // 50)) if out_of_core else 1
    blocks = [(s, min(s + size, n)) for s in range(0, n, size)]
    n_valid = round(validation_fraction * len(blocks))
    if n_valid == 0 or n_valid >= len(blocks):
        return blocks, []
    order = rng.permutation(len(blocks))
    valid = sorted(blocks[i] for i in order[:n_valid])
    train = sorted(blocks[i] for i in order[n_valid:])
    return train, valid


def _read(source, blocks, image_shape, validated):
    """Read the images of ``blocks`` from ``source``: (images, missing-pixel mask)."""
    if validated:
        if len(blocks) == 1:
            images = source[blocks[0][0] : blocks[0][1]]
        else:
            images = source[np.concatenate([np.arange(a, b) for a, b in blocks])]
        return images, np.isnan(images)
    parts = [check_image_batch(source[a:b], image_shape) for a, b in blocks]
    images = np.concatenate([p[0] for p in parts])
    missing = np.concatenate(
        [p[1] if p[1] is not None else np.zeros(p[0].shape, bool) for p in parts]
    )
    return images, missing


def band_statistics(source, blocks, image_shape, validated, max_images=2048):
    """Per-band median and scale of the finite pixels of up to ``max_images`` images.

    The images are read from evenly spaced blocks. The scale is the standard deviation of
    the pixels about the median (1 where it is zero or undefined): for galaxy cutouts the
    MAD measures only the sky noise and would blow up the galaxies themselves.

    Returns
    -------
    median, scale : ndarray of shape (C,), float32

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2)
    >>> med, scale = band_statistics(x, [(0, 2)], (1, 2, 2), True)
    >>> float(med[0])
    3.5
    """
    n_total = sum(b - a for a, b in blocks)
    step = max(1, n_total // max_images)
    picked, count = [], 0
    for a, b in blocks:
        for s in range(a, b, step * CHUNK_IMAGES):
            stop = min(b, s + min(CHUNK_IMAGES, max_images - count))
            picked.append((s, stop))
            count += stop - s
            if count >= max_images:
                break
        if count >= max_images:
            break
    images, _ = _read(source, picked, image_shape, validated)
    per_band = np.moveaxis(images, 1, 0).reshape(images.shape[1], -1).astype(np.float64)
    median = np.zeros(per_band.shape[0])
    scale = np.ones(per_band.shape[0])
    for c, band in enumerate(per_band):
        band = band[np.isfinite(band)]
        if band.size:
            median[c] = np.median(band)
            std = np.sqrt(np.mean((band - median[c]) ** 2))
            scale[c] = std if std > 0 else 1.0
    return median.astype(np.float32), scale.astype(np.float32)


class ImageBatches(IterableDataset):
    """Standardised ``(images, pixel_weights)`` batches of an image source.

    Parameters
    ----------
    source : ndarray or array-like
        In memory (already validated 4-D float32, ``validated=True``) or out of core.
    blocks : list of (start, stop)
        The images to read.
    image_shape : tuple of int
        ``(C, H, W)``.
    batch_size : int
    median, scale : ndarray of shape (C,)
        Per-band standardisation ``(x - median) / scale``.
    validated : bool
        True when ``source`` is in memory and already checked by ``validate_images``.
    generator : torch.Generator or None
        Shuffles blocks, then images within each chunk, when given; else the order is kept.

    Notes
    -----
    Each batch is a pair of float32 tensors of shape ``(n, C, H, W)``: the standardised
    images with missing (NaN) pixels set to 0, and weights that are 1 at observed and 0 at
    missing pixels. ``len()`` is the number of images.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((5, 1, 2, 2), np.float32)
    >>> ds = ImageBatches(x, [(0, 5)], (1, 2, 2), 2, np.zeros(1), np.ones(1), True)
    >>> [b[0].shape[0] for b in ds]
    [2, 2, 1]
    """

    def __init__(
        self, source, blocks, image_shape, batch_size, median, scale, validated, generator=None
    ):
        self.source = source
        self.blocks = blocks
        self.image_shape = tuple(image_shape)
        self.batch_size = batch_size
        self.median = np.asarray(median, np.float32).reshape(1, -1, 1, 1)
        self.scale = np.asarray(scale, np.float32).reshape(1, -1, 1, 1)
        self.validated = validated
        self.generator = generator

    def __len__(self):
        return sum(b - a for a, b in self.blocks)

    def n_batches(self):
        return math.ceil(len(self) / self.batch_size)

    def _chunks(self):
        """Groups of blocks of about CHUNK_IMAGES images, in (shuffled) order."""
        blocks = self.blocks
        if self.validated:
            # In memory, shuffling single images gives a plain random permutation.
            blocks = [(i, i + 1) for a, b in blocks for i in range(a, b)]
        if self.generator is not None:
            order = torch.randperm(len(blocks), generator=self.generator).tolist()
            blocks = [blocks[i] for i in order]
        if self.validated:
            chunk = max(CHUNK_IMAGES, self.batch_size)
            for s in range(0, len(blocks), chunk):
                yield blocks[s : s + chunk]
            return
        group, count = [], 0
        for block in blocks:
            group.append(block)
            count += block[1] - block[0]
            if count >= CHUNK_IMAGES:
                yield group
                group, count = [], 0
        if group:
            yield group

    def _to_tensors(self, images, missing):
        x = (images - self.median) / self.scale
        x = np.where(missing, np.float32(0), x)
        weight = (~missing).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(weight)

    def __iter__(self):
        rest = None  # images left over from the previous chunk (fewer than a batch)
        for group in self._chunks():
            images, missing = _read(self.source, group, self.image_shape, self.validated)
            if self.generator is not None and not self.validated:
                perm = torch.randperm(len(images), generator=self.generator).numpy()
                images, missing = images[perm], missing[perm]
            if rest is not None:
                images = np.concatenate([rest[0], images])
                missing = np.concatenate([rest[1], missing])
            n_full = len(images) // self.batch_size * self.batch_size
            for s in range(0, n_full, self.batch_size):
                yield self._to_tensors(
                    images[s : s + self.batch_size], missing[s : s + self.batch_size]
                )
            rest = (images[n_full:], missing[n_full:]) if n_full < len(images) else None
        if rest is not None:
            yield self._to_tensors(*rest)
