"""Catalogues of real galaxies as DataFrames with the package's column names: Galaxy Zoo
DECaLS vote tables and SED-fitting catalogues (``redshift``, ``log_mstar``, ``log_sfr``).
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pandas as pd
from astropy.table import Table

from minuet_sk.datasets._fits_units import FITS_SUFFIXES
from minuet_sk.datasets.zoo import QUESTIONS

__all__ = ["read_gz_votes", "read_sed_catalog"]


def _read_table_file(path, formats):
    """Read a csv or parquet file (or FITS when allowed) into a DataFrame, naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    name = path.lower()
    try:
        if name.endswith((".parquet", ".pq")) and "parquet" in formats:
            return pd.read_parquet(path)
        if name.endswith((".csv", ".csv.gz", ".txt")) and "csv" in formats:
            return pd.read_csv(path)
        if name.endswith(FITS_SUFFIXES) and "fits" in formats:
            return _fits_table_to_pandas(Table.read(path, format="fits"))
    except ImportError:
        raise
    except Exception as exc:  # pandas, pyarrow and astropy each raise their own types
        raise ValueError(f"Could not read table {path}: {type(exc).__name__}: {exc}") from exc
    raise ValueError(f"{path}: unknown table format; expected one of {formats}.")


def _fits_table_to_pandas(table):
    for name in table.colnames:  # FITS strings come back as bytes or padded
        if table[name].dtype.kind == "S":
            table[name] = np.char.strip(np.char.decode(table[name], "ascii"))
    if table.masked or any(hasattr(table[c], "mask") for c in table.colnames):
        for name in table.colnames:
            col = table[name]
            if hasattr(col, "mask") and col.dtype.kind == "f":
                table[name] = col.filled(np.nan)
    return table.to_pandas()


# GZD-1/2 answers whose meaning is the GZD-5 answer (Walmsley et al. 2022): "completely"
# round was renamed "round"; merging "neither" is "none". The other GZD-1/2 answers (bar
# yes/no, bulge-size obvious, merging tidal-debris/both) have no GZD-5 twin and keep their
# names.
_GZD12_ANSWERS = {"how-rounded_completely": "how-rounded_round", "merging_neither": "merging_none"}


def _gz_rename(columns):
    renames = {}
    present = set(columns)
    for col in columns:
        new = col
        for old, gzd5 in _GZD12_ANSWERS.items():
            if col == old or col.startswith(old + "_"):
                new = gzd5 + col[len(old) :]
        question = col[: -len("_total")] if col.endswith("_total") else None
        if question in QUESTIONS:
            new = f"{question}_total-votes"
        if col.lower() in ("ra", "dec") and col not in ("ra", "dec"):
            new = col.lower()
        if new != col and new not in present:
            renames[col] = new
    return renames


def _question_columns(columns, question, kind):
    """Answer columns of a question: counts ``{q}_{a}`` or fractions ``{q}_{a}_fraction``."""
    pattern = re.compile(re.escape(question) + r"_([^_]+)" + ("_fraction" if kind else "") + "$")
    return [c for c in columns if pattern.match(c) and not c.endswith(("_total-votes", "_total"))]


def read_gz_votes(path, *, key="iauname", fraction_tolerance=0.02):
    """Read a Galaxy Zoo DECaLS vote catalogue (volunteer votes or automated posteriors).

    Columns follow the GZ DECaLS releases (Walmsley et al. 2022): ``{question}_{answer}``
    counts, ``{question}_{answer}_fraction`` and ``{question}_total-votes``. Older
    releases' ``{question}_total`` is renamed ``{question}_total-votes``; the GZD-1/2
    answers that only changed name are mapped to GZD-5 (``how-rounded_completely`` ->
    ``how-rounded_round``, ``merging_neither`` -> ``merging_none``); GZD-1/2 answers with
    no GZD-5 equivalent (``bar_yes``/``bar_no``, ``bulge-size_obvious``,
    ``merging_tidal-debris``, ``merging_both``) keep their names, so the ``merger`` and
    ``bar`` tasks of :func:`gz_binary_labels` need GZD-5 votes. Missing fractions are
    computed from counts and totals. ``RA``/``DEC`` are renamed ``ra``/``dec``.

    Parameters
    ----------
    path : str or path-like
        ``.csv`` (optionally ``.csv.gz``) or ``.parquet`` file.
    key : str, default="iauname"
        Column that identifies galaxies; it becomes the (unique) index.
    fraction_tolerance : float, default=0.02
        A warning names the questions whose answer fractions do not sum to 1 within this
        tolerance for galaxies with votes on the question.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``key``, with ``ra``, ``dec`` (degrees) and the vote columns (float).
        :func:`gz_binary_labels` works on it directly.

    Raises
    ------
    ValueError
        Unreadable file (named), missing ``key``/``ra``/``dec``, duplicate keys, non-numeric
        vote columns, fractions outside [0, 1], negative counts.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from minuet_sk.datasets import gz_binary_labels
    >>> path = os.path.join(tempfile.mkdtemp(), "votes.csv")
    >>> pd.DataFrame({"iauname": ["J1", "J2"], "ra": [10.0, 20.0], "dec": [0.0, 1.0],
    ...               "has-spiral-arms_yes": [9, 1], "has-spiral-arms_no": [1, 9],
    ...               "has-spiral-arms_total": [10, 10]}).to_csv(path, index=False)
    >>> votes = read_gz_votes(path)
    >>> votes["has-spiral-arms_yes_fraction"].tolist()
    [0.9, 0.1]
    >>> gz_binary_labels(votes, "spiral").tolist()
    [1.0, 0.0]
    """
    df = _read_table_file(path, ("csv", "parquet"))
    df = df.rename(columns=_gz_rename(list(df.columns)))
    for col in (key, "ra", "dec"):
        if col not in df.columns:
            raise ValueError(
                f"{path}: no {col!r} column; the catalogue has {list(df.columns)[:10]}..."
            )
    duplicated = df[key][df[key].duplicated()]
    if len(duplicated):
        raise ValueError(f"{path}: {len(duplicated)} duplicate {key!r}, e.g. {duplicated.iloc[0]}.")
    vote_cols = [
        c
        for q in QUESTIONS
        for c in df.columns
        if c.startswith(q + "_")
        and (c.endswith(("_fraction", "_total-votes")) or "_" not in c[len(q) + 1 :])
    ]
    for col in ["ra", "dec", *vote_cols]:
        try:
            df[col] = df[col].astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: column {col!r} is not numeric ({exc}).") from exc
    bad = ~df["ra"].between(0, 360) | ~df["dec"].between(-90, 90)
    if bad.any():
        raise ValueError(f"{path}: {int(bad.sum())} row(s) with ra/dec outside [0,360]x[-90,90].")
    for question in QUESTIONS:
        total = f"{question}_total-votes"
        counts = _question_columns(df.columns, question, kind=0)
        if counts and total not in df.columns:
            df[total] = df[counts].sum(axis=1, min_count=1)
        for col in counts + ([total] if total in df.columns else []):
            if (df[col] < 0).any():
                raise ValueError(f"{path}: negative vote counts in {col!r}.")
        for col in counts:
            if f"{col}_fraction" not in df.columns:
                df[f"{col}_fraction"] = df[col] / df[total].where(df[total] > 0)
        fractions = _question_columns(df.columns, question, kind=1)
        for col in fractions:
            outside = ~df[col].isna() & ~df[col].between(-1e-6, 1 + 1e-6)
            if outside.any():
                raise ValueError(f"{path}: {int(outside.sum())} value(s) of {col!r} outside [0, 1].")
        if fractions:
            voted = df[total] > 0 if total in df.columns else df[fractions].notna().any(axis=1)
            sums = df.loc[voted, fractions].sum(axis=1)
            off = (sums - 1).abs() > fraction_tolerance
            if off.any():
                warnings.warn(
                    f"{path}: the {question!r} fractions of {int(off.sum())} galaxies do not "
                    f"sum to 1 (within {fraction_tolerance}).",
                    stacklevel=2,
                )
    return df.set_index(key)


#: Default column names of Zou et al. 2022-style SED catalogues (photo-z, spec-z, stellar
#: mass and SFR from SED fitting), matched case-insensitively, first found wins. Check the
#: names of your file: a ``columns`` mapping overrides these.
SED_COLUMNS = {
    "photo_z": ("photo_z", "photoz", "z_phot", "zphot", "photo_zbest", "z_best"),
    "spec_z": ("spec_z", "specz", "z_spec", "zspec"),
    "log_mstar": ("mass_best", "log_mstar", "logmstar", "log_mass", "lgm", "logm"),
    "log_sfr": ("sfr_best", "log_sfr", "logsfr", "lgsfr", "sfr"),
    "ra": ("ra", "ra_deg", "raj2000"),
    "dec": ("dec", "dec_deg", "dej2000", "decj2000"),
}

#: Physical ranges kept by ``read_sed_catalog(..., physical_cuts=True)`` (as in the Minuet
#: paper: 0 < z, 5 < log M* < 13, -3 < log SFR < 3); bounds are exclusive.
PHYSICAL_CUTS = {"redshift": (0.0, np.inf), "log_mstar": (5.0, 13.0), "log_sfr": (-3.0, 3.0)}


def read_sed_catalog(
    path, *, columns=None, physical_cuts=False, missing_values=(-99.0, -999.0, -9999.0)
):
    """Read an SED-fitting catalogue into pandas with the package's target names.

    FITS and csv tables are read with :mod:`astropy.table`. The targets are ``redshift``
    (the spectroscopic redshift where there is a finite one, else the photometric one;
    ``redshift_is_spec`` says which), ``log_mstar`` (log10 Msun) and ``log_sfr``
    (log10 Msun/yr), found through :data:`SED_COLUMNS` (Zou et al. 2022-style names) or
    the ``columns`` mapping. All other columns are kept unchanged.

    Parameters
    ----------
    path : str or path-like
        ``.fits`` (first table HDU), ``.csv`` or ``.parquet`` file.
    columns : dict, default=None
        ``{package name: column in the file}`` for any of ``photo_z``, ``spec_z``,
        ``redshift`` (used as is), ``log_mstar``, ``log_sfr``, ``ra``, ``dec``; overrides
        the defaults. A mapped column that is not in the file is a ``ValueError``.
    physical_cuts : bool, default=False
        Keep only rows with 0 < z, 5 < log M* < 13 and -3 < log SFR < 3 (NaN fails).
    missing_values : tuple of float, default=(-99, -999, -9999)
        Sentinels that mean "no value" in the target columns; they become NaN, as do
        masked FITS entries.

    Returns
    -------
    pandas.DataFrame
        With ``redshift``, ``log_mstar``, ``log_sfr`` (those found), ``redshift_is_spec``
        (when the redshift comes from spec-z/photo-z columns rather than a ``redshift``
        mapping) and ``ra``/``dec`` when present, then the file's other columns.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "sed.csv")
    >>> pd.DataFrame({"RA": [1.0, 2.0], "DEC": [0.0, 0.5], "photo_z": [0.1, 0.3],
    ...               "spec_z": [0.12, -99], "MASS_BEST": [10.5, 4.0],
    ...               "SFR_BEST": [0.2, -1.0]}).to_csv(path, index=False)
    >>> cat = read_sed_catalog(path)
    >>> cat["redshift"].tolist(), cat["redshift_is_spec"].tolist()
    ([0.12, 0.3], [True, False])
    >>> len(read_sed_catalog(path, physical_cuts=True))
    1
    """
    df = _read_table_file(path, ("fits", "csv", "parquet"))
    lower = {c.lower(): c for c in df.columns}
    found = {}
    for name, candidates in SED_COLUMNS.items():
        for cand in candidates:
            if cand in lower:
                found[name] = lower[cand]
                break
    if columns:
        unknown = set(columns) - set(SED_COLUMNS) - {"redshift"}
        if unknown:
            raise ValueError(
                f"Unknown target names {sorted(unknown)} in columns; use "
                f"{sorted(set(SED_COLUMNS) | {'redshift'})}."
            )
        absent = {k: v for k, v in columns.items() if v not in df.columns}
        if absent:
            raise ValueError(f"{path}: mapped columns not in the file: {absent}.")
        found.update(columns)
    if not found:
        raise ValueError(
            f"{path}: none of the expected columns (e.g. photo_z, mass_best, sfr_best) were "
            "found; pass columns={'photo_z': ..., 'log_mstar': ..., 'log_sfr': ...}."
        )

    def numeric(name):
        values = pd.to_numeric(df[found[name]], errors="coerce").astype(np.float64)
        return values.mask(values.isin(missing_values))

    out = pd.DataFrame(index=df.index)
    if "redshift" in found:
        out["redshift"] = numeric("redshift")
    elif "photo_z" in found or "spec_z" in found:
        spec = numeric("spec_z") if "spec_z" in found else pd.Series(np.nan, index=df.index)
        photo = numeric("photo_z") if "photo_z" in found else pd.Series(np.nan, index=df.index)
        is_spec = np.isfinite(spec) & (spec > 0)
        out["redshift"] = spec.where(is_spec, photo)
        out["redshift_is_spec"] = is_spec
    for name in ("log_mstar", "log_sfr", "ra", "dec"):
        if name in found:
            out[name] = numeric(name)
    used = set(found.values())
    rest = df[[c for c in df.columns if c not in used and c not in out.columns]]
    out = pd.concat([out, rest], axis=1)
    if physical_cuts:
        keep = pd.Series(True, index=out.index)
        for name, (low, high) in PHYSICAL_CUTS.items():
            if name not in out.columns:
                raise ValueError(f"physical_cuts needs {name!r}, which {path} does not provide.")
            keep &= (out[name] > low) & (out[name] < high)
        out = out[keep]
    return out
