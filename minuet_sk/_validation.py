"""Image-array checks shared by every estimator.

Images arrive as ``(n, C, H, W)`` or flattened ``(n, C*H*W)`` (C-order of ``(C, H, W)``).
NaN pixels are missing data (survey edges, bad columns): they are kept, reported in a mask
and imputed by the estimators. An image with no finite pixel at all carries no information
and is an error, as are ``inf``, values beyond float32's range (the networks compute in
float32), wrong shapes, empty and complex input (``ValueError``) and non-numeric input
(``TypeError``), each with a message that says what to do. Integer, boolean and numeric
object arrays, lists and DataFrames are read as float32.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import sparse
from sklearn.utils.validation import validate_data

__all__ = [
    "check_image_batch",
    "impute_missing",
    "iter_batches",
    "n_images",
    "resolve_image_shape",
    "validate_images",
]


def _shape_tuple(image_shape):
    if len(image_shape) != 3 or not all(
        isinstance(s, numbers.Integral) and s > 0 for s in image_shape
    ):
        raise ValueError(
            f"image_shape must be three positive integers (C, H, W); got {image_shape!r}."
        )
    return tuple(int(s) for s in image_shape)


def resolve_image_shape(shape, image_shape):
    """Return the ``(C, H, W)`` image shape that an input array of ``shape`` holds.

    Parameters
    ----------
    shape : tuple of int
        Shape of the input, ``(n, C, H, W)`` or ``(n, n_features)``.
    image_shape : tuple of int or None
        The estimator's ``image_shape``. ``None`` takes it from 4-D input and reads 2-D
        input as single-band rows ``(1, 1, n_features)`` (generic tabular data).

    Returns
    -------
    tuple of int
        ``(C, H, W)``.

    Examples
    --------
    >>> resolve_image_shape((10, 3, 8, 8), None)
    (3, 8, 8)
    >>> resolve_image_shape((10, 192), (3, 8, 8))
    (3, 8, 8)
    """
    shape = tuple(shape)
    if len(shape) == 4:
        found = tuple(int(s) for s in shape[1:])
        if image_shape is not None and _shape_tuple(image_shape) != found:
            raise ValueError(
                f"X holds images of shape {found} but image_shape={tuple(image_shape)}; "
                f"pass image_shape={found} (or None to take it from the input)."
            )
        return found
    if len(shape) == 2:
        if image_shape is None:
            return (1, 1, int(shape[1]))
        image_shape = _shape_tuple(image_shape)
        if int(np.prod(image_shape)) != shape[1]:
            raise ValueError(
                f"X has {shape[1]} features per row but image_shape={image_shape} needs "
                f"{int(np.prod(image_shape))} (C*H*W); pass the right image_shape, or "
                "4-D images of shape (n, C, H, W)."
            )
        return image_shape
    hint = " Reshape your data: X.reshape(1, -1) holds one flattened image." if len(shape) == 1 \
        else " A stack of single-band images (n, H, W) needs a band axis: X[:, None]."
    raise ValueError(
        f"Expected images of shape (n, C, H, W) or flattened (n, C*H*W); got an array with "
        f"{len(shape)} dimension(s), shape {shape}.{hint}"
    )


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_finite_or_nan(X):
    if np.isinf(X).any():
        n_inf = int(np.isinf(X).sum())
        raise ValueError(
            f"X contains {n_inf} infinite pixel value(s). NaN marks missing pixels; "
            "inf is not allowed: replace it with NaN to treat it as missing."
        )
    if X.dtype.itemsize > 4 and X.size:
        biggest = float(np.nanmax(np.abs(X), initial=0.0))
        if biggest > _FLOAT32_MAX:
            raise ValueError(
                f"X holds pixel values up to {biggest:.3g}, beyond float32's range "
                f"({_FLOAT32_MAX:.3g}): check the units (nanomaggies), or replace flag values "
                "with NaN to treat those pixels as missing."
            )


def _check_not_all_missing(missing, first_row=0):
    """Refuse images (rows) whose every pixel is NaN: nothing of them can be encoded."""
    empty = missing.reshape(len(missing), -1).all(axis=1)
    if empty.any():
        rows = (np.flatnonzero(empty) + first_row).tolist()
        shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        raise ValueError(
            f"{len(rows)} image(s) of X have no finite pixel (every pixel NaN, i.e. missing), "
            f"row(s) {shown}: drop them; an image needs at least one measured pixel."
        )


def _check_not_empty(X):
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={tuple(X.shape)}); at least one image is "
            "required."
        )


def validate_images(estimator, X, *, reset, image_shape="from_estimator", dtype=np.float32):
    """Validate images in memory for ``estimator`` and return them as 4-D.

    Sets (``reset=True``) or checks ``n_features_in_`` and ``feature_names_in_`` on the
    estimator through sklearn's ``validate_data`` on the flattened view.

    Parameters
    ----------
    estimator : estimator
        The estimator whose ``image_shape`` parameter and ``n_features_in_`` are used.
    X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
        Images. NaN pixels are kept.
    reset : bool
        True in ``fit``; False in ``transform`` and friends.
    image_shape : tuple, None or "from_estimator"
        Overrides ``estimator.image_shape``.
    dtype : numpy dtype
        Output dtype.

    Returns
    -------
    images : ndarray of shape (n_samples, C, H, W)
    missing : ndarray of bool of shape (n_samples, C, H, W) or None
        True at NaN pixels; None when no pixel is missing.

    Examples
    --------
    >>> from minuet_sk import EigengalaxyPCA
    >>> import numpy as np
    >>> est = EigengalaxyPCA(image_shape=(1, 2, 2))
    >>> imgs, missing = validate_images(est, np.ones((3, 4)), reset=True)
    >>> imgs.shape, missing is None, est.n_features_in_
    ((3, 1, 2, 2), True, 4)
    """
    if image_shape == "from_estimator":
        image_shape = getattr(estimator, "image_shape", None)
    if not reset and hasattr(estimator, "image_shape_"):
        image_shape = estimator.image_shape_
    X = _as_numeric_array(X)
    if X.ndim in (2, 4):
        _check_not_empty(X)
    if X.ndim == 4:
        shape = resolve_image_shape(X.shape, image_shape)
        X = X.reshape(X.shape[0], -1)
    elif X.ndim == 2:
        shape = None
    else:
        resolve_image_shape(X.shape, image_shape)  # raises the message about dimensions
    if isinstance(X, np.ndarray) and X.dtype.kind == "f":
        _check_finite_or_nan(X)
    # sklearn's checks next, so a wrong feature count gets sklearn's own message
    flat = validate_data(estimator, X, reset=reset, dtype=dtype, ensure_all_finite="allow-nan")
    if shape is None:
        shape = resolve_image_shape(flat.shape, image_shape)
    images = flat.reshape((flat.shape[0],) + shape)
    missing = np.isnan(images)
    if not missing.any():
        return images, None
    _check_not_all_missing(missing)
    return images, missing


def _as_numeric_array(X):
    if sparse.issparse(X):
        raise TypeError("Sparse input is not supported: images are dense arrays (X.toarray()).")
    if hasattr(X, "iloc"):
        return X  # a DataFrame goes through validate_data, which keeps its feature names
    X = np.asarray(X)
    if X.dtype.kind in "USaMm":
        raise TypeError(f"Images must be numeric pixel values; got dtype {X.dtype}.")
    if X.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: images are real pixel values, got dtype {X.dtype}; "
            "pass X.real (or np.abs(X)) if that is what you mean."
        )
    return X


def n_images(X):
    """Number of images in an array-like (NumPy, memmap, h5py.Dataset, Zarr)."""
    return int(X.shape[0])


def check_image_batch(X, image_shape, *, dtype=np.float32, first_row=0):
    """Check one batch read from a (possibly out-of-core) image array.

    Parameters
    ----------
    X : array-like of shape (n, C, H, W) or (n, C*H*W)
        One batch, already in memory.
    image_shape : tuple of int
        The fitted ``(C, H, W)``.
    first_row : int, default=0
        Row of the whole array that the batch starts at (for messages).

    Returns
    -------
    images : ndarray of shape (n, C, H, W)
    missing : ndarray of bool of the same shape, or None

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((2, 1, 2, 2))
    >>> x[1, 0, 0] = np.nan
    >>> imgs, missing = check_image_batch(x, (1, 2, 2))
    >>> int(missing.sum())
    2
    """
    X = _as_numeric_array(X)
    shape = resolve_image_shape(X.shape, image_shape)
    if X.dtype.kind == "f":
        _check_finite_or_nan(X)  # before the cast, which would turn huge values into inf
    images = np.ascontiguousarray(X, dtype=dtype).reshape((X.shape[0],) + shape)
    if X.dtype.kind != "f":
        _check_finite_or_nan(images)
    missing = np.isnan(images)
    if not missing.any():
        return images, None
    _check_not_all_missing(missing, first_row)
    return images, missing


def impute_missing(images, missing, fill=0.0):
    """Return a copy of ``images`` with missing pixels set to ``fill`` (scalar or per band).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[[1.0, np.nan]]]], dtype=np.float32)
    >>> impute_missing(x, np.isnan(x))[0, 0, 0].tolist()
    [1.0, 0.0]
    """
    if missing is None:
        return images
    fill = np.broadcast_to(
        np.asarray(fill, dtype=images.dtype).reshape(-1, 1, 1), images.shape[1:]
    )
    return np.where(missing, fill[None], images)


def iter_batches(X, batch_size):
    """Yield ``(start, stop)`` slices that cover ``X`` in batches of ``batch_size``.

    Works for anything with ``shape[0]``: arrays, ``np.memmap``, ``h5py.Dataset``, Zarr;
    slicing those reads one batch from disk at a time.

    Examples
    --------
    >>> import numpy as np
    >>> list(iter_batches(np.zeros((5, 2)), 2))
    [(0, 2), (2, 4), (4, 5)]
    """
    n = n_images(X)
    for start in range(0, n, batch_size):
        yield start, min(start + batch_size, n)
