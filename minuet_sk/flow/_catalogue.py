"""Posterior catalogues of survey size: the summaries (and, if asked, the draws) of every
galaxy of a features table, predicted and written chunk by chunk, in bounded memory, and
resumable after a kill.

A run writes one Parquet file per chunk (``part-000000.parquet``, ...) into a folder, with
``_catalogue.json`` saying which run the parts belong to; a part appears whole or not at all
(written aside, then renamed), so a run started again with the same arguments redoes only
the chunks that have no part yet. A ``.parquet`` or ``.csv`` output is assembled from the
parts once they are all there. :func:`minuet_sk.parallel.write_posterior_catalogue` writes
the same parts from Dask's workers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd

from .._cli_io import csv_latent_id_to_attrs
from .._persistence import atomic_write_bytes, to_jsonable
from ._posterior import PropertyPosterior

__all__ = ["write_posterior_catalogue"]

_FORMAT = "minuet_sk.posterior_catalogue"
_FORMAT_VERSION = 1
_MANIFEST = "_catalogue.json"
#: The columns of ``PropertyPosterior.to_frame`` and the draws: no identifier may take them.
_SUMMARY_COLUMNS = ("galaxy", "target", "mean", "median", "std", "p16", "p84", "draws")
_SINGLE_FILES = (".parquet", ".csv")


def write_posterior_catalogue(estimator, features, out, *, chunk_size=10_000, n_samples=None,
                              keep_draws=False, id_columns=None, dataset=None, restart=False,
                              progress=True):
    """Posterior summaries of every galaxy to a catalogue on disk, chunk by chunk, resumably.

    Runs ``estimator.predict_dist`` on ``chunk_size`` galaxies at a time and writes
    :meth:`PropertyPosterior.to_frame`'s summaries (one row per galaxy and target: ``galaxy,
    target, mean, median, std, p16, p84``; the median is the 50th percentile) after the
    galaxies' identifier columns, so memory holds one chunk's draws whatever the number of
    galaxies. Killed and called again with the same arguments, it goes on after the last
    chunk written: the galaxies already written are not predicted again, and the catalogue
    is the one an uninterrupted run writes (a galaxy's draws are seeded by its features, not
    by its chunk). For a Dask cluster, see :func:`minuet_sk.parallel.write_posterior_catalogue`.

    Parameters
    ----------
    estimator : fitted estimator with ``predict_dist``
        A :class:`~minuet_sk.FlowPropertyRegressor`, or a :class:`~minuet_sk.Pipeline`
        ending in one: ``make_pipeline(encoder, flow)`` takes images, so that cutouts are
        encoded chunk by chunk, and a resumed run encodes only the chunks left.
    features : path, array-like, DataFrame or iterable of chunks
        - a path: a Parquet or CSV table (read ``chunk_size`` rows at a time, the latents'
          ``latent_id`` included, so that a flow refuses another encoder's latents), an
          HDF5 file (its dataset ``dataset``) or a ``.npy`` file (memory-mapped);
        - anything sliced by rows: a NumPy array or memmap, an ``h5py.Dataset`` (of latents,
          or of images for a pipeline), a pandas DataFrame;
        - an iterable of chunks (arrays or DataFrames), each written as one part as it comes
          (``chunk_size`` does not apply); a resumed run reads again, but does not predict,
          the chunks already written.
    out : str or path-like
        A folder (a name without a ``.parquet`` or ``.csv`` suffix), which keeps the parts
        (a Parquet dataset: ``pandas.read_parquet(out)``, Dask, DuckDB, Spark read it whole);
        or a ``.parquet`` or ``.csv`` file, assembled from the parts, which are kept until
        then in the folder ``<out>.partial``.
    chunk_size : int, default=10_000
        Galaxies per chunk: with the default 1,000 draws of 3 targets a chunk's draws take
        120 MB. A resumed run must use the same.
    n_samples : int, optional
        Posterior draws per galaxy; default: the estimator's ``n_samples``.
    keep_draws : bool, default=False
        Also write every galaxy's draws of each target, in a column ``draws`` (a list of
        ``n_samples`` float32 per row) of a Parquet output. Parquet reads columns apart, so
        ``pandas.read_parquet(out, columns=[...])`` without it does not read the draws.
    id_columns : list of str, optional
        Columns of a table carried into the catalogue, before the summaries. Default: every
        column that is not one of the model's features (``feature_names_in_``), or none
        when the model was fitted without feature names (then every column is a feature).
    dataset : str, optional
        The dataset of an HDF5 ``features`` file; default: the file's only dataset.
    restart : bool, default=False
        Delete the parts of an earlier run at ``out`` and start afresh. Without it a run of
        other settings (model, draws, chunk size, features) is refused.
    progress : bool, default=True
        Show a progress bar (tqdm, on stderr) over the galaxies.

    Returns
    -------
    pathlib.Path
        ``out``.

    See Also
    --------
    minuet_sk.parallel.write_posterior_catalogue : the same catalogue from Dask's workers.
    minuet_sk.PropertyPosterior.to_frame : the summaries of one posterior in memory.

    Notes
    -----
    ``galaxy`` holds the index of a DataFrame ``features`` (as ``predict_dist`` does), and
    otherwise each row's position in the source (``0 .. n-1``). A catalogue folder holds
    ``_catalogue.json`` (the settings it was made with, and whether it is complete) beside
    the parts; a complete folder is returned as it is. Features the model refuses (another
    encoder's latents, missing columns) and an ``out`` of another run are refused before any
    chunk is predicted. Through a pipeline from images, the encoder may round a galaxy's
    latents differently in the last bit in chunks of other sizes, and so draw for it
    otherwise; a resumed run cuts the same chunks.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, pandas as pd
    >>> from minuet_sk import FlowPropertyRegressor
    >>> from minuet_sk.flow import write_posterior_catalogue
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2))
    >>> flow = FlowPropertyRegressor(n_transforms=1, hidden_features=8, max_epochs=2,
    ...                              n_samples=20, random_state=0).fit(X, X[:, 0])
    >>> table = pd.DataFrame({"objid": [f"G{i}" for i in range(60)], "x0": X[:, 0],
    ...                       "x1": X[:, 1]})
    >>> out = os.path.join(tempfile.mkdtemp(), "catalogue")
    >>> _ = write_posterior_catalogue(flow, table, out, chunk_size=25,
    ...                               id_columns=["objid"], progress=False)
    >>> sorted(os.listdir(out))
    ['_catalogue.json', 'part-000000.parquet', 'part-000001.parquet', 'part-000002.parquet']
    >>> catalogue = pd.read_parquet(out)
    >>> catalogue.shape, list(catalogue.columns[:3])
    ((60, 8), ['objid', 'galaxy', 'target'])
    """
    _check_size(chunk_size, "chunk_size")
    if n_samples is not None:
        _check_size(n_samples, "n_samples")
    if type(features).__module__.startswith("dask."):
        raise TypeError("A Dask collection is computed on Dask's workers by "
                        "minuet_sk.parallel.write_posterior_catalogue.")
    catalogue = _Catalogue(out, keep_draws=keep_draws)
    with contextlib.ExitStack() as files:
        source = _open_features(features, chunk_size, dataset, files)
        head = source.head()
        if head is None or not len(head):
            raise ValueError("the features hold no galaxies: there is nothing to predict.")
        ids = _id_columns(estimator, head, id_columns)
        _check_features(estimator, head, ids)
        settings = catalogue.settings(estimator, n_samples, head, ids,
                                      chunk_size=source.chunk_size, n_rows=source.n_rows)
        done = catalogue.open(settings, restart=restart)
        if done is None:  # complete already
            return catalogue.out
        from tqdm.auto import tqdm

        bar = None  # shown once the first chunk is through: a bad table fails alone
        try:
            for part, (start, size, read) in enumerate(source.chunks()):
                if part not in done:
                    chunk = read()
                    labels = chunk.index if source.indexed else pd.RangeIndex(start,
                                                                              start + size)
                    catalogue.write_part(part, estimator, chunk, labels, ids, n_samples)
                if bar is None:
                    bar = tqdm(total=source.n_rows, unit=" galaxies", desc="posteriors",
                               disable=not progress)
                bar.update(size)
        finally:
            if bar is not None:
                bar.close()
    return catalogue.finish()


def _check_size(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")


# ---- the output -----------------------------------------------------------------------

class _Catalogue:
    """The output of one run: its parts folder, the settings the parts belong to, the
    writing of a part, and the assembly of a single file at the end. Pickled to Dask's
    workers (paths and settings only)."""

    def __init__(self, out, *, keep_draws):
        self.out = Path(out)
        self.keep_draws = bool(keep_draws)
        suffix = self.out.suffix.lower()
        self.single = suffix in _SINGLE_FILES
        self.folder = self.out.with_name(self.out.name + ".partial") if self.single \
            else self.out
        if self.keep_draws and suffix == ".csv":
            raise ValueError(f"cannot write draws to {self.out}: draws need a Parquet output "
                             "(a folder, or a .parquet file).")
        if self.single and self.out.is_dir():
            raise ValueError(f"cannot write {self.out}: it is a folder.")
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"cannot write the catalogue's parts to {self.folder}: it is "
                             "a file.")

    def settings(self, estimator, n_samples, head, id_columns, *, chunk_size, n_rows):
        """What makes the parts' rows: the same settings give the same rows. ``chunk_size``
        says how the features are cut into parts (None: chunks as they come), ``n_rows`` how
        many there are (None: not known before they are read)."""
        final = getattr(estimator, "_final_estimator", estimator)
        return to_jsonable({
            "model": _model_digest(estimator),
            "n_samples": n_samples if n_samples is not None else getattr(final, "n_samples",
                                                                         None),
            "chunk_size": chunk_size,
            "keep_draws": self.keep_draws,
            "id_columns": list(id_columns),
            "features": {"rows": n_rows, "first_row": _digest(head)},
        })

    def open(self, settings, *, restart):
        """The parts already written for these ``settings`` (a set of part numbers), or None
        when the catalogue is complete; a folder of another run is refused."""
        manifest = self.folder / _MANIFEST
        if manifest.is_file() and restart:
            shutil.rmtree(self.folder)
        elif manifest.is_file():
            saved = _read_json(manifest)
            theirs = saved.get("settings", {})
            if theirs != settings:
                differ = sorted(k for k in set(settings) | set(theirs)
                                if settings.get(k) != theirs.get(k))
                raise ValueError(
                    f"{self.folder} holds the posterior catalogue of another run (its "
                    f"{', '.join(differ)} differ): give another output, or restart "
                    "(restart=True; minuet predict --restart) to replace it.")
            if saved.get("complete") and not self.single:
                return None
            return {int(p.stem.split("-")[1]) for p in self.folder.glob("part-*.parquet")}
        elif self.folder.is_dir() and any(self.folder.iterdir()):
            raise ValueError(f"cannot write the catalogue into {self.folder}: it holds files "
                             f"and no {_MANIFEST}, so it is no catalogue; give a new or empty "
                             "folder.")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_manifest(settings, complete=False)
        return set()

    def _write_manifest(self, settings, *, complete):
        text = json.dumps({"format": _FORMAT, "format_version": _FORMAT_VERSION,
                           "settings": settings, "complete": complete}, indent=2)
        atomic_write_bytes(self.folder / _MANIFEST, text.encode("utf-8"))

    def write_part(self, part, estimator, chunk, labels, id_columns, n_samples):
        """Predict one chunk and write its part (aside first, then renamed: whole or not at
        all after a kill; a leading dot keeps Parquet readers off the unfinished file)."""
        import pyarrow.parquet as pq

        table = _summary_table(estimator, chunk, labels, id_columns, n_samples,
                               self.keep_draws)
        path = self.folder / f"part-{part:06d}.parquet"
        aside = self.folder / f".{path.name}.tmp"
        pq.write_table(table, aside)
        os.replace(aside, path)

    def parts(self):
        return sorted(self.folder.glob("part-*.parquet"))

    def finish(self):
        """Mark the folder complete, or assemble the single file and delete the parts."""
        manifest = _read_json(self.folder / _MANIFEST)
        self._write_manifest(manifest["settings"], complete=True)
        for stale in self.folder.glob(".part-*.tmp"):
            stale.unlink()
        if not self.single:
            return self.out
        aside = self.out.with_name(f".{self.out.name}.tmp")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.out.suffix.lower() == ".csv":
            _join_csv(self.parts(), aside)
        else:
            _join_parquet(self.parts(), aside)
        os.replace(aside, self.out)
        shutil.rmtree(self.folder)
        return self.out


def _read_json(path):
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is damaged ({err}); delete its folder to start "
                         "afresh.") from None
    if manifest.get("format") != _FORMAT:
        raise ValueError(f"{path} does not describe a posterior catalogue.")
    return manifest


def _join_parquet(parts, path):
    """One Parquet file of the parts, one row group each (one part in memory at a time)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(parts[0])
    with pq.ParquetWriter(path, schema) as writer:
        for part in parts:
            writer.write_table(pq.read_table(part).cast(schema))


def _join_csv(parts, path):
    import pyarrow.parquet as pq

    with open(path, "w", newline="") as f:
        for i, part in enumerate(parts):
            pq.read_table(part).to_pandas().to_csv(f, header=i == 0, index=False)


def _summary_table(estimator, chunk, labels, id_columns, n_samples, keep_draws):
    """The part of one chunk: identifiers, then the summaries (and the draws), as Arrow."""
    import pyarrow as pa

    identifiers, X = _split(estimator, chunk, id_columns)
    posterior = estimator.predict_dist(X, **({} if n_samples is None
                                              else {"n_samples": n_samples}))
    k = len(posterior.names)
    frame = PropertyPosterior(posterior.samples, posterior.names, index=labels).to_frame()
    if identifiers is not None:
        each = np.repeat(np.arange(len(identifiers)), k)
        frame = pd.concat([identifiers.iloc[each].reset_index(drop=True), frame], axis=1)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if keep_draws:  # the row of galaxy g and target j holds samples[g, :, j]
        draws = np.ascontiguousarray(posterior.samples.transpose(0, 2, 1)).reshape(-1)
        table = table.append_column("draws", pa.FixedSizeListArray.from_arrays(
            pa.array(draws), posterior.n_samples))
    return table


# ---- the model and the features -------------------------------------------------------

def _model_digest(estimator):
    """A fingerprint of what the estimator computes: the fitted state of each step (saved
    models: what ``save`` writes; other steps: all of them), not where it runs."""
    import joblib

    steps = [step for _, step in estimator.steps] if hasattr(estimator, "steps") \
        else [estimator]
    digest = hashlib.sha256()
    for step in steps:
        if hasattr(step, "_saved_state"):
            fitted, tensors = step._saved_state()
            state = (json.dumps(to_jsonable(fitted), sort_keys=True),
                     {k: v.detach().cpu().numpy() for k, v in tensors.items()})
        else:
            state = step
        digest.update(f"{type(step).__name__}:{joblib.hash(state)};".encode())
    return digest.hexdigest()[:16]


def _digest(rows):
    """A fingerprint of a few rows of features (values, columns, dtype)."""
    if isinstance(rows, pd.DataFrame):
        data = (pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes()
                + repr([str(c) for c in rows.columns]).encode())
    else:
        rows = np.asarray(rows)
        data = np.ascontiguousarray(rows).tobytes() + f"{rows.dtype}{rows.shape}".encode()
    return hashlib.sha256(data).hexdigest()[:16]


def _check_features(estimator, head, id_columns):
    """Features the model refuses (another encoder's latents, other columns) are refused
    by one draw for the first galaxy, before anything is written."""
    _summary_table(estimator, head, pd.RangeIndex(len(head)), id_columns, 1, False)


def _feature_names(estimator):
    names = getattr(estimator, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _id_columns(estimator, head, id_columns):
    """The identifier columns of a table of features (none for arrays), checked."""
    if not isinstance(head, pd.DataFrame):
        if id_columns:
            raise ValueError("id_columns name columns of a table; these features are an "
                             "array.")
        return []
    columns = [str(c) for c in head.columns]
    names = _feature_names(estimator)
    if id_columns is None:
        id_columns = [c for c in columns if c not in names] if names is not None else []
    id_columns = [str(c) for c in id_columns]
    missing = [c for c in id_columns + (names or []) if c not in columns]
    if missing:
        raise ValueError(f"the features have no column(s) {missing}; they have {columns}.")
    clash = [c for c in id_columns if c in _SUMMARY_COLUMNS]
    if clash:
        raise ValueError(f"identifier column(s) {clash} would clash with the catalogue's own "
                         f"columns {list(_SUMMARY_COLUMNS)}: rename them.")
    return id_columns


def _split(estimator, chunk, id_columns):
    """``(identifiers, features)`` of a chunk; a DataFrame keeps its ``attrs`` (which
    encoder made the latents), named as the model knows its features."""
    if not isinstance(chunk, pd.DataFrame):
        return None, chunk
    chunk = chunk.set_axis([str(c) for c in chunk.columns], axis=1)
    names = _feature_names(estimator)
    if names is not None:
        return chunk[id_columns], chunk[names]
    X = chunk.drop(columns=id_columns)  # a model without feature names: columns unnamed
    return chunk[id_columns], X.set_axis(range(X.shape[1]), axis=1)


class _Sliced:
    """Features sliced by rows (arrays, memmaps, ``h5py.Dataset``, DataFrames): a chunk is
    read only when it is predicted."""

    def __init__(self, data, chunk_size):
        self.data, self.chunk_size = data, chunk_size
        self.indexed = isinstance(data, pd.DataFrame)
        self.n_rows = len(data) if self.indexed else int(data.shape[0])

    def _rows(self, start, stop):
        return self.data.iloc[start:stop] if self.indexed else self.data[start:stop]

    def head(self):
        return self._rows(0, 1)

    def chunks(self):
        for start in range(0, self.n_rows, self.chunk_size):
            stop = min(start + self.chunk_size, self.n_rows)
            yield start, stop - start, (lambda a=start, b=stop: self._rows(a, b))


class _Streamed:
    """Features that come in chunks (a table file read in order, an iterable): each chunk is
    read, in turn, even when its part is already written."""

    indexed = False

    def __init__(self, chunks, n_rows=None, chunk_size=None):
        self._chunks, self.n_rows, self.chunk_size = iter(chunks), n_rows, chunk_size
        self._first = next(self._chunks, None)

    def head(self):
        if isinstance(self._first, pd.DataFrame):
            return self._first.iloc[:1]
        return None if self._first is None else self._first[:1]

    def chunks(self):
        start = 0
        for chunk in ([] if self._first is None else [self._first]):
            yield start, len(chunk), lambda c=chunk: c
            start += len(chunk)
        self._first = None
        for chunk in self._chunks:
            yield start, len(chunk), lambda c=chunk: c
            start += len(chunk)


def _open_features(features, chunk_size, dataset, files):
    """The features as :class:`_Sliced` or :class:`_Streamed`; files opened on ``files``
    (an ExitStack)."""
    if isinstance(features, (str, os.PathLike)):
        path = Path(features)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            return _Streamed(*_parquet_chunks(path, chunk_size, files), chunk_size)
        if suffix == ".csv":
            return _Streamed(_csv_chunks(path, chunk_size), None, chunk_size)
        if suffix in (".h5", ".hdf5"):
            return _Sliced(_hdf5_dataset(path, dataset, files), chunk_size)
        if suffix == ".npy":
            return _Sliced(np.load(path, mmap_mode="r"), chunk_size)
        raise ValueError(f"cannot read features from {path}: expected .parquet, .csv, "
                         ".h5/.hdf5 or .npy")
    if isinstance(features, pd.DataFrame) or (hasattr(features, "shape")
                                               and hasattr(features, "__getitem__")):
        return _Sliced(features, chunk_size)
    if isinstance(features, Iterable):
        return _Streamed(features)
    raise TypeError(f"features must be a path, an array, a DataFrame or an iterable of "
                    f"chunks; got {type(features).__name__}.")


def _parquet_chunks(path, chunk_size, files):
    """(chunks of exactly ``chunk_size`` rows, the number of rows) of a Parquet table, with
    the ``attrs`` that pandas stored (which encoder made the latents)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = files.enter_context(pq.ParquetFile(path))
    metadata = file.schema_arrow.metadata or {}
    attrs = json.loads(metadata.get(b"PANDAS_ATTRS", b"{}"))
    # a stored pandas index is not a column: rows are numbered by their position
    columns = [c for c in file.schema_arrow.names if not c.startswith("__index_level_")]

    def frame(table):
        out = table.to_pandas()
        out.attrs = dict(attrs)
        return out.reset_index(drop=True)

    def chunks():
        pending, count = [], 0
        for batch in file.iter_batches(batch_size=chunk_size, columns=columns):
            pending.append(batch)
            count += batch.num_rows
            while count >= chunk_size:
                table = pa.Table.from_batches(pending)
                yield frame(table.slice(0, chunk_size))
                rest = table.slice(chunk_size)
                pending, count = rest.to_batches(), rest.num_rows
        if count:
            yield frame(pa.Table.from_batches(pending))

    return chunks(), file.metadata.num_rows


def _csv_chunks(path, chunk_size):
    with pd.read_csv(path, chunksize=chunk_size) as reader:
        for chunk in reader:
            yield csv_latent_id_to_attrs(chunk, path)


def _hdf5_dataset(path, dataset, files):
    import h5py

    handle = files.enter_context(h5py.File(path, "r"))
    names = []
    handle.visititems(lambda name, item: names.append(name)
                      if isinstance(item, h5py.Dataset) else None)
    if dataset is None and len(names) == 1:
        dataset = names[0]
    if dataset not in names:
        raise ValueError(f"{path} holds the datasets {names}: name the features' one "
                         "(dataset=...; minuet predict --dataset).")
    return handle[dataset]
