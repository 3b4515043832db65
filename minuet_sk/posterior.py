"""PropertyPosterior: posterior samples of physical properties for many galaxies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics

__all__ = ["PropertyPosterior"]


class PropertyPosterior:
    """Posterior draws of ``k`` properties for ``n`` galaxies, with summaries and scores.

    What :meth:`minuet_sk.FlowPropertyRegressor.predict_dist` returns. Summaries are
    computed from the samples; :meth:`log_prob` is the exact density of the model that
    drew them (when one is attached).

    Parameters
    ----------
    samples : array-like of shape (n, n_samples, k)
        Posterior draws, in the targets' units.
    names : list of str, optional
        Target names (default ``target0, target1, ...``).
    log_prob_fn : callable, optional
        ``log_prob_fn(y)`` -> array of shape (n,): exact log density of ``y`` (n, k) under
        each galaxy's posterior. Without it :meth:`log_prob` raises.

    Attributes
    ----------
    samples : ndarray of shape (n, n_samples, k)
    names : list of str

    Examples
    --------
    >>> import numpy as np
    >>> draws = np.random.default_rng(0).normal(1.0, 0.1, size=(2, 500, 1))
    >>> post = PropertyPosterior(draws, names=["redshift"])
    >>> post.mean().round(1).tolist()
    [[1.0], [1.0]]
    >>> low, high = post.interval(0.68)
    >>> bool((high - low).mean() > 0.15)
    True
    >>> list(post.to_frame().columns)
    ['galaxy', 'target', 'mean', 'median', 'std', 'p16', 'p84']
    """

    def __init__(self, samples, names=None, *, log_prob_fn=None):
        samples = np.asarray(samples)
        if samples.ndim != 3:
            raise ValueError(f"samples must have shape (n, n_samples, k); got {samples.shape}.")
        if names is None:
            names = [f"target{i}" for i in range(samples.shape[2])]
        names = [str(name) for name in names]
        if len(names) != samples.shape[2]:
            raise ValueError(f"{len(names)} names for {samples.shape[2]} targets.")
        self.samples = samples
        self.names = names
        self._log_prob_fn = log_prob_fn

    def __len__(self):
        return self.samples.shape[0]

    def __repr__(self):
        n, s, _ = self.samples.shape
        return f"PropertyPosterior(n_galaxies={n}, n_samples={s}, names={self.names})"

    @property
    def n_samples(self):
        """Number of draws per galaxy."""
        return self.samples.shape[1]

    def mean(self):
        """Posterior mean, shape (n, k)."""
        return self.samples.mean(axis=1, dtype=np.float64)

    def median(self):
        """Posterior median, shape (n, k)."""
        return np.median(self.samples, axis=1).astype(np.float64)

    def std(self):
        """Posterior standard deviation, shape (n, k)."""
        return self.samples.std(axis=1, dtype=np.float64)

    def quantile(self, q):
        """Posterior quantile(s): shape (n, k) for scalar ``q``, (len(q), n, k) otherwise."""
        return np.quantile(self.samples, q, axis=1).astype(np.float64)

    def interval(self, level=0.68):
        """Central credible interval ``(low, high)``, each of shape (n, k).

        Bounded by the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1); got {level}.")
        low, high = self.quantile([(1 - level) / 2, (1 + level) / 2])
        return low, high

    def _truth(self, y):
        if hasattr(y, "columns"):
            y = y[self.names]
        y = np.asarray(y, dtype=np.float64)
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if y.shape != (len(self), self.samples.shape[2]):
            raise ValueError(
                f"y of shape {y.shape} does not match the posterior: expected "
                f"{(len(self), self.samples.shape[2])}."
            )
        missing = ~np.isfinite(y).all(axis=1)
        if missing.any():
            rows = np.flatnonzero(missing)[:10].tolist()
            raise ValueError(
                f"y contains NaN or inf in {int(missing.sum())} row(s) (first: {rows}): score "
                "only galaxies with a measured truth (drop those rows from X and y before "
                "predict_dist)."
            )
        return y

    def log_prob(self, y):
        """Exact log density of ``y`` (n, k) under each galaxy's posterior, shape (n,)."""
        if self._log_prob_fn is None:
            raise AttributeError(
                "This posterior holds samples only; the exact log_prob needs the model "
                "(use FlowPropertyRegressor.predict_dist)."
            )
        return self._log_prob_fn(self._truth(y))

    def pit(self, y):
        """PIT values ``F(y)`` per galaxy and target, shape (n, k); see metrics.pit."""
        return metrics.pit(self._truth(y), self.samples)

    def crps(self, y):
        """CRPS per galaxy and target, shape (n, k); see metrics.crps."""
        return metrics.crps(self._truth(y), self.samples)

    def coverage(self, y, level=0.68):
        """Fraction of truths inside the central ``level`` interval, per target (k,)."""
        return np.atleast_1d(metrics.interval_coverage(self._truth(y), self.samples, level))

    def to_frame(self):
        """Tidy summary: one row per galaxy and target.

        Returns
        -------
        pandas.DataFrame
            Columns ``galaxy, target, mean, median, std, p16, p84``.
        """
        n, _, k = self.samples.shape
        p16, p50, p84 = self.quantile([0.16, 0.5, 0.84])
        return pd.DataFrame(
            {
                "galaxy": np.repeat(np.arange(n), k),
                "target": np.tile(self.names, n),
                "mean": self.mean().ravel(),
                "median": p50.ravel(),
                "std": self.std().ravel(),
                "p16": p16.ravel(),
                "p84": p84.ravel(),
            }
        )
