"""Distributed inference on Dask: a thin layer over chunked arrays, no scheduler of our own.

A fitted estimator is shipped to the workers once and applied block by block with
:func:`dask.array.map_blocks`; Dask's scheduler (threads, processes, or a
``dask.distributed`` cluster, local or remote) runs the blocks.

Why not dask-ml's ``ParallelPostFit``: with sklearn 1.9 it runs, but its ``map_blocks``
keeps the input's chunk widths, so a transform of ``(n, 15552)`` pixels to ``(n, 5)`` latents
is reported lazily as ``(n, 15552)``, and it does not accept 4-D image stacks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["predict", "predict_dist_frame", "transform"]


def _as_row_chunked(X):
    import dask.array as da

    if not isinstance(X, da.Array):
        raise TypeError(
            f"Expected a dask array; got {type(X).__name__}. Wrap an in-memory, HDF5 or Zarr "
            "array with dask.array.from_array(X, chunks=(rows, ...))."
        )
    if X.ndim not in (2, 4):
        raise ValueError(f"Expected (n, C, H, W) or (n, C*H*W) images; got shape {X.shape}.")
    # every block must hold whole images: chunk along galaxies only
    return X.rechunk({axis: -1 for axis in range(1, X.ndim)})


def _map_rows(method, X, *, dtype=None, **kwargs):
    X = _as_row_chunked(X)
    probe = np.asarray(method(np.asarray(X[:1]), **kwargs))  # output width and dtype
    out_shape = probe.shape[1:]

    def block(part):
        return np.asarray(method(part, **kwargs))

    return X.map_blocks(
        block,
        dtype=dtype or probe.dtype,
        chunks=(X.chunks[0],) + tuple((s,) for s in out_shape),
        drop_axis=list(range(1 + len(out_shape), X.ndim)) or None,
        meta=np.empty((0,) + out_shape, dtype=dtype or probe.dtype),
    )


def transform(estimator, X):
    """Lazily apply ``estimator.transform`` to a Dask array of images.

    Parameters
    ----------
    estimator : fitted transformer
        E.g. :class:`MinuetEncoder`, :class:`EigengalaxyPCA` or a :class:`Pipeline`.
    X : dask.array.Array of shape (n, C, H, W) or (n, C*H*W)
        Chunked along galaxies (other axes are joined if chunked).

    Returns
    -------
    dask.array.Array of shape (n, n_components)
        Call ``.compute()`` (or ``client.compute``) to run it.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from minuet_sk import EigengalaxyPCA
    >>> from minuet_sk import parallel
    >>> X = np.random.default_rng(0).normal(size=(40, 1, 4, 4)).astype("float32")
    >>> pca = EigengalaxyPCA(3, image_shape=(1, 4, 4)).fit(X)
    >>> Z = parallel.transform(pca, da.from_array(X, chunks=(10, 1, 4, 4)))
    >>> Z.shape, bool(np.allclose(Z.compute(), pca.transform(X)))
    ((40, 3), True)
    """
    return _map_rows(estimator.transform, X)


def predict(estimator, X):
    """Lazily apply ``estimator.predict`` to a Dask array.

    Parameters
    ----------
    estimator : fitted predictor
    X : dask.array.Array of shape (n, ...)

    Returns
    -------
    dask.array.Array of shape (n,) or (n, n_targets)

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from sklearn.linear_model import LinearRegression
    >>> from minuet_sk import parallel
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> reg = LinearRegression().fit(X, X.sum(1))
    >>> parallel.predict(reg, da.from_array(X, chunks=(5, 2))).compute().round(6)[:3].tolist()
    [1.0, 5.0, 9.0]
    """
    return _map_rows(estimator.predict, X)


def predict_dist_frame(estimator, X, **params):
    """Posterior summaries, block by block, as a Dask DataFrame.

    Runs ``estimator.predict_dist(block, **params).to_frame()`` on every block, so only the
    summaries (not the posterior samples) leave the workers.

    Parameters
    ----------
    estimator : fitted estimator with ``predict_dist``
        :class:`FlowPropertyRegressor` or a :class:`Pipeline` ending in one.
    X : dask.array.Array of shape (n, ...)
    **params
        Passed to ``predict_dist`` (e.g. ``n_samples``).

    Returns
    -------
    dask.dataframe.DataFrame
        One row per galaxy (index 0..n-1), the columns of ``PropertyPosterior.to_frame``.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from minuet_sk import FlowPropertyRegressor, parallel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)).astype("float32")
    >>> y = X[:, 0] + 0.1 * rng.normal(size=60)
    >>> flow = FlowPropertyRegressor(n_transforms=1, hidden_features=8, max_epochs=2,
    ...                              n_samples=20, random_state=0).fit(X, y)
    >>> frame = parallel.predict_dist_frame(flow, da.from_array(X, chunks=(25, 2)))
    >>> len(frame.compute()) == len(flow.predict_dist(X).to_frame())
    True
    """
    import dask
    import dask.dataframe as dd

    X = _as_row_chunked(X)
    offsets = np.concatenate([[0], np.cumsum(X.chunks[0])])

    def block(part, start):
        frame = estimator.predict_dist(np.asarray(part), **params).to_frame()
        frame.index = np.arange(start, start + len(frame))
        return frame

    meta = block(np.asarray(X[:1]), 0).iloc[:0]
    parts = [
        dask.delayed(block)(chunk, int(start))
        for chunk, start in zip(X.to_delayed().ravel(), offsets[:-1])
    ]
    return dd.from_delayed(parts, meta=meta, divisions=tuple(offsets[:-1]) + (offsets[-1] - 1,))
