"""On-disk cache of simulated data sets, keyed by the simulator's parameters.

One uncompressed ``.npz`` per data set (arrays load at disk speed), under
``$MINUET_SK_DATA`` if set, else ``$XDG_CACHE_HOME/minuet_sk`` (``~/.cache/minuet_sk``).
Tables are stored column by column as ``{table}::{column}``; writes go through a
temporary file and an atomic rename, so concurrent writers never leave a torn file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["cache_path", "data_home", "load", "save"]


def data_home():
    """The cache folder (created on first use)."""
    root = os.environ.get("MINUET_SK_DATA")
    if root is None:
        base = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
        root = os.path.join(base, "minuet_sk")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_path(name, params):
    """File for a data set named ``name`` made with ``params`` (a JSON-able dict)."""
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:20]
    return data_home() / f"{name}-{key}.npz"


def save(path, arrays, tables):
    """Write arrays (dict of ndarray) and tables (dict of DataFrame) to ``path``."""
    payload = dict(arrays)
    for table, frame in tables.items():
        for column in frame.columns:
            values = frame[column].to_numpy()
            if values.dtype == object:
                values = values.astype(str)
            payload[f"{table}::{column}"] = values
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **payload)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load(path):
    """Read what :func:`save` wrote: (arrays, tables), or None if absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            content = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None  # a torn or foreign file: simulate again and overwrite it
    arrays, columns = {}, {}
    for key, value in content.items():
        if "::" in key:
            table, column = key.split("::", 1)
            columns.setdefault(table, {})[column] = value
        else:
            arrays[key] = value
    return arrays, {t: pd.DataFrame(cols) for t, cols in columns.items()}
