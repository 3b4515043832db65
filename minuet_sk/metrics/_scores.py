"""Scores of posterior samples (CRPS, PIT, coverage, TARP) and of photometric-redshift point
estimates (sigma_NMAD, outlier fraction, bias).

Distribution metrics take the truth ``y_true`` of shape ``(n,)`` or ``(n, k)`` and posterior
samples of shape ``(n, n_samples)`` or ``(n, n_samples, k)`` (what
:meth:`minuet_sk.PropertyPosterior.samples` holds). Point metrics follow sklearn's
``(y_true, y_pred)`` order and reduce over galaxies (axis 0), so 2-D input gives one value
per target.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.utils import Bunch, check_random_state

__all__ = [
    "bias",
    "crps",
    "interval_coverage",
    "outlier_fraction",
    "pit",
    "sigma_nmad",
    "tarp_coverage",
]

# 1.4826 = 1 / Phi^-1(3/4): the MAD of a Gaussian times this is its standard deviation.
_NMAD_SCALE = 1.4826


def _truth_and_samples(y_true, samples):
    """Return ``y (n, k)``, ``samples (n, s, k)`` and whether the input was univariate."""
    y_true = np.asarray(y_true, dtype=np.float64)
    samples = np.asarray(samples)
    univariate = y_true.ndim == 1
    if univariate:
        y_true = y_true[:, None]
        if samples.ndim == 2:
            samples = samples[:, :, None]
    if y_true.ndim != 2 or samples.ndim != 3:
        raise ValueError(
            "Expected y_true of shape (n,) or (n, k) and samples of shape (n, n_samples) or "
            f"(n, n_samples, k); got {y_true.shape} and {samples.shape}."
        )
    if samples.shape[0] != y_true.shape[0] or samples.shape[2] != y_true.shape[1]:
        raise ValueError(
            f"samples of shape {samples.shape} do not match y_true of shape {y_true.shape}: "
            "need samples.shape == (n, n_samples, k) for y_true.shape == (n, k)."
        )
    return y_true, samples, univariate


def _squeeze(values, univariate):
    return values[..., 0] if univariate else values


def crps(y_true, samples, *, fair=False):
    """Continuous ranked probability score of each galaxy, from posterior samples.

    Uses the energy form (Gneiting & Raftery 2007, eq. 20)

    .. math:: \\mathrm{CRPS}(F, y) = E|X - y| - \\tfrac12 E|X - X'|,

    with ``X, X'`` independent draws from the posterior ``F``, both expectations estimated
    from the ``m`` samples; ``E|X - X'|`` is computed from the sorted samples as
    ``2 / m^2 * sum_i (2 i - m - 1) x_(i)`` in O(m log m). Lower is better; it has the
    units of ``y`` and reduces to the absolute error for a point forecast.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, k)
        True values.
    samples : array-like of shape (n, n_samples) or (n, n_samples, k)
        Posterior draws for each galaxy.
    fair : bool, default=False
        Divide the pair sum by ``m (m - 1)`` instead of ``m^2`` (the unbiased, "fair"
        estimator of Ferro 2014); the default is the plug-in estimator of the samples'
        empirical distribution.

    Returns
    -------
    ndarray of shape (n,) or (n, k)
        CRPS per galaxy (and target); average it for a summary.

    References
    ----------
    T. Gneiting & A. E. Raftery, "Strictly proper scoring rules, prediction, and
    estimation", JASA 102, 359 (2007). C. A. T. Ferro, QJRMS 140, 1917 (2014).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> samples = rng.standard_normal((1, 20000))
    >>> # closed form for N(0, 1) at y = 0: 2 phi(0) - 1/sqrt(pi) = 0.2337
    >>> bool(abs(crps([0.0], samples)[0] - 0.2337) < 0.01)
    True
    """
    y, s, univariate = _truth_and_samples(y_true, samples)
    s = np.sort(np.asarray(s, dtype=np.float64), axis=1)
    m = s.shape[1]
    abs_error = np.abs(s - y[:, None, :]).mean(axis=1)
    weights = 2.0 * np.arange(1, m + 1) - m - 1
    pair_sum = 2.0 * np.einsum("nsk,s->nk", s, weights)
    spread = pair_sum / (m * (m - 1) if fair and m > 1 else m * m)
    return _squeeze(abs_error - 0.5 * spread, univariate)


def pit(y_true, samples):
    """Probability integral transform: the posterior CDF at the truth, from samples.

    ``PIT = F(y_true)`` (Dawid 1984), estimated as the fraction of samples below the truth
    (ties count one half). For a calibrated posterior the PIT values of many galaxies are
    uniform on [0, 1]; a U shape means over-confident posteriors, a hump under-confident
    ones.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, k)
    samples : array-like of shape (n, n_samples) or (n, n_samples, k)

    Returns
    -------
    ndarray of shape (n,) or (n, k)

    References
    ----------
    A. P. Dawid, "Statistical theory: the prequential approach", JRSS A 147, 278 (1984).

    Examples
    --------
    >>> import numpy as np
    >>> pit([0.5], [[0.0, 1.0, 2.0, 3.0]]).tolist()
    [0.25]
    """
    y, s, univariate = _truth_and_samples(y_true, samples)
    below = (s < y[:, None, :]).mean(axis=1)
    ties = (s == y[:, None, :]).mean(axis=1)
    return _squeeze(below + 0.5 * ties, univariate)


def interval_coverage(y_true, samples, level=0.68):
    """Fraction of galaxies whose truth lies in the central ``level`` credible interval.

    The interval is bounded by the ``(1 - level) / 2`` and ``(1 + level) / 2`` sample
    quantiles. A calibrated posterior covers a fraction ``level`` of the truths
    (e.g. 0.68 for the 16-84 percentile range).

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, k)
    samples : array-like of shape (n, n_samples) or (n, n_samples, k)
    level : float in (0, 1), default=0.68

    Returns
    -------
    float or ndarray of shape (k,)

    Examples
    --------
    >>> import numpy as np
    >>> samples = np.tile(np.linspace(-1, 1, 101), (4, 1))
    >>> float(interval_coverage([0.0, 0.5, 0.9, -0.95], samples, level=0.9))
    0.75
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}.")
    y, s, univariate = _truth_and_samples(y_true, samples)
    low, high = np.quantile(s, [(1 - level) / 2, (1 + level) / 2], axis=1)
    covered = ((y >= low) & (y <= high)).mean(axis=0)
    return float(covered[0]) if univariate else covered


def tarp_coverage(y_true, samples, *, n_alpha=50, references=None, random_state=None):
    """TARP test of the expected coverage of multivariate posterior samples.

    Tests of Accuracy with Random Points (Lemos et al. 2023, Algorithm 2): targets are
    standardised by the truths' mean and standard deviation; for each galaxy a random
    reference point ``r`` is drawn uniformly in the truths' bounding box, and
    ``f_i`` is the fraction of posterior samples closer to ``r`` than the truth. The
    expected coverage probability ``ECP(alpha) = mean_i [f_i < alpha]`` equals ``alpha``
    for every ``alpha`` if and only if the posteriors are accurate (for enough random
    references); equivalently the ``f_i`` are uniform, which a Kolmogorov-Smirnov test
    checks.

    Parameters
    ----------
    y_true : array-like of shape (n,) or (n, k)
    samples : array-like of shape (n, n_samples) or (n, n_samples, k)
    n_alpha : int, default=50
        Credibility levels ``alpha`` on a regular grid of ``n_alpha + 1`` points in [0, 1].
    references : array-like of shape (n, k), optional
        Reference points in standardised units; drawn at random when None.
    random_state : int, RandomState instance or None
        Draws the reference points.

    Returns
    -------
    sklearn.utils.Bunch
        ``alpha`` (n_alpha + 1,), ``ecp`` (n_alpha + 1,), ``credibility`` (n,) the ``f_i``,
        ``max_deviation`` = ``max |ECP - alpha|`` and ``pvalue`` of the KS test of uniform
        ``f_i``.

    References
    ----------
    P. Lemos, A. Coogan, Y. Hezaveh & L. Perreault-Levasseur, "Sampling-Based Accuracy
    Testing of Posterior Estimators for General Inference", ICML 2023, arXiv:2302.03026.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mu = rng.standard_normal((500, 2))
    >>> truth = mu + rng.standard_normal((500, 2))
    >>> samples = mu[:, None] + rng.standard_normal((500, 200, 2))
    >>> res = tarp_coverage(truth, samples, random_state=0)
    >>> bool(res.max_deviation < 0.1)
    True
    """
    y, s, _ = _truth_and_samples(y_true, samples)
    centre, scale = y.mean(axis=0), y.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    y = (y - centre) / scale
    s = (np.asarray(s, dtype=np.float64) - centre) / scale
    if references is None:
        rng = check_random_state(random_state)
        references = rng.uniform(y.min(axis=0), y.max(axis=0), size=y.shape)
    references = np.asarray(references, dtype=np.float64).reshape(y.shape)
    truth_distance = np.linalg.norm(y - references, axis=1)
    sample_distance = np.linalg.norm(s - references[:, None, :], axis=2)
    credibility = (sample_distance < truth_distance[:, None]).mean(axis=1)
    alpha = np.linspace(0.0, 1.0, n_alpha + 1)
    ecp = (credibility[:, None] < alpha[None, :]).mean(axis=0)
    return Bunch(
        alpha=alpha,
        ecp=ecp,
        credibility=credibility,
        max_deviation=float(np.abs(ecp - alpha).max()),
        pvalue=float(stats.kstest(credibility, "uniform").pvalue),
    )


def _residuals(y_true, y_pred, relative):
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape.")
    residual = y_pred - y_true
    return residual / (1.0 + y_true) if relative else residual


def sigma_nmad(y_true, y_pred, *, relative=True):
    """Normalised median absolute deviation of the residuals.

    ``sigma_NMAD = 1.4826 median(|dz - median(dz)|)`` with ``dz = (z_pred - z_true) /
    (1 + z_true)`` (Brammer, van Dokkum & Coppi 2008, ApJ 686, 1503), the photo-z
    convention; a robust standard deviation that ignores catastrophic outliers.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, k)
    relative : bool, default=True
        Divide the residuals by ``1 + y_true`` (redshifts). Use False for quantities such as
        ``log_mstar``, where the residual itself (in dex) is the natural scale.

    Returns
    -------
    float or ndarray of shape (k,)

    Examples
    --------
    >>> float(sigma_nmad([0.0, 0.0, 0.0], [-0.1, 0.0, 0.1]))
    0.14826
    """
    dz = _residuals(y_true, y_pred, relative)
    nmad = _NMAD_SCALE * np.median(np.abs(dz - np.median(dz, axis=0)), axis=0)
    return float(nmad) if np.ndim(nmad) == 0 else nmad


def outlier_fraction(y_true, y_pred, *, threshold=0.15, relative=True):
    """Fraction of catastrophic outliers, ``|z_pred - z_true| / (1 + z_true) > threshold``.

    The photo-z convention with threshold 0.15 (Hildebrandt et al. 2010, A&A 523, A31).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, k)
    threshold : float, default=0.15
    relative : bool, default=True
        Divide the residuals by ``1 + y_true``; False compares the raw residual (e.g. dex).

    Returns
    -------
    float or ndarray of shape (k,)

    Examples
    --------
    >>> float(outlier_fraction([0.0, 0.0, 1.0, 1.0], [0.1, 0.2, 1.2, 1.4]))
    0.5
    """
    out = (np.abs(_residuals(y_true, y_pred, relative)) > threshold).mean(axis=0)
    return float(out) if np.ndim(out) == 0 else out


def bias(y_true, y_pred, *, relative=True):
    """Mean residual, ``mean((z_pred - z_true) / (1 + z_true))`` (photo-z bias).

    As in e.g. Hildebrandt et al. 2010 (A&A 523, A31), with the (1 + z) normalisation when
    ``relative``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, k)
    relative : bool, default=True

    Returns
    -------
    float or ndarray of shape (k,)

    Examples
    --------
    >>> round(bias([1.0, 1.0], [1.2, 1.0]), 6)
    0.05
    """
    out = _residuals(y_true, y_pred, relative).mean(axis=0)
    return float(out) if np.ndim(out) == 0 else out
