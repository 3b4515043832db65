"""Reading images and their pixel weights in batches from sources that may not fit in memory.

:class:`ImageBatches` turns an image source (:mod:`minuet_sk._training.sources`) into
standardised ``(images, pixel_weights)`` batches for torch, shuffled by a
``torch.Generator`` when one is given; the training/validation split works on blocks of
rows so that out-of-core sources are read in contiguous chunks.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch.utils.data import IterableDataset

from .sources import is_out_of_core, read_rows

__all__ = [
    "ImageBatches", "MaskWeights", "band_statistics", "check_pixel_weight", "expand_blocks",
    "split_blocks",
]

# Out-of-core arrays are read this many images at a time (about 60 MB of 3x72x72 float32).
CHUNK_IMAGES = 1024


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
    train, valid : ndarray of shape (n_blocks, 2)
        Rows ``(start, stop)``. ``valid`` is empty when the fraction leaves no image (or every image) to validate.

    Examples
    --------
    >>> import numpy as np
    >>> train, valid = split_blocks(10, 0.2, False, np.random.default_rng(0))
    >>> len(train), len(valid)
    (8, 2)
    """
    size = max(1, min(CHUNK_IMAGES, n // 50)) if out_of_core else 1
    starts = np.arange(0, n, size)
    blocks = np.stack([starts, np.minimum(starts + size, n)], axis=1)
    n_valid = round(validation_fraction * len(blocks))
    if n_valid == 0 or n_valid >= len(blocks):
        return blocks, blocks[:0]
    order = rng.permutation(len(blocks))
    return blocks[np.sort(order[n_valid:])], blocks[np.sort(order[:n_valid])]


def _subdivide(blocks, size):
    """Cut (start, stop) rows into pieces of at most ``size`` images."""
    return np.asarray(
        [(s, min(s + size, b)) for a, b in blocks for s in range(a, b, size)], dtype=np.int64
    ).reshape(-1, 2)


def expand_blocks(blocks):
    """Indices of all images in ``blocks`` (an array of (start, stop) rows), in order.

    Examples
    --------
    >>> expand_blocks(np.array([[5, 7], [0, 2]])).tolist()
    [5, 6, 0, 1]
    """
    lengths = blocks[:, 1] - blocks[:, 0]
    offsets = np.repeat(blocks[:, 0] - (np.cumsum(lengths) - lengths), lengths)
    return offsets + np.arange(lengths.sum())


def _read_weights(weights, part, image_shape):
    """Read per-pixel loss weights for the same images as :meth:`~.sources.ImageSource.read`."""
    if isinstance(part, np.ndarray) and part.ndim == 1:
        # h5py reads fancy indices only in increasing order: read sorted, then reorder.
        order = np.argsort(part)
        rows = np.empty((len(part),) + tuple(weights.shape[1:]), np.float32)
        rows[order] = weights[part[order]]
    else:
        rows = np.concatenate([np.asarray(read_rows(weights, a, b)) for a, b in part])
    # one band of weights (MaskWeights) stays one band, broadcast over the bands later
    return np.asarray(rows, dtype=np.float32).reshape((len(rows), -1) + tuple(image_shape[1:]))


def _read_aligned(source, part):
    """The images of ``source`` (an ImageSource) at the rows of ``part``: an index array
    (in-memory images, whose reference is in memory too) or a list of ``(start, stop)``
    blocks (out-of-core images, whose reference may be either)."""
    if source.in_memory and not (isinstance(part, np.ndarray) and part.ndim == 1):
        return source.read(expand_blocks(np.asarray(part)))
    return source.read(part)


class MaskWeights:
    """Per-pixel loss weights from boolean masks, read like an out-of-core weight array.

    Row ``i`` is ``inside`` on mask ``i`` and ``outside`` elsewhere, one band ``(1, H, W)``
    shared by all bands, times row ``i`` of ``base`` when given (then ``(C, H, W)``). The
    masks are kept as bits, ``n H W / 8`` bytes (0.65 GB for a million 72 x 72 cutouts).

    Parameters
    ----------
    packed : ndarray of uint8, shape (n, ceil(H * W / 8))
        The masks, flattened and packed with :func:`numpy.packbits` along axis 1.
    image_shape : tuple of int
        ``(C, H, W)``.
    inside, outside : float
    base : array-like of shape (n, C, H, W) or (n, C * H * W), or None
        Weights to multiply (in memory or out of core).

    Examples
    --------
    >>> import numpy as np
    >>> masks = np.array([[[True, False], [False, False]]])
    >>> w = MaskWeights(np.packbits(masks.reshape(1, -1), axis=1), (3, 2, 2), 0.9, 0.1)
    >>> w.shape, w[0:1][0, 0].astype(float).round(2).tolist()
    ((1, 1, 2, 2), [[0.9, 0.1], [0.1, 0.1]])
    """

    def __init__(self, packed, image_shape, inside, outside, base=None):
        self.packed = packed
        self.image_shape = tuple(image_shape)
        self.inside, self.outside = inside, outside
        self.base = base

    @property
    def shape(self):
        bands = 1 if self.base is None else self.image_shape[0]
        return (len(self.packed), bands) + self.image_shape[1:]

    def __len__(self):
        return len(self.packed)

    def __getitem__(self, index):
        """Rows ``index`` (a slice, or an integer array, increasing for an h5py ``base``) as
        float32 ``(k, bands, H, W)``."""
        height, width = self.image_shape[1:]
        bits = np.unpackbits(self.packed[index], axis=1, count=height * width)
        weight = np.where(bits, np.float32(self.inside), np.float32(self.outside))
        weight = weight.reshape(len(bits), 1, height, width)
        if self.base is not None:
            base = np.asarray(self.base[index], dtype=np.float32)
            weight = base.reshape((len(bits),) + self.image_shape) * weight
        return weight


def band_statistics(source, max_images=2048, piece=64):
    """Per-band median, scale and correlation of the finite pixels of up to ``max_images``
    images.

    The images are read as ``piece``-image contiguous slices spread evenly over the images
    of ``source`` (an :class:`~minuet_sk._training.sources.ImageSource`). The scale is the
    standard deviation of the pixels about the median (1 where it is zero or undefined): for
    galaxy cutouts the MAD measures only the sky noise and would blow the galaxies themselves
    up to hundreds of units.

    The correlation is that of the standardised bands, over the pixels finite in every
    band (the identity where there are none).

    Returns
    -------
    median, scale : ndarray of shape (C,), float32
    correlation : ndarray of shape (C, C), float64

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk._training.sources import ImageSource
    >>> x = np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2)
    >>> med, scale, corr = band_statistics(ImageSource(x, (1, 2, 2), True))
    >>> float(med[0]), corr.tolist()
    (3.5, [[1.0]])
    """
    n = len(source)
    if n <= max_images:
        picked = _subdivide([(0, n)], CHUNK_IMAGES)
    else:
        starts = np.linspace(0, n - piece, max(1, max_images // piece)).astype(np.int64)
        picked = np.stack([starts, starts + piece], axis=1)
    images = source.read(expand_blocks(picked) if source.in_memory else picked)
    per_band = np.moveaxis(images, 1, 0).reshape(images.shape[1], -1).astype(np.float64)
    median = np.zeros(per_band.shape[0])
    scale = np.ones(per_band.shape[0])
    for c, band in enumerate(per_band):
        band = band[np.isfinite(band)]
        if band.size:
            median[c] = np.median(band)
            std = np.sqrt(np.mean((band - median[c]) ** 2))
            scale[c] = std if std > 0 else 1.0
    complete = per_band[:, np.isfinite(per_band).all(0)]
    correlation = np.eye(len(per_band))
    if complete.shape[1] > 1:
        standardised = (complete - median[:, None]) / scale[:, None]
        centred = standardised - standardised.mean(1, keepdims=True)
        covariance = centred @ centred.T / centred.shape[1]
        spread = np.sqrt(np.diag(covariance))
        spread[spread == 0] = 1.0  # a constant band stays uncorrelated
        correlation = covariance / np.outer(spread, spread)
        np.fill_diagonal(correlation, 1.0)
    return median.astype(np.float32), scale.astype(np.float32), correlation


def fill_missing(images, missing):
    """Fill the ``missing`` pixels of standardised ``images`` (n, C, H, W), in place, with
    sky: each band's own background level plus its noise (:func:`~minuet_sk.preprocessing.
    background_noise`) times a fixed pattern of standard normal draws, the same for every
    image (so a latent does not depend on the batch, nor the call). A band with no finite
    pixel gets 0, the median of the training images.

    Missing pixels filled with a constant are a noiseless patch the encoder never saw in
    training, and a latent that tracks the noise reads them as another night: 64 x 64
    cutouts padded to 72 x 72 moved the shipped weights' first latent by 1.05 of its spread
    and 23% found their full cutout as nearest neighbour; filled with sky, 0.13 and 94%.
    """
    rows = np.flatnonzero(missing.reshape(len(missing), -1).any(axis=1))
    if not len(rows):
        return
    from ..preprocessing import background_noise

    part = images[rows]
    part[missing[rows]] = np.nan
    level, noise = background_noise(part)
    sky = (np.nan_to_num(level)[:, :, None, None]
           + np.nan_to_num(noise)[:, :, None, None] * _sky_pattern(part.shape[1:]))
    images[rows] = np.where(missing[rows], sky, part)


@functools.lru_cache(maxsize=8)
def _sky_pattern(shape):
    """Fixed standard normal draws of one image's ``shape`` (read-only, shared)."""
    pattern = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    pattern.flags.writeable = False
    return pattern


class ImageBatches(IterableDataset):
    """Standardised ``(images, pixel_weights)`` batches of an image source.

    Parameters
    ----------
    source : ImageSource
        In memory or out of core (:class:`~minuet_sk._training.sources.ImageSource`).
    blocks : array-like of shape (n_blocks, 2)
        ``(start, stop)`` rows: the images to read.
    batch_size : int
    median, scale : ndarray of shape (C,)
        Per-band standardisation ``(x - median) / scale``.
    generator : torch.Generator or None
        Shuffles blocks, then images within each chunk, when given; else the order is kept.
    pixel_weight : array-like of shape (n_images, C, H, W) or (n_images, C*H*W), or None
        Per-pixel loss weights (in memory or out of core), read with the same indices as
        ``source`` and multiplied into the batch weights.
    pin_memory : bool, default=False
        Return tensors in page-locked host memory, for fast non-blocking copies to a GPU
        (needs CUDA).
    reference : ImageSource or None, default=None
        Images aligned row by row with ``source`` (the same galaxies at reference
        conditions, what the decoder learns to rebuild), read with the same indices and
        standardised alike.

    Notes
    -----
    Each batch is a pair of float32 tensors of shape ``(n, C, H, W)``: the standardised
    images with missing pixels filled with sky (:func:`fill_missing`), and weights that are
    0 at missing pixels and ``pixel_weight`` (default 1) elsewhere; with ``reference``, a
    triple whose third tensor is the standardised reference images (missing pixels filled
    alike, and weighing 0 as well). ``len()`` is the number of images.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk._training.sources import ImageSource
    >>> x = np.ones((5, 1, 2, 2), np.float32)
    >>> ds = ImageBatches(ImageSource(x, (1, 2, 2), True), [(0, 5)], 2, np.zeros(1), np.ones(1))
    >>> [b[0].shape[0] for b in ds]
    [2, 2, 1]
    """

    def __init__(
        self, source, blocks, batch_size, median, scale, generator=None, pixel_weight=None,
        pin_memory=False, reference=None,
    ):
        if reference is not None and len(reference) != len(source):
            raise ValueError(f"reference holds {len(reference)} images; X holds {len(source)}.")
        self.source = source
        self.reference = reference
        self.blocks = np.asarray(blocks, dtype=np.int64).reshape(-1, 2)
        if not source.in_memory:  # never read more than a chunk at once
            self.blocks = _subdivide(self.blocks, CHUNK_IMAGES)
        self.image_shape = tuple(source.image_shape)
        self.batch_size = batch_size
        self.median = np.asarray(median, np.float32).reshape(1, -1, 1, 1)
        self.scale = np.asarray(scale, np.float32).reshape(1, -1, 1, 1)
        self.generator = generator
        self.pixel_weight = pixel_weight
        self.pin_memory = pin_memory

    def __len__(self):
        return int((self.blocks[:, 1] - self.blocks[:, 0]).sum())

    def n_batches(self):
        return math.ceil(len(self) / self.batch_size)

    def _chunks(self):
        """Index arrays (in memory) or groups of blocks (out of core) of about CHUNK_IMAGES
        images each, in (shuffled) order."""
        if self.source.in_memory:
            # In memory, a permutation of single images is a plain random shuffle.
            index = expand_blocks(self.blocks)
            if self.generator is not None:
                index = index[torch.randperm(len(index), generator=self.generator).numpy()]
            chunk = max(CHUNK_IMAGES, self.batch_size)
            for s in range(0, len(index), chunk):
                yield index[s : s + chunk]
            return
        blocks = self.blocks
        if self.generator is not None:
            blocks = blocks[torch.randperm(len(blocks), generator=self.generator).numpy()]
        group, count = [], 0
        for block in blocks:
            group.append(block)
            count += block[1] - block[0]
            if count >= CHUNK_IMAGES:
                yield group
                group, count = [], 0
        if group:
            yield group

    def _empty(self, shape):
        return torch.empty(shape, dtype=torch.float32, pin_memory=self.pin_memory)

    def _standardised(self, images):
        """Standardised ``images`` as a tensor (missing pixels filled), and where they miss."""
        missing = np.isnan(images)
        x = self._empty(images.shape)
        x_np = x.numpy()
        np.subtract(images, self.median, out=x_np)
        np.divide(x_np, self.scale, out=x_np)
        fill_missing(x_np, missing)
        return x, missing

    def _to_tensors(self, images, pixel_weight, reference=None):
        x, missing = self._standardised(images)
        if reference is not None:
            goal, missing_there = self._standardised(reference)
            missing |= missing_there
        weight = self._empty(images.shape)
        weight_np = weight.numpy()
        np.logical_not(missing, out=weight_np, casting="unsafe")
        if pixel_weight is not None:
            weight_np *= pixel_weight
        return (x, weight) if reference is None else (x, weight, goal)

    def __iter__(self):
        rest = None  # images (and weights) left over from the previous chunk
        for part in self._chunks():
            arrays = [self.source.read(part)]
            if self.pixel_weight is not None:
                arrays.append(_read_weights(self.pixel_weight, part, self.image_shape))
            if self.reference is not None:
                arrays.append(_read_aligned(self.reference, part))
            if self.generator is not None and not self.source.in_memory:
                perm = torch.randperm(len(arrays[0]), generator=self.generator).numpy()
                arrays = [a[perm] for a in arrays]
            if rest is not None:
                arrays = [np.concatenate([r, a]) for r, a in zip(rest, arrays)]
            n = len(arrays[0])
            n_full = n // self.batch_size * self.batch_size
            for s in range(0, n_full, self.batch_size):
                yield self._batch([a[s : s + self.batch_size] for a in arrays])
            rest = [a[n_full:] for a in arrays] if n_full < n else None
        if rest is not None:
            yield self._batch(rest)

    def _batch(self, arrays):
        images, *rest = arrays
        weight = rest.pop(0) if self.pixel_weight is not None else None
        return self._to_tensors(images, weight, rest[0] if rest else None)


def check_pixel_weight(pixel_weight, n, shape):
    """In-memory weights as float32 (n, C, H, W), checked; out-of-core ones as they are."""
    if pixel_weight is None:
        return None
    size = int(np.prod(shape))
    found = tuple(pixel_weight.shape) if hasattr(pixel_weight, "shape") else None
    if is_out_of_core(pixel_weight):
        if found[0] != n or int(np.prod(found[1:])) != size:
            raise ValueError(f"pixel_weight has shape {found}; X holds {n} images of {shape}.")
        return pixel_weight
    weight = np.asarray(pixel_weight, dtype=np.float32)
    if weight.size != n * size:
        raise ValueError(
            f"pixel_weight has shape {weight.shape}; X holds {n} images of shape {shape}."
        )
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("pixel_weight must be finite and non-negative.")
    return weight.reshape((n,) + tuple(shape))
