"""Non-parametric morphology (Gini, M20, CAS) and a Sersic fit of the central source, with
statmorph (Rodriguez-Gomez et al. 2019), an optional extra: ``pip install
"minuet-sk[statmorph]"`` (re-exported by :mod:`minuet_sk.metrics`)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import median_abs_deviation

from ._central_source import central_catalog

__all__ = ["STATMORPH_COLUMNS", "statmorph_morphology"]

#: The columns of :func:`statmorph_morphology`, from statmorph's ``SourceMorphology``.
STATMORPH_COLUMNS = ("gini", "m20", "concentration", "asymmetry", "smoothness", "sersic_n",
                     "sersic_rhalf", "sersic_ellip", "flag", "flag_sersic")


def _import_statmorph():
    try:
        import statmorph
    except ImportError as error:
        raise ImportError(
            "statmorph_morphology needs statmorph, an optional extra: "
            'pip install "minuet-sk[statmorph]" (or pip install statmorph).'
        ) from error
    return statmorph


def statmorph_morphology(images, *, band=1, psf=None, threshold_sigma=1.5, min_pixels=5):
    """Gini, M20, concentration, asymmetry, smoothness and a Sersic fit of each image's
    central source, measured by statmorph in one band.

    The central source and its neighbours are segmented, and the sky subtracted, as in
    :func:`~minuet_sk.metrics.central_source_morphology`; neighbours are masked. The noise
    map statmorph weighs by is the sky's robust standard deviation (no Poisson term: the
    images' gain is not known), the same for every pixel of an image. Every statistic is
    orientation-free. About 0.1-0.5 s per galaxy, most of it the Sersic fit.

    Parameters
    ----------
    images : ndarray of shape (n, C, H, W)
        Fluxes (not a stretch), sky-dominated away from the galaxy.
    band : int, default=1
        The channel measured (1: r in grz cutouts).
    psf : ndarray of shape (h, w), optional
        The PSF, for the Sersic fit (statmorph convolves the model with it: slower, truer).
    threshold_sigma, min_pixels
        Detection settings, as in :func:`~minuet_sk.preprocessing.central_source_masks`.

    Returns
    -------
    DataFrame of shape (n, 10)
        :data:`STATMORPH_COLUMNS`: ``gini``, ``m20``, ``concentration`` (CAS, ``5 log10(r80 /
        r20)`` in circular apertures), ``asymmetry``, ``smoothness``, ``sersic_n``,
        ``sersic_rhalf`` (pixels, along the major axis), ``sersic_ellip``, and statmorph's
        quality flags ``flag`` (0 good, 1 suspect, 2 bad, 4 failed) and ``flag_sersic`` (0
        good). Measurements statmorph could not make, and rows without a central source,
        hold NaN (flags 4).

    Raises
    ------
    ImportError
        Without statmorph installed.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:48, :48] - 23.5
    >>> r = np.hypot(xx, yy / 0.6)
    >>> disk, bulge = np.exp(-r / 3.0), np.exp(-7.67 * ((r / 3.0) ** 0.25 - 1))
    >>> noise = 0.002 * np.random.default_rng(0).normal(size=(2, 1, 48, 48))
    >>> m = statmorph_morphology(np.stack([disk, bulge])[:, None] + noise, band=0)
    >>> bool(m["gini"][1] > m["gini"][0]), bool(m["sersic_n"][1] > m["sersic_n"][0])
    (True, True)
    """
    statmorph = _import_statmorph()
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, C, H, W); got {images.shape}.")
    if not -images.shape[1] <= band < images.shape[1]:
        raise ValueError(f"band {band} does not exist in {images.shape[1]} channels.")
    rows = []
    for image in images:
        row = dict.fromkeys(STATMORPH_COLUMNS, np.nan) | {"flag": 4, "flag_sersic": 4}
        found = central_catalog(image, threshold_sigma, min_pixels)
        if found is not None:
            _, segment, others, subtracted = found
            data = subtracted[band]
            sky = data[~segment & ~others]
            sigma = max(float(median_abs_deviation(sky, scale="normal")), 1e-12)
            with warnings.catch_warnings():  # statmorph warns of every suspect measurement
                warnings.simplefilter("ignore")
                m = statmorph.SourceMorphology(
                    data, segment.astype(np.int32), 1, mask=others,
                    weightmap=np.full_like(data, sigma), psf=psf,
                    skybox_size=max(8, min(32, min(data.shape) // 4)))
            row = {c: float(getattr(m, c)) for c in STATMORPH_COLUMNS}
            row = {c: np.nan if v == -99.0 else v for c, v in row.items()}
            row["flag"], row["flag_sersic"] = int(m.flag), int(m.flag_sersic)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(STATMORPH_COLUMNS))
