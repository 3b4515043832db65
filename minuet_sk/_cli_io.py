"""Files in and out for the ``minuet`` command line: images, tables, identifiers, models.

Each reader imports what it needs when called, so that ``minuet --help`` starts at once.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

__all__ = [
    "ID_COLUMNS",
    "CLIError",
    "check_output",
    "csv_latent_id_to_attrs",
    "load_model",
    "open_images",
    "read_table",
    "read_table_head",
    "split_identifiers",
    "write_table",
]

#: Columns that identify galaxies rather than describe them: carried from input to output
#: tables, never fed to a model (as are all non-numeric columns).
ID_COLUMNS = ("row", "id", "filename", "ra", "dec")

TABLE_SUFFIXES = (".parquet", ".csv")
# Latents carry the model that made them: in Parquet as DataFrame.attrs (metadata, which
# pandas keeps), in CSV as a column of this name (read back into attrs). The attrs key is
# encoders._latent_features.LATENT_ID, written out: importing it would load torch here.
_LATENT_ID = "minuet_sk.latent_id"
_CSV_LATENT_ID = "latent_id"


class CLIError(Exception):
    """A user mistake, reported as one line without a traceback."""


def check_output(path, suffixes=TABLE_SUFFIXES, *, folder=False):
    """Refuse an output name before any work is done: a wrong suffix, a folder, a folder to
    write into that does not exist or cannot be written. With ``folder``, a name without a
    suffix is a folder to write into (refused when it is a file)."""
    path = Path(path)
    if folder and not path.suffix:
        if path.is_file():
            raise CLIError(f"cannot write into {path}: it is a file, not a folder")
        check_writable_folder(path, f"cannot write {path}")
        return
    if path.suffix.lower() not in suffixes:
        raise CLIError(f"cannot write {path}: use a {' or '.join(suffixes)} file name"
                       + (" or a folder" if folder else ""))
    if path.is_dir():
        raise CLIError(f"cannot write {path}: it is a folder")
    check_writable_folder(path.parent, f"cannot write {path}")


def check_writable_folder(folder, what):
    """Refuse, before any work is done, a folder that cannot be written or made (missing
    folders are made when the output is written): the nearest existing one must be a
    writable folder."""
    folder = Path(folder).absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise CLIError(f"{what}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise CLIError(f"{what}: the folder {existing} is not writable")


@contextlib.contextmanager
def open_images(path, dataset="images", **fits_options):
    """``(images, identifiers)`` from .npy, .h5/.hdf5 or FITS (a file, folder or glob).

    A context manager: an HDF5 file stays open (read in batches) until the block ends.
    ``identifiers`` is a DataFrame with one row per image: ``row`` for arrays; ``filename``,
    ``ra`` and ``dec`` for FITS cutouts, read by
    :func:`~minuet_sk.datasets.load_fits_cutouts` with ``fits_options`` (``image_size``,
    ``bands``, ``unit``, ``pixel_scale``; its defaults for those not given).
    """
    import pandas as pd

    path = str(path)
    suffix = Path(path).suffix.lower()
    if suffix in (".npy", ".h5", ".hdf5") and not Path(path).is_file():
        raise CLIError(f"no such file: {path}")
    if suffix == ".npy":
        import numpy as np

        try:
            images = np.load(path, mmap_mode="r")
        except ValueError as err:  # not a .npy file, or a pickled object array
            raise CLIError(f"cannot read {path} as a NumPy array: {err}") from None
        yield _numeric(images, path), pd.DataFrame({"row": range(len(images))})
    elif suffix in (".h5", ".hdf5"):
        import h5py

        try:
            handle = h5py.File(path, "r")
        except OSError as err:
            raise CLIError(f"cannot read {path} as HDF5: {err}") from None
        with handle:
            if dataset not in handle:
                raise CLIError(f"{path} has no dataset {dataset!r}; it holds "
                               f"{sorted(handle)} (choose one with --dataset)")
            images = _numeric(handle[dataset], path)
            yield images, pd.DataFrame({"row": range(images.shape[0])})
    else:
        import numpy as np

        from minuet_sk.datasets import load_fits_cutouts

        try:
            cutouts = load_fits_cutouts(path, **fits_options)
        except FileNotFoundError as err:
            raise CLIError(f"no images found at {path} (.npy, .h5 or FITS files): "
                           f"{err}") from None
        if not len(cutouts.images):
            raise CLIError(f"no readable cutouts at {path}: every one was skipped")
        # file names as the user would write them; coordinates to 1e-7 degrees (0.4 mas)
        yield cutouts.images, pd.DataFrame(
            {"filename": [os.path.normpath(f) for f in cutouts.filenames],
             "ra": np.round(cutouts.ra, 7), "dec": np.round(cutouts.dec, 7)})


def _numeric(images, path):
    if images.dtype.kind not in "biuf":
        raise CLIError(f"{path} holds {images.dtype} values; images must be numeric pixels")
    return images


def read_table(path):
    """A DataFrame from .parquet or .csv (a .npy array becomes columns 0..k-1)."""
    import numpy as np
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)  # pandas keeps DataFrame.attrs in Parquet's metadata
    if suffix == ".csv":
        return csv_latent_id_to_attrs(pd.read_csv(path), path)
    if suffix == ".npy":
        return pd.DataFrame(np.load(path))
    raise CLIError(f"cannot read {path}: expected .parquet, .csv or .npy")


def read_table_head(path, n_rows=100):
    """The columns of a .parquet or .csv table, as :func:`read_table` gives them, with at
    most its first ``n_rows`` rows (none of a Parquet file: its schema says the types); None
    for files of arrays (.npy, .h5/.hdf5), which have no columns."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_schema(path).empty_table().to_pandas()
    if suffix == ".csv":
        return csv_latent_id_to_attrs(pd.read_csv(path, nrows=n_rows), path)
    return None


def csv_latent_id_to_attrs(frame, path):
    """A CSV table's ``latent_id`` column (which model made the latents) back in attrs;
    ValueError where the rows name several models. Shared by :func:`read_table` and the
    chunked reader of :func:`minuet_sk.flow.write_posterior_catalogue`."""
    if _CSV_LATENT_ID in frame.columns:
        made_by = frame.pop(_CSV_LATENT_ID).dropna().unique()
        if len(made_by) > 1:
            raise ValueError(f"{path} mixes the latents of several models: {list(made_by)}")
        frame.attrs = {_LATENT_ID: str(made_by[0])} if len(made_by) else {}
    return frame


def split_identifiers(frame, features=None):
    """``(identifiers, features)`` of a table: the identifier columns (:data:`ID_COLUMNS`
    and every non-numeric column) and the rest, or the named ``features`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> ids, X = split_identifiers(pd.DataFrame({"filename": ["a"], "minuet0": [0.5]}))
    >>> list(ids.columns), list(X.columns)
    (['filename'], ['minuet0'])
    """
    names = [str(c) for c in frame.columns]
    frame = frame.set_axis(names, axis=1)
    identifiers = [c for c in names if c.lower() in ID_COLUMNS
                   or not _is_numeric(frame[c])]
    if features is None:
        features = [c for c in names if c not in identifiers]
    else:
        missing = [c for c in features if c not in names]
        if missing:
            raise CLIError(f"the table has no column(s) {missing} that the model was fitted "
                           f"on; it has {names}")
    if not features:
        raise CLIError(f"the table has no feature columns, only identifiers {identifiers}")
    return frame[identifiers].reset_index(drop=True), frame[list(features)]


def _is_numeric(column):
    return column.dtype.kind in "biuf"


def write_table(frame, path):
    """Write a DataFrame as .parquet or .csv (by extension)."""
    path = Path(path)
    check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    else:  # a CSV file has no metadata: which model made the latents is a column
        if _LATENT_ID in frame.attrs:
            frame = frame.assign(**{_CSV_LATENT_ID: frame.attrs[_LATENT_ID]})
        frame.to_csv(path, index=False)
    print(f"wrote {path} ({len(frame)} rows)")


def write_reconstructions(path, reconstructions, draws, ids, attrs):
    """An HDF5 file of reconstructions with the galaxies' identifiers: datasets
    ``reconstructions`` (n, C, H, W), ``draws`` (n, n_samples, C, H, W) when given, and one
    dataset per identifier column (``filename``, ``ra``, ``dec`` or ``row``); ``attrs`` as
    the file's attributes."""
    import h5py
    import numpy as np

    with h5py.File(path, "w") as f:
        f["reconstructions"] = reconstructions
        if draws is not None:
            f["draws"] = draws
        for column in ids.columns:
            values = ids[column].to_numpy()
            if values.dtype.kind in "OUS":
                f.create_dataset(column, data=values.astype(str).astype(object),
                                 dtype=h5py.string_dtype())
            else:
                f[column] = np.asarray(values)
        f.attrs.update(attrs)


def load_model(path, device="auto"):
    """Shipped weights by name (``sim-grz-72``), or any estimator saved by ``save`` (the
    class is named in its config.json), placed on ``device``."""
    from minuet_sk._persistence import load_estimator, load_pretrained, shipped_models

    if (Path(path) / "config.json").is_file():
        return load_estimator(path, device=device)
    shipped = shipped_models()
    if str(path) in shipped:
        return load_pretrained(str(path), device=device)
    raise CLIError(f"{path} is neither a saved model (a folder with config.json) nor shipped "
                   f"weights ({', '.join(shipped)}); create one with `minuet fit`")


def note_input_units(model):
    """Say what the model is fed: a CLI reads pixels from files as they are."""
    if hasattr(model, "stretch_") and model.stretch_ is None:  # an encoder without one
        print(f"note: this {type(model).__name__} has no stretch of its own: it is fed the "
              "pixels of the files as they are (`minuet fit` stretches inside the model, "
              "which then takes fluxes)", file=sys.stderr)
