"""Posteriors in files: the samples, target names and galaxy identifiers of a
:class:`~minuet_sk.PropertyPosterior` in HDF5 or in a long Parquet table, and back
(what its ``to_hdf5``/``read_hdf5`` and ``to_parquet``/``read_parquet`` call)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

__all__ = ["read_hdf5", "read_parquet", "write_hdf5", "write_parquet"]

# What the files say they hold, so that readers refuse others.
_FILE_FORMAT = "minuet_sk.PropertyPosterior"
_FILE_FORMAT_VERSION = 1
# The long (Parquet) table's own columns; target names must differ from them.
_LONG_COLUMNS = ("galaxy", "draw")


def _index_for_file(index):
    """``(values, description)``: the identifiers as numbers or strings, and what rebuilds
    the index from them (kind, name, and the bounds of a RangeIndex)."""
    name = index.name
    description = {
        "name": name if name is None or isinstance(name, str | int | float) else str(name)
    }
    if isinstance(index, pd.RangeIndex):
        description.update(kind="range", start=index.start, stop=index.stop, step=index.step)
        return index.to_numpy(), description
    if index.dtype.kind in "iuf":
        description["kind"] = "number"
        return index.to_numpy(), description
    description["kind"] = "string"
    return np.array([str(value) for value in index], dtype=object), description


def _index_from_file(values, description):
    if description.get("kind") == "range":
        return pd.RangeIndex(description["start"], description["stop"], description["step"],
                             name=description.get("name"))
    return pd.Index(values, name=description.get("name"))


def write_hdf5(samples, names, index, path):
    """Datasets ``samples``, ``names`` and ``index`` of an HDF5 file at ``path``."""
    import h5py

    values, description = _index_for_file(index)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = _FILE_FORMAT
        f.attrs["format_version"] = _FILE_FORMAT_VERSION
        f.attrs["index"] = json.dumps(description)
        f.create_dataset("samples", data=samples)
        f.create_dataset("names", data=np.array(names, dtype=object),
                         dtype=h5py.string_dtype())
        if description["kind"] == "string":
            f.create_dataset("index", data=values, dtype=h5py.string_dtype())
        else:
            f.create_dataset("index", data=values)


def read_hdf5(path):
    """``(samples, names, index)`` of a file written by :func:`write_hdf5`."""
    import h5py

    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != _FILE_FORMAT:
            raise ValueError(f"{path} is not a PropertyPosterior file (write one with to_hdf5).")
        description = json.loads(f.attrs["index"])
        samples = f["samples"][()]
        names = f["names"].asstr()[()].tolist()
        index = f["index"]
        values = index.asstr()[()] if description["kind"] == "string" else index[()]
    return samples, names, _index_from_file(values, description)


def write_parquet(samples, names, index, path):
    """A long Parquet table at ``path``: one row per galaxy and draw."""
    clash = [name for name in names if name in _LONG_COLUMNS]
    if clash or len(set(names)) != len(names):
        raise ValueError(
            f"to_parquet needs distinct target names other than {list(_LONG_COLUMNS)}; "
            f"got {names}."
        )
    n, s, _ = samples.shape
    values, description = _index_for_file(index)
    columns = {"galaxy": np.repeat(values, s), "draw": np.tile(np.arange(s, dtype=np.int32), n)}
    columns.update({name: samples[:, :, j].ravel() for j, name in enumerate(names)})
    frame = pd.DataFrame(columns)
    frame.attrs[_FILE_FORMAT] = {
        "format_version": _FILE_FORMAT_VERSION, "n_samples": s, "index": description,
    }
    frame.to_parquet(path, engine="pyarrow", index=False)


def read_parquet(path):
    """``(samples, names, index)`` of a long table: rows galaxy by galaxy, draws ``0 ..
    n_samples-1`` in order, every column but ``galaxy`` and ``draw`` a target."""
    frame = pd.read_parquet(path, engine="pyarrow")
    stored = frame.attrs.get(_FILE_FORMAT, {})
    names = [str(c) for c in frame.columns if c not in _LONG_COLUMNS]
    not_long = ValueError(
        f"{path} is not a posterior in long format: it needs columns 'galaxy', 'draw' and "
        "one per target, rows galaxy by galaxy with draws 0 .. n_samples-1 (as "
        "to_parquet writes them)."
    )
    if not set(_LONG_COLUMNS) <= set(frame.columns) or not names:
        raise not_long
    draw = frame["draw"].to_numpy()
    s = int(stored.get("n_samples", draw.max() + 1 if len(draw) else 0))
    n = len(frame) // s if s else 0
    if n * s != len(frame) or not np.array_equal(draw, np.tile(np.arange(s), n)):
        raise not_long
    galaxy = frame["galaxy"].to_numpy().reshape(n, s)
    if not (galaxy == galaxy[:, :1]).all():
        raise not_long
    samples = frame[names].to_numpy().reshape(n, s, len(names))
    return samples, names, _index_from_file(galaxy[:, 0], stored.get("index", {}))
