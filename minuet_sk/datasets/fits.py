"""FITS cutouts, one galaxy per file (the Legacy Survey cutout layout), as the package's
images: float32 ``(n, C, H, W)`` in nanomaggies at 0.262"/pixel, NaN for missing pixels.
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
from sklearn.utils import Bunch

from minuet_sk.datasets._cutouts import center_crop
from minuet_sk.datasets._fits_units import (
    DECALS_PIXEL_SCALE,
    FITS_SUFFIXES,
    celestial_wcs,
    flux_factor,
    flux_unit,
    header_pixel_scale,
    states_its_unit,
)

__all__ = ["load_fits_cutouts"]

# Exact zeros are no data in Legacy Survey cutouts (outside a band's footprint or exposures);
# sky noise never rounds a pixel to exactly 0, but a band this share of zeros is missing.
_ZERO_FRACTION = 0.01
# Errors that mean "this file cannot be read as a cutout"; anything else is a bug.
_READ_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, fits.VerifyError)


def _expand_paths(paths):
    """Files named by a path, a directory, a glob pattern or a list of them, in order."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = sorted(
                str(f) for f in Path(p).iterdir() if f.name.lower().endswith(FITS_SUFFIXES)
            )
            if not found:
                raise ValueError(f"No FITS files ({', '.join(FITS_SUFFIXES)}) in directory {p}.")
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
    """Return ``(data (C, H, W), header, guessed)`` from either cutout layout; ``guessed``:
    no keyword named the bands, which were taken in ``bands`` order."""
    guessed = False
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
            guessed = True
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
        return hdu.data[_select_bands(cube_bands, bands, path)], header, guessed
    planes = [h for h in images if h.data.ndim == 2]
    if not planes:
        raise ValueError(f"{path}: no 2-D or 3-D image HDU.")
    hdu_bands = [_hdu_band(h.header) for h in planes]
    wanted = {b.lower() for b in bands}
    if sum(b is not None and b.lower() in wanted for b in hdu_bands) == len(bands):
        order = _select_bands(hdu_bands, bands, path)
    elif len(planes) == len(bands):
        order = list(range(len(bands)))  # no usable band keywords: HDUs in `bands` order
        guessed = True
    else:
        raise ValueError(
            f"{path}: {len(planes)} image HDU(s) with bands {hdu_bands}; cannot find bands "
            f"{list(bands)} (set BAND or FILTER in each HDU header)."
        )
    shapes = {planes[i].data.shape for i in order}
    if len(shapes) != 1:
        raise ValueError(f"{path}: the band images have different shapes {sorted(shapes)}.")
    return np.stack([planes[i].data for i in order]), planes[order[0]].header, guessed


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


def _zeros_as_missing(data, bands):
    """Set to NaN, in place, the exact zeros of each band where they cover at least
    ``_ZERO_FRACTION`` of it; return ``[(band, fraction), ...]`` of those bands."""
    zeroed = []
    for b, band in enumerate(bands):
        zero = data[b] == 0.0
        fraction = float(zero.mean())
        if fraction >= _ZERO_FRACTION:
            data[b][zero] = np.nan
            zeroed.append((band, fraction))
    return zeroed


#: What a header may leave unsaid, and what the reader then assumes (for the warning).
_GUESSES = {
    "bands": "no BANDS/BAND keyword: the planes read in the order of `bands`",
    "unit": "no BUNIT (nor a Legacy Survey SURVEY keyword): the pixels taken to be in `unit`",
    "pixel_scale": "no WCS or PIXSCALE: the pixel scale not checked",
}


def _read_cutout(path, bands, image_size, unit, pixel_scale, zeros_as_missing, strict):
    with fits.open(path, memmap=False) as hdul:
        data, header, band_guess = _read_cube(hdul, bands, path)
        data = np.asarray(data, dtype=np.float32)  # native byte order, copied out of the file
        ra, dec = _header_coordinates(header, data.shape)
        scale = header_pixel_scale(header, pixel_scale, path)
        factor = flux_factor(header, unit, path)
        guesses = [name for name, guessed in (
            ("bands", band_guess),
            ("unit", unit is not None and not states_its_unit(header)),
            ("pixel_scale", pixel_scale is not None and not np.isfinite(scale)),
        ) if guessed]
    if strict and guesses:
        raise ValueError(f"{path}: " + "; ".join(_GUESSES[g] for g in guesses)
                         + " (the strict mode refuses what a header leaves unsaid).")
    if np.isinf(data).any():
        raise ValueError(f"{path}: infinite pixel values (NaN is the missing-data marker).")
    zeroed = _zeros_as_missing(data, bands) if zeros_as_missing else []
    if factor != 1.0:
        data *= np.float32(factor)
    padded = min(data.shape[-2:]) < image_size
    return center_crop(data, image_size), ra, dec, scale, zeroed, guesses, padded


def _first_files(files, shown=5):
    """``"a, b, c and 4 more"``: the first ``shown`` files of a warning's list."""
    rest = f" and {len(files) - shown} more" if len(files) > shown else ""
    return ", ".join(map(str, files[:shown])) + rest


def _warn_padded(padded, image_size):
    if padded:
        shown = _first_files(padded)
        warnings.warn(
            f"{len(padded)} cutout(s) smaller than image_size={image_size} were centred and "
            f"padded with missing pixels (NaN), which the encoders fill with each cutout's "
            f"own sky: {shown}. Cutouts of the model's size are better.", stacklevel=3)


def _warn_guessed(guessed, unit):
    """One warning for all the files read on assumptions, grouped by assumption."""
    if not guessed:
        return
    lines = []
    for name, text in _GUESSES.items():
        files = [path for path, guesses in guessed if name in guesses]
        if files:
            lines.append(f"  {text.replace('`unit`', str(unit))}: {_first_files(files)}")
    warnings.warn(
        f"{len(guessed)} file(s) read on assumptions their headers do not state:\n"
        + "\n".join(lines) + "\nCheck them, or refuse such files with the strict mode "
        "(strict=True; minuet --strict).", stacklevel=3)


def _warn_zeroed(zeroed):
    if zeroed:
        listing = "\n".join(
            f"  {path}: " + ", ".join(f"{band} ({fraction:.0%} of its pixels)"
                                      for band, fraction in found)
            for path, found in zeroed)
        warnings.warn(
            f"{len(zeroed)} file(s) hold bands of exact zeros, the Legacy Survey's mark of no "
            f"exposure there; read as missing data (NaN):\n{listing}", stacklevel=3)


def _check_on_error(on_error):
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")


def _warn_skipped(skipped):
    if skipped:
        listing = "\n".join(f"  {path}: {reason}" for path, reason in skipped)
        warnings.warn(f"Skipped {len(skipped)} unreadable file(s):\n{listing}", stacklevel=3)


def cutout_ids(filenames):
    """Identifiers of cutouts read from ``filenames``: each file's name without its
    directory and FITS extension (``.fits``, ``.fits.gz``, ...), or, where two files share a
    name, every file's normalised path. A pandas Index named ``id``.

    Examples
    --------
    >>> list(cutout_ids(["a/J1.fits", "a/J2.fits.gz"]))
    ['J1', 'J2']
    >>> list(cutout_ids(["a/J1.fits", "./b/J1.fits"]))
    ['a/J1.fits', 'b/J1.fits']
    """
    paths = [os.path.normpath(str(f)) for f in filenames]
    names = []
    for path in paths:
        name = os.path.basename(path)
        suffix = next((x for x in FITS_SUFFIXES if name.lower().endswith(x)), "")
        names.append(name[: len(name) - len(suffix)] if suffix else name)
    unique = len(set(names)) == len(names)
    return pd.Index(names if unique else paths, name="id", dtype=object)


def load_fits_cutouts(paths, *, bands="grz", image_size=72, on_error="raise",
                      unit="nanomaggy", pixel_scale=DECALS_PIXEL_SCALE,
                      zeros_as_missing=True, strict=False):
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
        Side of the returned square images in pixels: larger cutouts are centre-cropped,
        smaller ones centred and padded with NaN (missing data, which the encoders fill
        with the cutout's own sky), with one warning listing them.
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
    zeros_as_missing : bool, default=True
        Exact zeros mark pixels without data in Legacy Survey cutouts (a band outside its
        footprint, or without exposures). In a band where they cover at least 1% of the
        pixels they are read as missing (NaN, which the estimators treat as missing data),
        and one warning lists such files and bands. False: zeros are kept as values.
    strict : bool, default=False
        What a header leaves unsaid is assumed, and one warning lists the files read on each
        assumption: no ``BANDS``/``BAND`` keyword (planes in ``bands`` order), no ``BUNIT``
        (pixels in ``unit``, except Legacy Survey cutouts, whose ``SURVEY`` keyword says
        nanomaggies), no WCS or ``PIXSCALE`` (pixel scale unchecked). True: such files are
        unreadable (an error, or skipped with ``on_error="skip"``).

    Returns
    -------
    Bunch
        ``images`` float32 ndarray of shape (n, n_bands, image_size, image_size);
        ``ids`` the galaxies' identifiers, a pandas Index named ``id`` (the file names
        without their FITS extension, or the paths where two files share a name);
        ``data`` the same pixels as a DataFrame ``(n, n_bands * image_size**2)`` indexed
        by ``ids`` (no copy): with ``set_output(transform="pandas")`` an encoder's latents
        of ``data``, and the posteriors of a flow on them, carry these IDs as their index;
        ``filenames`` list of str; ``ra``, ``dec`` float64 ndarrays in degrees of the
        cutout centres, from the celestial WCS of the header when there is one, else
        from ``RA``/``DEC`` (or ``RA_OBJ``/``DEC_OBJ``, ``OBJRA``/``OBJDEC``) keywords,
        else NaN; ``pixel_scale`` float64 ndarray of arcsec per pixel from the header
        (NaN where it gives none); ``bands`` str tuple; ``unit`` str or None;
        ``skipped`` list of (file, reason); ``zeroed`` list of (file, [(band, fraction),
        ...]) for the files whose zeros were read as missing; ``assumed`` list of (file,
        [what was assumed: "bands", "unit", "pixel_scale"]); ``padded`` list of the files
        smaller than ``image_size``, centred and padded with NaN (one warning lists them).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from astropy.io import fits
    >>> tmp = tempfile.mkdtemp()
    >>> hdu = fits.PrimaryHDU(np.ones((3, 80, 80), dtype=np.float32))
    >>> hdu.header["BANDS"] = "grz"
    >>> hdu.writeto(os.path.join(tmp, "galaxy.fits"))
    >>> cut = load_fits_cutouts(tmp, bands="rz", image_size=72)
    >>> cut.images.shape, cut.bands, list(cut.ids), cut.data.shape
    ((1, 2, 72, 72), ('r', 'z'), ['galaxy'], (1, 10368))
    """
    _check_on_error(on_error)
    bands = tuple(bands)
    if not bands:
        raise ValueError("bands must name at least one band.")
    if not (isinstance(image_size, (int, np.integer)) and image_size > 0):
        raise ValueError(f"image_size must be a positive integer; got {image_size!r}.")
    files = _expand_paths(paths)
    images, kept, ras, decs, scales, skipped, zeroed, guessed, padded = ([] for _ in range(9))
    if unit is not None:
        flux_unit(unit)  # an unknown unit name fails here, before any file is read
    for path in files:
        try:
            img, ra, dec, scale, zero_bands, guesses, was_padded = _read_cutout(
                path, bands, image_size, unit, pixel_scale, zeros_as_missing, strict)
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
        if zero_bands:
            zeroed.append((path, zero_bands))
        if guesses:
            guessed.append((path, guesses))
        if was_padded:
            padded.append(path)
    _warn_skipped(skipped)
    _warn_padded(padded, image_size)
    _warn_zeroed(zeroed)
    _warn_guessed(guessed, unit)
    shape = (0, len(bands), image_size, image_size)
    images = np.stack(images) if images else np.empty(shape, dtype=np.float32)
    ids = cutout_ids(kept)
    return Bunch(
        images=images,
        data=pd.DataFrame(images.reshape(len(images), int(np.prod(images.shape[1:]))),
                          index=ids, copy=False),
        ids=ids,
        filenames=kept,
        ra=np.asarray(ras, dtype=np.float64),
        dec=np.asarray(decs, dtype=np.float64),
        pixel_scale=np.asarray(scales, dtype=np.float64),
        bands=bands,
        unit=unit,
        skipped=skipped,
        zeroed=zeroed,
        assumed=guessed,
        padded=padded,
    )
