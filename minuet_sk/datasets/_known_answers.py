"""Conditional densities whose answer is known: draws of ``(x, y)`` with the true log density
of each ``y`` given its ``x``, to check that a flow's posteriors are calibrated. The flow's
tests assert on them and ``benchmarks/quality_flow_calibration.py`` measures them over seeds,
threads and dependency versions; one definition serves both."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["KNOWN_ANSWER_PROBLEMS", "bimodal", "heteroscedastic_linear"]


def heteroscedastic_linear(n, rng):
    """y | x ~ Normal(1.5 x + 0.5, 0.2 + 0.15 (x + 2)), x ~ U(-2, 2).

    Returns ``(x of shape (n, 1), y of shape (n,), log p(y | x) of shape (n,))``.

    Examples
    --------
    >>> x, y, log_density = heteroscedastic_linear(3, np.random.default_rng(0))
    >>> x.shape, y.shape, log_density.shape
    ((3, 1), (3,), (3,))
    """
    x = rng.uniform(-2, 2, n)
    mean, sd = 1.5 * x + 0.5, 0.2 + 0.15 * (x + 2)
    y = mean + sd * rng.standard_normal(n)
    return x[:, None], y, stats.norm.logpdf(y, mean, sd)


def bimodal(n, rng):
    """y | x ~ 0.5 Normal(m, 0.35) + 0.5 Normal(-m, 0.35) with m = 1 + 0.5 x, x ~ U(-1, 1).

    Returns ``(x of shape (n, 1), y of shape (n,), log p(y | x) of shape (n,))``.
    """
    x = rng.uniform(-1, 1, n)
    m, sd = 1.0 + 0.5 * x, 0.35
    y = rng.choice([-1.0, 1.0], n) * m + sd * rng.standard_normal(n)
    log_density = np.logaddexp(stats.norm.logpdf(y, m, sd), stats.norm.logpdf(y, -m, sd))
    return x[:, None], y, log_density + np.log(0.5)


KNOWN_ANSWER_PROBLEMS = {"heteroscedastic_linear": heteroscedastic_linear, "bimodal": bimodal}
