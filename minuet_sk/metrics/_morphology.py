"""What a person sees of a galaxy, measured without regard to its orientation: brightness,
colour, size, concentration and ellipticity of the central source, with photutils'
``SourceCatalog`` (re-exported by :mod:`minuet_sk.metrics`)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ._central_source import central_catalog

__all__ = ["FACTORS", "central_source_morphology", "factor_agreement"]

#: The orientation-free factors of :func:`central_source_morphology` that
#: :func:`factor_agreement` compares.
FACTORS = ("mag", "colour", "log_half_light_radius", "concentration", "axis_ratio")


def central_source_morphology(images, *, bands="grz", pixel_scale=None, threshold_sigma=1.5,
                              min_pixels=5):
    """Brightness, colour, size, concentration and ellipticity of each image's central source.

    The central source is segmented as the masked loss does it
    (:func:`~minuet_sk.preprocessing.central_source_masks`: photutils' ``detect_sources``
    and ``deblend_sources`` on the noise-normalised band sum); each band is measured after
    subtracting the median of the pixels outside every source, and neighbours are masked.
    Every measurement is invariant to rotations and mirror images, so a model that keeps a
    galaxy but not its orientation is not penalised. Measure inputs and reconstructions in
    the same units (flux, not a stretch, for profiles a person would recognise).

    Parameters
    ----------
    images : ndarray of shape (n, C, H, W)
    bands : sequence of str, default="grz"
        Band names, one per channel; ``colour`` is the first minus the second band
        (``g - r``), ``mag`` the second (``r``).
    pixel_scale : float, optional
        Arcsec per pixel: radii in arcsec; else in pixels.
    threshold_sigma, min_pixels
        Detection settings, as in :func:`~minuet_sk.preprocessing.central_source_masks`.

    Returns
    -------
    DataFrame of shape (n, ...)
        ``flux_<band>`` (sum over the segment), ``mag`` (``-2.5 log10`` of the second band's
        flux: a magnitude up to the zero point), ``colour`` (first minus second band, in
        magnitudes), ``half_light_radius`` (circular radius holding half the Kron flux, from
        ``SourceCatalog.flux_radius``), ``log_half_light_radius`` (log10), ``concentration``
        (``5 log10(r80 / r20)``), ``axis_ratio`` (semiminor / semimajor axis of the
        second moments), ``ellipticity`` (``1 - axis_ratio``), ``gini`` and ``area``
        (segment pixels). Rows without a central source (or with a negative flux) hold NaN.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:41, :41] - 20.0
    >>> disk = np.exp(-np.hypot(xx, yy / 0.5) / 3.0)
    >>> noise = 0.002 * np.random.default_rng(0).normal(size=(3, 41, 41))
    >>> m = central_source_morphology((disk + noise)[None])
    >>> round(float(m["axis_ratio"][0]), 1)
    0.5
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, C, H, W); got {images.shape}.")
    bands = list(bands)
    if len(bands) != images.shape[1]:
        raise ValueError(f"{len(bands)} band names for {images.shape[1]} channels.")
    scale = 1.0 if pixel_scale is None else float(pixel_scale)
    rows = []
    for image in images:
        row = dict.fromkeys([f"flux_{b}" for b in bands] + [
            "mag", "colour", "half_light_radius", "log_half_light_radius", "concentration",
            "axis_ratio", "ellipticity", "gini", "area"], np.nan)
        found = central_catalog(image, threshold_sigma, min_pixels)
        if found is not None:
            catalog, segment, _, subtracted = found
            with warnings.catch_warnings():  # sources too small for a Kron aperture: NaN
                warnings.simplefilter("ignore")
                r20, r50, r80 = (float(catalog.flux_radius(f)[0].value) for f in (0.2, 0.5, 0.8))
                major = float(catalog.semimajor_axis[0].value)
                minor = float(catalog.semiminor_axis[0].value)
                gini = float(catalog.gini[0])
            fluxes = subtracted[:, segment].sum(axis=1)
            row.update({f"flux_{b}": float(f) for b, f in zip(bands, fluxes)})
            ref = 1 if len(bands) > 1 else 0
            with np.errstate(divide="ignore", invalid="ignore"):
                row["mag"] = -2.5 * np.log10(fluxes[ref]) if fluxes[ref] > 0 else np.nan
                if len(bands) > 1 and fluxes[0] > 0 and fluxes[1] > 0:
                    row["colour"] = -2.5 * np.log10(fluxes[0] / fluxes[1])
                row["half_light_radius"] = r50 * scale
                row["log_half_light_radius"] = np.log10(r50 * scale) if r50 > 0 else np.nan
                row["concentration"] = 5 * np.log10(r80 / r20) if r20 > 0 else np.nan
                row["axis_ratio"] = minor / major if major > 0 else np.nan
            row["ellipticity"] = 1 - row["axis_ratio"]
            row["gini"] = gini
            row["area"] = int(segment.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def factor_agreement(truth, other, *, factors=FACTORS):
    """How well ``other`` (e.g. reconstructions) keeps each factor of ``truth`` (the inputs).

    Parameters
    ----------
    truth, other : DataFrame
        :func:`central_source_morphology` of the same galaxies, in the same order.
    factors : sequence of str, default=FACTORS
        Columns to compare.

    Returns
    -------
    DataFrame
        One row per factor: ``spearman`` (rank correlation), ``r2`` (squared Pearson
        correlation: the R^2 of a linear fit of one on the other) and ``n`` (galaxies where
        both are measured).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"axis_ratio": [0.2, 0.5, 0.9, 0.7]})
    >>> factor_agreement(t, t * 0.5, factors=["axis_ratio"])["spearman"].tolist()
    [1.0]
    """
    if len(truth) != len(other):
        raise ValueError(f"truth has {len(truth)} rows, other {len(other)}: measure the same "
                         "galaxies in the same order.")
    out = {}
    for factor in factors:
        a = np.asarray(truth[factor], dtype=np.float64)
        b = np.asarray(other[factor], dtype=np.float64)
        both = np.isfinite(a) & np.isfinite(b)
        rho = r2 = np.nan
        if both.sum() >= 3 and np.ptp(a[both]) > 0 and np.ptp(b[both]) > 0:
            rho = float(spearmanr(a[both], b[both]).statistic)
            r2 = float(np.corrcoef(a[both], b[both])[0, 1] ** 2)
        out[factor] = {"spearman": rho, "r2": r2, "n": int(both.sum())}
    return pd.DataFrame(out).T.astype({"n": int})
