"""Image sources: in-memory arrays, or out-of-core array-likes read in contiguous slices.

An :class:`ImageSource` holds either an in-memory NumPy array (validated once, read by fancy
indexing) or an out-of-core array-like (``np.memmap``, ``h5py.Dataset``, Zarr, the lazy
Galaxy10 reader: anything with ``shape`` and slicing), read in contiguous slices and checked
slice by slice, with the shape of its images; :class:`TransformedRows` passes an out-of-core
source's rows through a transform (a model's stretch) as they are read.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import torch

from .._validation import check_image_batch

__all__ = ["ImageSource", "TransformedRows", "is_out_of_core", "read_rows", "release_pages"]


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
    if hasattr(X, "iloc"):  # pandas
        return False
    shape = getattr(X, "shape", None)
    return shape is not None and len(shape) in (2, 4) and hasattr(X, "__getitem__")


class TransformedRows:
    """An out-of-core image array whose rows pass through ``transform`` as they are read.

    It has ``shape``, ``ndim``, ``dtype`` and row slicing, so :class:`ImageBatches` streams it
    like the array it wraps: each slice is read, checked (:func:`check_image_batch`) and
    transformed (e.g. stretched) on its own, never the whole file.

    Examples
    --------
    >>> import numpy as np
    >>> rows = TransformedRows(np.ones((4, 12)), (3, 2, 2), lambda x: 2 * x)
    >>> rows.shape, float(rows[1:3].sum())
    ((4, 3, 2, 2), 48.0)
    """

    ndim = 4
    dtype = np.dtype(np.float32)

    def __init__(self, source, image_shape, transform):
        self.source = source
        self.image_shape = tuple(image_shape)
        self.transform = transform
        self.shape = (int(source.shape[0]),) + self.image_shape

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        if not (isinstance(rows, slice) and rows.step in (None, 1)):
            raise TypeError("TransformedRows reads contiguous row slices only.")
        start = rows.indices(self.shape[0])[0]
        images, _ = check_image_batch(read_rows(self.source, start, rows.stop),
                                      self.image_shape, first_row=start)
        return self.transform(images).reshape(images.shape)


def release_pages(rows):
    """Drop the pages behind ``rows``, a contiguous slice of an ``np.memmap``, from this
    process's resident memory (``madvise(MADV_DONTNEED)``).

    The file's data stay in the kernel's page cache (reclaimable, not this process's) and
    are read again if ``rows`` are touched again, so nothing changes but the resident set:
    without this, every page of a memmap once read stays in the RSS of the reader (11 GB
    for a 13 GB file, see ``benchmarks/results/bench_scale/latest.md``). A no-op for anything else, for
    copy-on-write memmaps (``mode="c"``, whose changed pages would be lost) and where
    ``madvise`` is missing (not Linux/macOS).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(4096, dtype=np.float32))
    >>> x = np.load(path, mmap_mode="r")
    >>> release_pages(x[:2048])
    >>> float(x[2047])
    2047.0
    """
    root = rows
    while isinstance(root.base, np.ndarray):
        root = root.base
    mapped = root.base
    if not (isinstance(rows, np.memmap) and isinstance(mapped, mmap.mmap)
            and hasattr(mapped, "madvise") and hasattr(mmap, "MADV_DONTNEED")
            and rows.mode != "c" and rows.flags.c_contiguous and rows.nbytes):
        return
    # np.memmap maps the file from an offset rounded down to ALLOCATIONGRANULARITY
    start = (rows.__array_interface__["data"][0] - root.__array_interface__["data"][0]
             + root.offset % mmap.ALLOCATIONGRANULARITY)
    first = start - start % mmap.PAGESIZE
    mapped.madvise(mmap.MADV_DONTNEED, first, min(start + rows.nbytes, len(mapped)) - first)


def read_rows(source, start, stop):
    """``source[start:stop]`` in memory; a memmap's rows are copied and their pages released
    (see :func:`release_pages`), so that reading a file does not grow the resident set."""
    rows = source[start:stop]
    if isinstance(rows, np.memmap):
        copy = np.array(rows)
        release_pages(rows)
        return copy
    return rows


@dataclass(frozen=True)
class ImageSource:
    """Images to train on or encode: the array, the shape of one image, and how to read it.

    Parameters
    ----------
    data : ndarray or array-like
        ``in_memory``: a float32 array ``(n, C, H, W)`` already checked by
        :func:`~minuet_sk._validation.validate_images`, read by fancy indexing. Otherwise an
        out-of-core array-like of ``n`` rows, read in contiguous ``(start, stop)`` slices, each
        checked with :func:`~minuet_sk._validation.check_image_batch` as it is read.
    image_shape : tuple of int
        ``(C, H, W)``.
    in_memory : bool

    Examples
    --------
    >>> import numpy as np
    >>> source = ImageSource(np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2), (1, 2, 2), True)
    >>> len(source), source.read(np.array([1])).shape
    (2, (1, 1, 2, 2))
    >>> float(source.map(lambda x: 2 * x).read(np.array([1])).max())
    14.0
    """

    data: object
    image_shape: tuple
    in_memory: bool

    def __len__(self):
        return int(self.data.shape[0])

    def read(self, part):
        """Images (NaN at missing pixels): ``part`` is an index array in memory, else a list
        of ``(start, stop)`` blocks."""
        if self.in_memory:
            return self.data[part]
        return np.concatenate(
            [check_image_batch(read_rows(self.data, a, b), self.image_shape, first_row=a)[0]
             for a, b in part]
        )

    def map(self, fn):
        """The same images through ``fn`` (a model's stretch): at once in memory, slice by
        slice as they are read out of core."""
        if self.in_memory:
            return replace(self, data=fn(self.data))
        return replace(self, data=TransformedRows(self.data, self.image_shape, fn))
