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
import pandas as pd

__all__ = ["predict", "predict_dist_frame", "transform", "write_posterior_catalogue"]


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
        The rows of ``PropertyPosterior.to_frame`` (one per galaxy and target), ``galaxy``
        the galaxy's row in ``X`` (0..n-1), which is also the index.

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
    >>> got, want = frame.compute(), flow.predict_dist(X).to_frame()
    >>> got["galaxy"].tolist() == want["galaxy"].tolist() == got.index.tolist()
    True
    >>> bool(np.allclose(got["median"], want["median"]))
    True
    """
    import dask
    import dask.dataframe as dd

    X = _as_row_chunked(X)
    offsets = np.concatenate([[0], np.cumsum(X.chunks[0])])

    def block(part, start):
        frame = estimator.predict_dist(np.asarray(part), **params).to_frame()
        frame["galaxy"] += start  # the block's galaxies are rows start, start + 1, ...
        frame.index = pd.Index(frame["galaxy"].to_numpy())
        return frame

    meta = block(np.asarray(X[:1]), 0).iloc[:0]
    parts = [
        dask.delayed(block)(chunk, int(start))
        for chunk, start in zip(X.to_delayed().ravel(), offsets[:-1])
    ]
    return dd.from_delayed(parts, meta=meta, divisions=tuple(offsets[:-1]) + (offsets[-1] - 1,))


def write_posterior_catalogue(estimator, X, out, *, n_samples=None, keep_draws=False,
                              id_columns=None, restart=False):
    """Posterior summaries of every galaxy of a Dask collection to a catalogue, written by
    Dask's workers, one part per block.

    What :func:`minuet_sk.flow.write_posterior_catalogue` writes, with the blocks of ``X``
    as its chunks: every task predicts one block and writes its part itself, so that neither
    the draws nor the summaries pass through the client. Run again after a failure or a
    kill, only the blocks without a part are computed.

    Parameters
    ----------
    estimator : fitted estimator with ``predict_dist``
        :class:`FlowPropertyRegressor` or a :class:`Pipeline` ending in one (then ``X`` may
        be images).
    X : dask.array.Array of shape (n, ...) or dask.dataframe.DataFrame
        Chunked along galaxies. A DataFrame's index is the ``galaxy`` column (as in
        ``predict_dist``) and its identifier columns are carried; an array's rows are
        numbered ``0 .. n-1``.
    out : str or path-like
        A folder, or a ``.parquet`` or ``.csv`` file, as in
        :func:`minuet_sk.flow.write_posterior_catalogue`; every worker must see it (a shared
        disk).
    n_samples, keep_draws, id_columns, restart
        As in :func:`minuet_sk.flow.write_posterior_catalogue`.

    Returns
    -------
    pathlib.Path
        ``out``.

    Examples
    --------
    >>> import os, tempfile
    >>> import dask, dask.array as da, numpy as np, pandas as pd
    >>> from minuet_sk import FlowPropertyRegressor, parallel
    >>> X = np.random.default_rng(0).normal(size=(60, 2)).astype("float32")
    >>> flow = FlowPropertyRegressor(n_transforms=1, hidden_features=8, max_epochs=2,
    ...                              n_samples=20, random_state=0).fit(X, X[:, 0])
    >>> out = os.path.join(tempfile.mkdtemp(), "catalogue")
    >>> with dask.config.set(scheduler="threads"):
    ...     _ = parallel.write_posterior_catalogue(flow, da.from_array(X, chunks=(25, 2)), out)
    >>> len([name for name in os.listdir(out) if name.startswith("part-")])
    3
    >>> pd.read_parquet(out)["galaxy"].tolist() == list(range(60))
    True
    """
    import dask
    import dask.dataframe as dd
    import pandas as pd

    from .flow._catalogue import _Catalogue, _check_features, _id_columns

    catalogue = _Catalogue(out, keep_draws=keep_draws)
    if isinstance(X, dd.DataFrame):  # its index names the galaxies
        head, blocks = X.head(1, npartitions=-1), X.to_delayed()
        starts, chunks, n_rows = [None] * len(blocks), {"partitions": X.npartitions}, None
    else:
        X = _as_row_chunked(X)
        head, blocks = np.asarray(X[:1]), X.to_delayed().ravel()
        starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).tolist()
        chunks, n_rows = list(X.chunks[0]), int(X.shape[0])
    if not len(head):
        raise ValueError("X holds no galaxies: there is nothing to predict.")
    ids = _id_columns(estimator, head, id_columns)
    _check_features(estimator, head, ids)
    settings = catalogue.settings(estimator, n_samples, head, ids, chunk_size=chunks,
                                  n_rows=n_rows)
    done = catalogue.open(settings, restart=restart)
    if done is None:  # complete already
        return catalogue.out

    def write(block, part, start):
        labels = block.index if start is None else pd.RangeIndex(start, start + len(block))
        catalogue.write_part(part, estimator, block, labels, ids, n_samples)

    dask.compute(*[dask.delayed(write)(block, part, start)
                   for part, (block, start) in enumerate(zip(blocks, starts))
                   if part not in done])
    return catalogue.finish()
