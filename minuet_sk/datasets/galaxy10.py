"""The Galaxy10 DECaLS HDF5 file (Leung & Bovy's astroNN data set), read lazily.

Galaxy10 DECaLS holds 17,736 galaxies from Galaxy Zoo DECaLS as ``images``
(N, 256, 256, 3) uint8 at 0.262 arcsec/pixel, with ``ans`` (class 0-9), ``ra``, ``dec``,
``redshift`` and ``pxscale``. The images are **8-bit display images** (the colour JPEGs
shown to Galaxy Zoo volunteers: g, r, z mapped to blue, green, red through a non-linear
stretch and clipped to 0-255), not calibrated flux in nanomaggies: pixel values are not
proportional to flux, colours are only roughly preserved, bright cores saturate at 255
and the sky sits at a positive display level. Models trained on the package's simulated
nanomaggy images do not see the same numbers; fit on Galaxy10 itself, or compare within it.
"""

from __future__ import annotations

import numbers
import os

import h5py
import numpy as np
from sklearn.utils import Bunch

from minuet_sk.datasets._cutouts import center_crop

__all__ = ["GALAXY10_CLASSES", "Galaxy10Images", "load_galaxy10_decals"]

#: Class names of the Galaxy10 DECaLS ``ans`` labels 0-9 (astroNN documentation).
GALAXY10_CLASSES = (
    "Disturbed",
    "Merging",
    "Round Smooth",
    "In-between Round Smooth",
    "Cigar Shaped Smooth",
    "Barred Spiral",
    "Unbarred Tight Spiral",
    "Unbarred Loose Spiral",
    "Edge-on without Bulge",
    "Edge-on with Bulge",
)

# The display images put z, r, g in the red, green, blue channels; the package's band
# order is g, r, z.
_RGB_TO_GRZ = [2, 1, 0]


class Galaxy10Images:
    """Lazy, read-only image array over the ``images`` dataset of a Galaxy10 HDF5 file.

    Behaves like a float32 array of shape ``(n, 3, image_size, image_size)`` (bands g, r,
    z, channel-first): indexing with an int, a slice, an integer or boolean index array
    reads only those images, centre-cropped at read time, in chunks of ``chunk_size``
    images. ``np.asarray`` reads everything. The file is opened per read, so the object
    pickles (joblib, Dask). Values are the 8-bit display values 0-255 as float32.

    Parameters
    ----------
    path : str or path-like
        The HDF5 file.
    image_size : int, default=72
        Side of the centre crop (NaN-padded when larger than the stored images).
    dataset : str, default="images"
        Name of the (N, H, W, 3) dataset.
    chunk_size : int, default=256
        Images read from disk at once.

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy.dtype
        float32.
    ndim : int

    Examples
    --------
    >>> import h5py, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "g10.h5")
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("images", data=np.zeros((5, 16, 16, 3), np.uint8))
    >>> X = Galaxy10Images(path, image_size=8)
    >>> X.shape, X[1:3].shape, X[[4, 0]].dtype
    ((5, 3, 8, 8), (2, 3, 8, 8), dtype('float32'))
    """

    def __init__(self, path, *, image_size=72, dataset="images", chunk_size=256):
        for name, value in (("image_size", image_size), ("chunk_size", chunk_size)):
            if not (isinstance(value, numbers.Integral) and value > 0):
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        self.path = os.fspath(path)
        self.image_size = int(image_size)
        self.dataset = dataset
        self.chunk_size = int(chunk_size)
        with h5py.File(self.path, "r") as f:
            stored = f[dataset].shape
        self._n, self._height, self._width = stored[0], stored[1], stored[2]
        self.dtype = np.dtype(np.float32)
        self.shape = (self._n, 3, self.image_size, self.image_size)
        self.ndim = 4

    def __len__(self):
        return self._n

    def __repr__(self):
        return f"Galaxy10Images({self.path!r}, shape={self.shape})"

    def _window(self, n):
        """Stored rows/columns to read: the central ``image_size`` (or all, to pad)."""
        start = max((n - self.image_size) // 2, 0)
        return slice(start, start + min(n, self.image_size))

    def _read_sorted(self, dset, index):
        """Images at increasing unique ``index`` (ndarray), as (k, 3, S, S) float32."""
        rows, cols = self._window(self._height), self._window(self._width)
        out = np.empty((len(index),) + self.shape[1:], dtype=np.float32)
        for start in range(0, len(index), self.chunk_size):
            part = index[start : start + self.chunk_size]
            if part[-1] - part[0] == len(part) - 1:  # contiguous: one hyperslab read
                raw = dset[part[0] : part[-1] + 1, rows, cols, :]
            else:
                raw = dset[part.tolist(), rows, cols, :]
            grz = np.moveaxis(raw, -1, 1)[:, _RGB_TO_GRZ].astype(np.float32)
            out[start : start + len(part)] = center_crop(grz, self.image_size)
        return out

    def _positions(self, key):
        """Non-negative image positions selected by ``key`` on the first axis."""
        if isinstance(key, slice):
            return np.arange(*key.indices(self._n))
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (self._n,):
                raise IndexError(
                    f"Boolean index of shape {key.shape} does not match {self._n} images."
                )
            return np.flatnonzero(key)
        if key.dtype.kind not in "iu":
            raise IndexError(f"Images are indexed by int, slice or int/bool arrays; got {key!r}.")
        if key.size and (key.max() >= self._n or key.min() < -self._n):
            raise IndexError(f"Index out of range for {self._n} images.")
        return np.where(key < 0, key + self._n, key)

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = (key[0], key[1:]) if key else (slice(None), ())
        if key is Ellipsis:
            key, rest = slice(None), (Ellipsis, *rest)
        single = isinstance(key, numbers.Integral)
        positions = self._positions(np.array([key]) if single else key)
        unique, inverse = np.unique(positions.ravel(), return_inverse=True)
        with h5py.File(self.path, "r") as f:
            images = self._read_sorted(f[self.dataset], unique) if unique.size else None
        if images is None:
            images = np.empty((0,) + self.shape[1:], dtype=np.float32)
        images = images[inverse.reshape(positions.shape)]
        if single:
            images = images[0]
            return images[rest] if rest else images
        return images[(slice(None), *rest)] if rest else images

    def __array__(self, dtype=None, copy=None):
        images = self[:]
        return images if dtype is None else images.astype(dtype, copy=False)


def _optional(f, name, n, path):
    if name not in f:
        return np.full(n, np.nan)
    values = np.asarray(f[name][()], dtype=np.float64).reshape(-1)
    if values.shape != (n,):
        raise ValueError(f"{path}: {name!r} has {values.size} entries for {n} images.")
    return values


def load_galaxy10_decals(path, *, image_size=72, lazy=True, chunk_size=256):
    """Load the Galaxy10 DECaLS HDF5 file.

    Parameters
    ----------
    path : str or path-like
        ``Galaxy10_DECals.h5`` (``images`` (N, 256, 256, 3) uint8, ``ans``, ``ra``,
        ``dec``, ``redshift``, ``pxscale``). Only ``images`` and ``ans`` are required; a
        missing ``ra``, ``dec``, ``redshift`` or ``pxscale`` comes back as NaN.
    image_size : int, default=72
        Side of the centre crop in pixels (the Minuet paper's 72: 18.9 arcsec).
    lazy : bool, default=True
        True: ``images`` is a :class:`Galaxy10Images` that reads and crops in chunks
        on indexing (usable as X by the encoders). False: an in-memory ndarray.
    chunk_size : int, default=256
        Images read at once.

    Returns
    -------
    Bunch
        ``images`` (n, 3, image_size, image_size) float32, bands g, r, z, values 0-255
        (8-bit display images, see the module notes: not nanomaggies); ``target`` int64
        class labels; ``target_names`` tuple of the 10 class names; ``ra``, ``dec``,
        ``redshift`` (NaN where unknown, kept), ``pxscale`` float64 arrays; ``bands``
        ``"grz"``; ``filename``.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not an HDF5 file, or not the Galaxy10 layout; the message names the file.

    Examples
    --------
    >>> import h5py, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "g10.h5")
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("images", data=np.zeros((4, 256, 256, 3), np.uint8))
    ...     _ = f.create_dataset("ans", data=np.array([0, 2, 5, 9], np.uint8))
    ...     _ = f.create_dataset("redshift", data=np.array([0.1, np.nan, 0.2, 0.05]))
    >>> g10 = load_galaxy10_decals(path)
    >>> g10.images.shape, g10.target_names[g10.target[2]], np.isnan(g10.redshift[1])
    ((4, 3, 72, 72), 'Barred Spiral', np.True_)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    if not (isinstance(image_size, numbers.Integral) and image_size > 0):
        raise ValueError(f"image_size must be a positive integer; got {image_size!r}.")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"Could not open {path} as HDF5: {exc}") from exc
    with f:
        if "images" not in f or "ans" not in f:
            raise ValueError(
                f"{path}: not the Galaxy10 DECaLS layout (needs 'images' and 'ans'; "
                f"has {sorted(f.keys())})."
            )
        shape = f["images"].shape
        if len(shape) != 4 or shape[-1] != 3:
            raise ValueError(f"{path}: 'images' must be (N, H, W, 3); got shape {shape}.")
        n = shape[0]
        target = np.asarray(f["ans"][()], dtype=np.int64).reshape(-1)
        if target.shape != (n,):
            raise ValueError(f"{path}: 'ans' has {target.size} labels for {n} images.")
        meta = {name: _optional(f, name, n, path) for name in ("ra", "dec", "redshift", "pxscale")}
    images = Galaxy10Images(path, image_size=image_size, chunk_size=chunk_size)
    return Bunch(
        images=images if lazy else np.asarray(images),
        target=target,
        target_names=GALAXY10_CLASSES,
        bands="grz",
        filename=path,
        **meta,
    )
