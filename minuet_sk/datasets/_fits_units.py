"""Flux units and pixel scale of FITS cutouts, read from their headers with astropy.

The package's images are in nanomaggies (AB zero point 22.5, i.e. 1 nanomaggy = 3.631 uJy)
at the DECaLS pixel scale, 0.262"/pixel. A cutout whose ``BUNIT`` is another flux density
(Jy, mJy, maggy...) is converted; one whose ``BUNIT`` is no flux (counts, ADU) or whose WCS
pixel scale differs from the expected one is refused with a message, never read silently.
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

__all__ = ["DECALS_PIXEL_SCALE", "FITS_SUFFIXES", "LEGACY_SURVEYS", "celestial_wcs",
           "flux_factor", "flux_unit", "header_pixel_scale", "states_its_unit"]

#: File name endings read as FITS.
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fits.fz")
#: arcsec per pixel of DECaLS / Legacy Survey images.
DECALS_PIXEL_SCALE = 0.262
# AB magnitudes: a maggy is 3631 Jy, so flux densities convert to (nano)maggies.
_AB = u.zero_point_flux(3631 * u.Jy)
# Relative tolerance on the pixel scale (headers round it).
_SCALE_TOLERANCE = 0.02


def flux_factor(header, unit, path):
    """Factor that turns the pixels of a cutout with ``header`` into ``unit``.

    1 when ``unit`` is None (no check) or the header has no ``BUNIT``.

    Examples
    --------
    >>> from astropy.io import fits
    >>> round(flux_factor(fits.Header({"BUNIT": "uJy"}), "nanomaggy", "x.fits"), 4)
    0.2754
    """
    if unit is None or not str(header.get("BUNIT", "")).strip():
        return 1.0
    found = str(header["BUNIT"]).strip()
    try:
        pixels = flux_unit(found)
    except ValueError:
        raise ValueError(f"{path}: BUNIT={found!r} is no unit astropy knows; give the file "
                         "a flux unit (nanomaggy, Jy...) or read it with unit=None.") from None
    try:
        return float((1.0 * pixels).to_value(flux_unit(unit), _AB))
    except u.UnitsError:
        raise ValueError(f"{path}: BUNIT={found!r} cannot be converted to {unit}: its pixels "
                         "are counts, not a flux, so calibrate the cutouts (to nanomaggies, "
                         "say) first.") from None


#: Advice in the reader's messages that only a Python caller can follow, and what the
#: command line says instead (it reads cutouts as its model takes them: no unit or scale
#: of its own to give).
PYTHON_ONLY_ADVICE = {
    ", or pass pixel_scale=None to read them as they are.": ".",
    " or read it with unit=None.": ".",
    "with the strict mode (strict=True; minuet --strict)": "with --strict",
}


# Spellings of flux units that astronomers write and astropy does not parse (case aside:
# "MJy" is megajansky, so jansky prefixes keep their case).
_UNIT_ALIASES = {"nanomaggies": "nanomaggy", "nmaggy": "nanomaggy", "nmaggies": "nanomaggy",
                 "nanomaggy": "nanomaggy", "nmgy": "nanomaggy", "maggies": "maggy",
                 "maggy": "maggy", "jy": "Jy", "jansky": "Jy"}


def flux_unit(name):
    """The astropy unit of a flux unit name, also as astronomers spell it: ``nanomaggies``,
    ``NANOMAGGY``, ``nmgy``, ``maggies``, ``JY``.

    Examples
    --------
    >>> [str(flux_unit(n)) for n in ("nanomaggies", "NANOMAGGY", "nmgy", "uJy")]
    ['nmgy', 'nmgy', 'nmgy', 'uJy']
    """
    name = str(name).strip()
    try:
        return u.Unit(name)
    except ValueError:
        alias = _UNIT_ALIASES.get(name.lower())
        if alias is None:
            raise
        return u.Unit(alias)


#: ``SURVEY`` keywords of the Legacy Survey cutout service, whose cutouts are nanomaggies
#: without a ``BUNIT`` (legacysurvey.org: "images are in nanomaggies").
LEGACY_SURVEYS = ("decals", "legacysurvey", "ls", "bass", "mzls", "des", "dels")


def states_its_unit(header):
    """Whether a header says what its pixels are: a ``BUNIT``, or the ``SURVEY`` keyword of a
    Legacy Survey cutout (nanomaggies by the survey's definition)."""
    if str(header.get("BUNIT", "")).strip():
        return True
    survey = str(header.get("SURVEY", "")).strip().lower().replace(" ", "").replace("-", "")
    return survey in LEGACY_SURVEYS


def celestial_wcs(header):
    """The 2-D celestial WCS of a header, or None when it has none (or a broken one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header).celestial
        except (ValueError, KeyError, MemoryError):
            return None
    return wcs if wcs.has_celestial and wcs.naxis == 2 else None


def header_pixel_scale(header, expected, path):
    """Pixel scale in arcsec of a cutout (NaN when the header gives none); refuses one that
    differs from ``expected`` by more than 2% (``expected=None``: no check).

    Examples
    --------
    >>> from astropy.io import fits
    >>> header = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN",
    ...                       "CDELT1": -0.262 / 3600, "CDELT2": 0.262 / 3600})
    >>> round(header_pixel_scale(header, 0.262, "x.fits"), 3)
    0.262
    """
    scale = np.nan
    wcs = celestial_wcs(header)
    if wcs is not None:
        scale = float(np.mean(proj_plane_pixel_scales(wcs)) * 3600.0)
    elif "PIXSCALE" in header:
        scale = float(header["PIXSCALE"])
    if expected is not None and np.isfinite(scale) \
            and abs(scale / expected - 1.0) > _SCALE_TOLERANCE:
        raise ValueError(
            f"{path}: {scale:.4g} arcsec/pixel, but {expected} arcsec/pixel is expected. "
            "Cutouts resampled for display (Galaxy Zoo's, for example) do not fit the model: "
            f"ask the Legacy Survey cutout service for the native scale (fits-cutout with "
            f"pixscale={expected} and bands=grz), resample the cutouts to {expected} "
            "arcsec/pixel (e.g. with reproject), or pass pixel_scale=None to read them as "
            "they are."
        )
    return scale
