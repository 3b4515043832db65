"""Readers for real survey data: FITS cutouts, Galaxy Zoo vote catalogues, SED catalogues
and a sky cross-match.

Every reader returns the package's conventions: images as float32 ``(n, C, H, W)`` with NaN
for missing pixels, tables as pandas DataFrames with the package's column names
(``ra``/``dec`` in degrees, ``redshift``, ``log_mstar``, ``log_sfr``, GZ DECaLS vote columns).
"""

from __future__ import annotations

import glob
import os
import re
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from sklearn.utils import Bunch

from minuet_sk.datasets._fits_units import (
    DECALS_PIXEL_SCALE,
    celestial_wcs,
    flux_factor,
    header_pixel_scale,
)
from minuet_sk.datasets.zoo import QUESTIONS

__all__ = ["crossmatch", "load_fits_cutouts", "read_gz_votes", "read_sed_catalog"]

_FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fits.fz")
# Errors that mean "this file cannot be read as a cutout"; anything else is a bug.
_READ_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, fits.VerifyError)


def center_crop(images, size, *, fill=np.nan):
    """Centre-crop or pad the last two axes of ``images`` to ``size`` x ``size``.

    Padding uses ``fill`` (NaN: the added pixels are missing data). The crop starts at
    ``(n - size) // 2`` and the padding puts the input at ``(size - n) // 2``, so the
    centre pixel stays the centre pixel for odd sizes.

    Parameters
    ----------
    images : ndarray of shape (..., H, W)
    size : int
    fill : float

    Returns
    -------
    ndarray of shape (..., size, size), float32

    Examples
    --------
    >>> import numpy as np
    >>> center_crop(np.arange(25.0).reshape(5, 5), 3)[1].tolist()
    [11.0, 12.0, 13.0]
    >>> center_crop(np.ones((1, 1)), 3)[0].tolist()
    [nan, nan, nan]
    """
    images = np.asarray(images)
    out = np.full(images.shape[:-2] + (size, size), fill, dtype=np.float32)
    src, dst = [], []
    for n in images.shape[-2:]:
        if n >= size:
            start = (n - size) // 2
            src.append(slice(start, start + size))
            dst.append(slice(0, size))
        else:
            start = (size - n) // 2
            src.append(slice(0, n))
            dst.append(slice(start, start + n))
    out[(..., *dst)] = images[(..., *src)]
    return out


# --------------------------------------------------------------------------- FITS cutouts


def _expand_paths(paths):
    """Files named by a path, a directory, a glob pattern or a list of them, in order."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = sorted(
                str(f) for f in Path(p).iterdir() if f.name.lower().endswith(_FITS_SUFFIXES)
            )
            if not found:
                raise ValueError(f"No FITS files ({', '.join(_FITS_SUFFIXES)}) in directory {p}.")
            files.extend(found)
        elif glob.has_magic(p):
            found = sorted(glob.glob(p))
            if not found:
                raise ValueError(f"No files match the pattern {p}.")
            files.extend(found)
        else:
            files.append(p)
    if not files:
        raise ValueError("No FITS files given.")
    return files


def _parse_bands(value):
    """Band names from a BANDS header value: 'grz', 'g,r,z' or 'g r z'."""
    value = str(value).strip()
    if re.search(r"[,\s]", value):
        return [b for b in re.split(r"[,\s]+", value) if b]
    return list(value)


def _hdu_band(header):
    """Band of a single-band image HDU from BAND, FILTER or EXTNAME ('r DECam ...' -> 'r')."""
    for key in ("BAND", "FILTER", "EXTNAME"):
        if key in header and str(header[key]).strip():
            return str(header[key]).split()[0]
    return None


def _select_bands(cube_bands, bands, path):
    lookup = {b.lower(): i for i, b in enumerate(cube_bands)}
    missing = [b for b in bands if b.lower() not in lookup]
    if missing:
        raise ValueError(f"{path}: bands {missing} not in the file (it has {cube_bands}).")
    return [lookup[b.lower()] for b in bands]


def _read_cube(hdul, bands, path):
    """Return (data (C, H, W), header) from either cutout layout."""
    images = [h for h in hdul if h.is_image and h.data is not None and h.data.size]
    cubes = [h for h in images if h.data.ndim == 3]
    if cubes:
        hdu = cubes[0]
        header = hdu.header
        if "BANDS" in header:
            cube_bands = _parse_bands(header["BANDS"])
        elif "BAND0" in header:
            cube_bands = [str(header[f"BAND{i}"]) for i in range(hdu.data.shape[0])]
        elif hdu.data.shape[0] == len(bands):
            cube_bands = list(bands)  # no band keywords: the planes are taken in `bands` order
        else:
            raise ValueError(
                f"{path}: a cube of {hdu.data.shape[0]} planes without a BANDS keyword; "
                f"cannot tell which planes are bands {list(bands)}."
            )
        if len(cube_bands) != hdu.data.shape[0]:
            raise ValueError(
                f"{path}: BANDS={header.get('BANDS')!r} names {len(cube_bands)} bands but "
                f"the cube has {hdu.data.shape[0]} planes."
            )
        return hdu.data[_select_bands(cube_bands, bands, path)], header
    planes = [h for h in images if h.data.ndim == 2]
    if not planes:
        raise ValueError(f"{path}: no 2-D or 3-D image HDU.")
    hdu_bands = [_hdu_band(h.header) for h in planes]
    wanted = {b.lower() for b in bands}
    if sum(b is not None and b.lower() in wanted for b in hdu_bands) == len(bands):
        order = _select_bands(hdu_bands, bands, path)
    elif len(planes) == len(bands):
        order = list(range(len(bands)))  # no usable band keywords: HDUs in `bands` order
    else:
        raise ValueError(
            f"{path}: {len(planes)} image HDU(s) with bands {hdu_bands}; cannot find bands "
            f"{list(bands)} (set BAND or FILTER in each HDU header)."
        )
    shapes = {planes[i].data.shape for i in order}
    if len(shapes) != 1:
        raise ValueError(f"{path}: the band images have different shapes {sorted(shapes)}.")
    return np.stack([planes[i].data for i in order]), planes[order[0]].header


def _header_coordinates(header, shape):
    """(ra, dec) in degrees of the image centre from a celestial WCS or header keywords."""
    wcs = celestial_wcs(header)
    if wcs is not None:
        ny, nx = shape[-2:]
        ra, dec = wcs.all_pix2world([[(nx - 1) / 2, (ny - 1) / 2]], 0)[0]
        return float(ra) % 360.0, float(dec)
    for ra_key, dec_key in (("RA", "DEC"), ("RA_OBJ", "DEC_OBJ"), ("OBJRA", "OBJDEC")):
        if ra_key in header and dec_key in header:
            ra, dec = header[ra_key], header[dec_key]
            if isinstance(ra, str):  # sexagesimal: RA in hours
                c = SkyCoord(ra, dec, unit=(u.hourangle, u.deg))
                return float(c.ra.deg), float(c.dec.deg)
            return float(ra), float(dec)
    return np.nan, np.nan


def _read_cutout(path, bands, image_size, unit, pixel_scale):
    with fits.open(path, memmap=False) as hdul:
        data, header = _read_cube(hdul, bands, path)
        data = np.asarray(data, dtype=np.float32)  # native byte order, copied out of the file
        ra, dec = _header_coordinates(header, data.shape)
        scale = header_pixel_scale(header, pixel_scale, path)
        factor = flux_factor(header, unit, path)
    if np.isinf(data).any():
        raise ValueError(f"{path}: infinite pixel values (NaN is the missing-data marker).")
    if factor != 1.0:
        data *= np.float32(factor)
    return center_crop(data, image_size), ra, dec, scale


def _check_on_error(on_error):
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")


def _warn_skipped(skipped):
    if skipped:
        listing = "\n".join(f"  {path}: {reason}" for path, reason in skipped)
        warnings.warn(f"Skipped {len(skipped)} unreadable file(s):\n{listing}", stacklevel=3)


def load_fits_cutouts(paths, *, bands="grz", image_size=72, on_error="raise",
                      unit="nanomaggy", pixel_scale=DECALS_PIXEL_SCALE):
    """Load multi-band galaxy cutouts from FITS files.

    Two layouts are read: the Legacy Survey cutout service layout (one image HDU holding a
    cube ``(n_bands, H, W)`` whose ``BANDS`` keyword, e.g. ``'grz'``, or ``BAND0``,
    ``BAND1``... keywords name the planes), and one image HDU per band (the band read
    from the ``BAND``, ``FILTER`` or ``EXTNAME`` keyword). Without band keywords the planes
    or HDUs are taken in the order of ``bands`` when their number matches. Images are
    centre-cropped or NaN-padded to ``image_size``; NaN pixels are kept (missing data).

    Parameters
    ----------
    paths : str, path-like or list of them
        FITS files (one galaxy per file), directories (every ``.fits``, ``.fit``,
        ``.fts``, ``.fits.gz``, ``.fits.fz`` inside, sorted by name) or glob patterns.
    bands : str or sequence of str, default="grz"
        Bands to return, in this order.
    image_size : int, default=72
        Side of the returned square images in pixels.
    on_error : {"raise", "skip"}, default="raise"
        ``"raise"``: an unreadable or malformed file raises ``ValueError`` naming it.
        ``"skip"``: such files are left out and one warning lists them with the reason;
        every other file is returned.
    unit : str or None, default="nanomaggy"
        Flux unit of the returned images. A header's ``BUNIT`` is converted to it with
        astropy (AB: 1 nanomaggy = 3.631 uJy); a ``BUNIT`` that is no flux density (counts,
        ADU) makes the file unreadable. Without ``BUNIT`` the pixels are taken to be in
        ``unit`` already. None: pixels as they are.
    pixel_scale : float or None, default=0.262
        Expected arcsec per pixel (DECaLS). A file whose celestial WCS (or ``PIXSCALE``
        keyword) gives a scale more than 2% off is unreadable: resample it first. None:
        no check.

    Returns
    -------
    Bunch
        ``images`` float32 ndarray of shape (n, n_bands, image_size, image_size);
        ``filenames`` list of str; ``ra``, ``dec`` float64 ndarrays in degrees of the
        cutout centres, from the celestial WCS of the header when there is one, else
        from ``RA``/``DEC`` (or ``RA_OBJ``/``DEC_OBJ``, ``OBJRA``/``OBJDEC``) keywords,
        else NaN; ``pixel_scale`` float64 ndarray of arcsec per pixel from the header
        (NaN where it gives none); ``bands`` str tuple; ``unit`` str or None;
        ``skipped`` list of (file, reason).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from astropy.io import fits
    >>> tmp = tempfile.mkdtemp()
    >>> hdu = fits.PrimaryHDU(np.ones((3, 80, 80), dtype=np.float32))
    >>> hdu.header["BANDS"] = "grz"
    >>> hdu.writeto(os.path.join(tmp, "galaxy.fits"))
    >>> cut = load_fits_cutouts(tmp, bands="rz", image_size=72)
    >>> cut.images.shape, cut.bands
    ((1, 2, 72, 72), ('r', 'z'))
    """
    _check_on_error(on_error)
    bands = tuple(bands)
    if not bands:
        raise ValueError("bands must name at least one band.")
    if not (isinstance(image_size, (int, np.integer)) and image_size > 0):
        raise ValueError(f"image_size must be a positive integer; got {image_size!r}.")
    files = _expand_paths(paths)
    images, kept, ras, decs, scales, skipped = [], [], [], [], [], []
    for path in files:
        try:
            img, ra, dec, scale = _read_cutout(path, bands, image_size, unit, pixel_scale)
        except _READ_ERRORS as exc:
            reason = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            if on_error == "raise":
                raise ValueError(f"Could not read FITS cutout {reason}") from exc
            skipped.append((path, f"{type(exc).__name__}: {exc}"))
            continue
        images.append(img)
        kept.append(path)
        ras.append(ra)
        decs.append(dec)
        scales.append(scale)
    _warn_skipped(skipped)
    shape = (0, len(bands), image_size, image_size)
    return Bunch(
        images=np.stack(images) if images else np.empty(shape, dtype=np.float32),
        filenames=kept,
        ra=np.asarray(ras, dtype=np.float64),
        dec=np.asarray(decs, dtype=np.float64),
        pixel_scale=np.asarray(scales, dtype=np.float64),
        bands=bands,
        unit=unit,
        skipped=skipped,
    )


# --------------------------------------------------------------------------- tables


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
        if name.endswith(_FITS_SUFFIXES) and "fits" in formats:
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


# --------------------------------------------------------------------------- cross-match


def _sky_coords(catalog, ra, dec):
    if isinstance(catalog, SkyCoord):
        return catalog.icrs.ra.deg, catalog.icrs.dec.deg
    if hasattr(catalog, "columns"):
        lower = {str(c).lower(): c for c in catalog.columns}
        cols = []
        for name in (ra, dec):
            col = name if name in catalog.columns else lower.get(name.lower())
            if col is None:
                raise ValueError(f"No {name!r} column; the table has {list(catalog.columns)[:10]}.")
            cols.append(col)
        return (np.asarray(catalog[c], dtype=np.float64) for c in cols)
    ra_values, dec_values = catalog  # a pair of arrays in degrees
    return np.asarray(ra_values, dtype=np.float64), np.asarray(dec_values, dtype=np.float64)


def crossmatch(left, right, *, radius=1.0 * u.arcsec, ra="ra", dec="dec", unique=True):
    """Match two sky catalogues by position (nearest neighbour within ``radius``).

    Uses :meth:`astropy.coordinates.SkyCoord.match_to_catalog_sky`: each ``left`` source
    takes its nearest ``right`` source and is kept when the separation is within
    ``radius``. Rows with NaN coordinates never match.

    Parameters
    ----------
    left, right : pandas.DataFrame, SkyCoord or (ra, dec) pair of arrays in degrees
        DataFrames need ``ra`` and ``dec`` columns in degrees (case-insensitive).
    radius : astropy Quantity or float, default=1 arcsec
        Match radius; a float is in arcseconds.
    ra, dec : str, default="ra", "dec"
        Column names in DataFrames.
    unique : bool, default=True
        When several ``left`` sources take the same ``right`` source, keep only the
        closest pair (one-to-one matches).

    Returns
    -------
    pandas.DataFrame
        Columns ``left_index`` and ``right_index`` (positions, for ``.iloc``) and
        ``separation_arcsec``, sorted by ``left_index``.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"ra": [10.0, 20.0], "dec": [0.0, 0.0]})
    >>> b = pd.DataFrame({"RA": [20.0001, 50.0], "DEC": [0.0, 0.0]})
    >>> m = crossmatch(a, b)
    >>> m[["left_index", "right_index"]].values.tolist(), round(float(m.separation_arcsec[0]), 2)
    ([[1, 0]], 0.36)
    """
    radius = u.Quantity(radius, u.arcsec) if not isinstance(radius, u.Quantity) else radius
    if not radius.unit.is_equivalent(u.arcsec) or radius.value < 0:
        raise ValueError(f"radius must be a non-negative angle; got {radius}.")
    ra1, dec1 = _sky_coords(left, ra, dec)
    ra2, dec2 = _sky_coords(right, ra, dec)
    ok1 = np.flatnonzero(np.isfinite(ra1) & np.isfinite(dec1))
    ok2 = np.flatnonzero(np.isfinite(ra2) & np.isfinite(dec2))
    empty = pd.DataFrame(
        {
            "left_index": np.empty(0, dtype=np.int64),
            "right_index": np.empty(0, dtype=np.int64),
            "separation_arcsec": np.empty(0),
        }
    )
    if len(ok1) == 0 or len(ok2) == 0:
        return empty
    c1 = SkyCoord(ra1[ok1] * u.deg, dec1[ok1] * u.deg)
    c2 = SkyCoord(ra2[ok2] * u.deg, dec2[ok2] * u.deg)
    idx, sep, _ = c1.match_to_catalog_sky(c2)
    idx, sep = np.atleast_1d(idx), np.atleast_1d(sep.to_value(u.arcsec))
    keep = sep <= radius.to_value(u.arcsec)
    matches = pd.DataFrame(
        {"left_index": ok1[keep], "right_index": ok2[idx[keep]], "separation_arcsec": sep[keep]}
    )
    if unique:
        matches = matches.sort_values("separation_arcsec", kind="stable")
        matches = matches.drop_duplicates("right_index").sort_values("left_index")
    return matches.reset_index(drop=True)
