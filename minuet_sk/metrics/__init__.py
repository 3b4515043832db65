"""Metrics: scores of posterior samples and of photometric-redshift point estimates
(``_scores``), image power spectra (``_power_spectrum``), and the orientation-free morphology
of the central source with photutils (``_morphology``) or statmorph (``_statmorph``).

Distribution metrics take the truth ``y_true`` of shape ``(n,)`` or ``(n, k)`` and posterior
samples of shape ``(n, n_samples)`` or ``(n, n_samples, k)`` (what
:attr:`minuet_sk.PropertyPosterior.samples` holds). Point metrics follow sklearn's
``(y_true, y_pred)`` order and reduce over galaxies (axis 0), so 2-D input gives one value
per target.
"""

from ._morphology import FACTORS, central_source_morphology, factor_agreement
from ._power_spectrum import power_spectrum_error, radial_power_spectrum
from ._scores import (
    bias,
    crps,
    interval_coverage,
    outlier_fraction,
    pit,
    sigma_nmad,
    tarp_coverage,
)
from ._statmorph import STATMORPH_COLUMNS, statmorph_morphology

__all__ = [
    "FACTORS",
    "STATMORPH_COLUMNS",
    "bias",
    "central_source_morphology",
    "crps",
    "factor_agreement",
    "interval_coverage",
    "outlier_fraction",
    "pit",
    "power_spectrum_error",
    "radial_power_spectrum",
    "sigma_nmad",
    "statmorph_morphology",
    "tarp_coverage",
]
