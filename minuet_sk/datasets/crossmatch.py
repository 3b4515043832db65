"""Matching two catalogues on the sky with astropy coordinates."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord

__all__ = ["crossmatch"]


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
