"""PropertyPosterior: posterior samples of physical properties for many galaxies."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from .. import metrics
from . import _files

__all__ = ["PropertyPosterior"]

# _repr_html_ summarises at most this many galaxies (evenly spaced), so that displaying a
# survey-sized posterior in a notebook stays quick.
_HTML_MAX_GALAXIES = 10_000


class PropertyPosterior:
    """Posterior draws of ``k`` properties for ``n`` galaxies, with summaries and scores.

    What :meth:`minuet_sk.FlowPropertyRegressor.predict_dist` returns. Summaries are
    computed from the samples; :meth:`log_prob` is the exact density of the model that
    drew them (when one is attached). Every galaxy keeps its identifier (``index``) through
    the summaries and scores, and the whole posterior (the samples, not only summaries) is
    saved and read back with :meth:`to_hdf5` / :meth:`read_hdf5` or :meth:`to_parquet` /
    :meth:`read_parquet`.

    Parameters
    ----------
    samples : array-like of shape (n, n_samples, k)
        Posterior draws, in the targets' units.
    names : list of str, optional
        Target names (default ``target0, target1, ...``).
    index : array-like of length n, optional
        Identifier of each galaxy, e.g. the index of the features' DataFrame (which
        ``predict_dist`` passes on) or catalogue object ids; default ``0 .. n-1``.
    log_prob_fn : callable, optional
        ``log_prob_fn(y)`` -> array of shape (n,): exact log density of ``y`` (n, k) under
        each galaxy's posterior. Without it :meth:`log_prob` raises.

    Attributes
    ----------
    samples : ndarray of shape (n, n_samples, k)
    names : list of str
    index : pandas.Index of length n
        The galaxies' identifiers: the ``galaxy`` column of :meth:`to_frame` and the row
        labels of :meth:`pit` and :meth:`crps`.

    Examples
    --------
    >>> import numpy as np
    >>> draws = np.random.default_rng(0).normal(1.0, 0.1, size=(2, 500, 1))
    >>> post = PropertyPosterior(draws, names=["redshift"], index=["NGC 1300", "M 51"])
    >>> post.mean().round(1).tolist()
    [[1.0], [1.0]]
    >>> low, high = post.interval(0.68)
    >>> bool((high - low).mean() > 0.15)
    True
    >>> list(post.to_frame().columns)
    ['galaxy', 'target', 'mean', 'median', 'std', 'p16', 'p84']
    >>> post.to_frame()["galaxy"].tolist()
    ['NGC 1300', 'M 51']
    >>> post.coverage([1.0, 1.05], level=0.68).to_dict()
    {'redshift': 1.0}
    """

    def __init__(self, samples, names=None, *, index=None, log_prob_fn=None):
        samples = np.asarray(samples)
        if samples.ndim != 3:
            raise ValueError(f"samples must have shape (n, n_samples, k); got {samples.shape}.")
        if names is None:
            names = [f"target{i}" for i in range(samples.shape[2])]
        names = [str(name) for name in names]
        if len(names) != samples.shape[2]:
            raise ValueError(f"{len(names)} names for {samples.shape[2]} targets.")
        labelled = index is not None
        index = pd.RangeIndex(samples.shape[0]) if index is None else pd.Index(index)
        if len(index) != samples.shape[0]:
            raise ValueError(
                f"index has {len(index)} entries for {samples.shape[0]} galaxies: give one "
                "identifier per galaxy (row of samples)."
            )
        self.samples = samples
        self.names = names
        # identifiers given (by predict_dist from a DataFrame, a file, the caller): truths
        # given as pandas objects are aligned to them
        self._labelled = labelled
        self.index = index
        self._log_prob_fn = log_prob_fn

    def __len__(self):
        return self.samples.shape[0]

    def __repr__(self):
        n, s, _ = self.samples.shape
        return f"PropertyPosterior(n_galaxies={n}, n_samples={s}, names={self.names})"

    def _repr_html_(self):
        """A header and a per-target summary table, for Jupyter notebooks.

        The table gives, per target, the median over galaxies of the posterior mean, of the
        posterior standard deviation and of the width of the central 68% interval
        (over at most 10,000 evenly spaced galaxies, so that display stays quick).

        Returns
        -------
        str
            HTML.

        Examples
        --------
        >>> import numpy as np
        >>> post = PropertyPosterior(np.zeros((3, 10, 1)), names=["redshift"])
        >>> html = post._repr_html_()
        >>> "3 galaxies" in html and "redshift" in html
        True
        """
        n, s, k = self.samples.shape
        header = (
            f"<p><b>PropertyPosterior</b>: {n:,} galaxies, {s:,} samples each, {k} "
            f"target{'s' if k != 1 else ''} ({html.escape(', '.join(self.names))})"
        )
        if n == 0:
            return header + "</p>"
        rows = np.arange(n)
        if n > _HTML_MAX_GALAXIES:
            rows = np.linspace(0, n - 1, _HTML_MAX_GALAXIES).round().astype(np.intp)
            header += f"; table over {_HTML_MAX_GALAXIES:,} evenly spaced galaxies"
        shown = PropertyPosterior(self.samples[rows], self.names)
        low, high = shown.interval(0.68)
        table = pd.DataFrame(
            {
                "median posterior mean": np.median(shown.mean(), axis=0),
                "median posterior std": np.median(shown.std(), axis=0),
                "median 68% width": np.median(high - low, axis=0),
            },
            index=self.names,
        )
        return header + "</p>" + table.to_html(float_format="{:.4g}".format)

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
        if isinstance(y, (pd.Series, pd.DataFrame)) and self._labelled:
            y = self._aligned(y)
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

    def _aligned(self, y):
        """``y`` (a Series or DataFrame) in the order of the posterior's galaxies, by
        identifier, as pandas aligns; refused when the identifiers differ."""
        if y.index.equals(self.index):
            return y
        positions = pd.RangeIndex(len(y))
        if y.index.equals(positions) and not self.index.sort_values().equals(positions):
            return y  # a default index names no galaxy: the rows are in the posterior's order
        missing = self.index.difference(y.index)
        extra = y.index.difference(self.index)
        if len(missing) or len(extra) or y.index.has_duplicates or self.index.has_duplicates:
            def shown(ids):
                return ", ".join(map(repr, ids[:5].tolist())) + (", ..." if len(ids) > 5 else "")
            raise ValueError(
                "y's index does not name the posterior's galaxies"
                + (f": {len(missing)} galaxies have no truth ({shown(missing)})"
                   if len(missing) else "")
                + (f"; {len(extra)} truths name no galaxy ({shown(extra)})" if len(extra) else "")
                + ("; identifiers repeat" if not (len(missing) or len(extra)) else "")
                + ". Give y with the same identifiers (its index), or as an array in the "
                "posterior's order (y.to_numpy())."
            )
        return y.loc[self.index]

    def _targets(self):
        """The target names as the column (or Series) index of the labelled scores."""
        return pd.Index(self.names, name="target")

    def _per_galaxy(self, values):
        """Scores of shape (n, k) labelled: galaxies (``index``) by targets (``names``)."""
        return pd.DataFrame(values, index=self.index, columns=self._targets())

    def log_prob(self, y):
        """Exact log density of ``y`` (n, k) under each galaxy's posterior, shape (n,)."""
        if self._log_prob_fn is None:
            raise AttributeError(
                "This posterior holds samples only; the exact log_prob needs the model "
                "(use FlowPropertyRegressor.predict_dist)."
            )
        return self._log_prob_fn(self._truth(y))

    def pit(self, y):
        """PIT values ``F(y)``: the posterior CDF at the truth, per galaxy and target.

        The fraction of draws below the truth (ties count one half); see
        :func:`minuet_sk.metrics.pit`. Calibrated posteriors give uniform PIT values.

        Parameters
        ----------
        y : array-like of shape (n,) or (n, k), or DataFrame with the target names
            True values: an array row by row in the order of the posterior's galaxies; a
            Series or DataFrame (columns chosen by name) aligned by its index to the
            posterior's identifiers when the posterior has them (``predict_dist`` of a
            DataFrame, a file), and refused when they differ; a default index ``0 .. n-1``
            names no galaxy and is read in order.

        Returns
        -------
        pandas.DataFrame of shape (n, k)
            Index ``self.index`` (the galaxies), columns ``self.names`` (the targets).

        Examples
        --------
        >>> import numpy as np
        >>> draws = np.array([[0.0, 1.0, 2.0, 3.0], [2.0, 2.0, 2.0, 2.0]])[:, :, None]
        >>> post = PropertyPosterior(draws, names=["redshift"], index=["a", "b"])
        >>> post.pit([0.5, 0.5])["redshift"].to_dict()
        {'a': 0.25, 'b': 0.0}
        """
        return self._per_galaxy(metrics.pit(self._truth(y), self.samples))

    def crps(self, y):
        """Continuous ranked probability score per galaxy and target (lower is better).

        In the units of the target; see :func:`minuet_sk.metrics.crps`. Average over
        galaxies (``.mean()``) to compare models.

        Parameters
        ----------
        y : array-like of shape (n,) or (n, k), or DataFrame with the target names
            True values, as in :meth:`pit` (pandas objects aligned by identifier).

        Returns
        -------
        pandas.DataFrame of shape (n, k)
            Index ``self.index`` (the galaxies), columns ``self.names`` (the targets).

        Examples
        --------
        >>> import numpy as np
        >>> draws = np.array([[0.0, 1.0, 2.0, 3.0], [2.0, 2.0, 2.0, 2.0]])[:, :, None]
        >>> post = PropertyPosterior(draws, names=["redshift"], index=["a", "b"])
        >>> post.crps([0.5, 0.5])["redshift"].to_dict()  # b: a point forecast, |2 - 0.5|
        {'a': 0.625, 'b': 1.5}
        """
        return self._per_galaxy(metrics.crps(self._truth(y), self.samples))

    def coverage(self, y, level=0.68):
        """Fraction of truths inside the central ``level`` credible interval, per target.

        Close to ``level`` for calibrated posteriors; see
        :func:`minuet_sk.metrics.interval_coverage`.

        Parameters
        ----------
        y : array-like of shape (n,) or (n, k), or DataFrame with the target names
            True values, as in :meth:`pit` (pandas objects aligned by identifier).
        level : float in (0, 1), default=0.68

        Returns
        -------
        pandas.Series of length k
            Indexed by target name, named ``coverage_<level>`` (e.g. ``coverage_0.68``).

        Examples
        --------
        >>> import numpy as np
        >>> draws = np.tile(np.linspace(-1, 1, 101), (4, 1))[:, :, None]
        >>> post = PropertyPosterior(draws, names=["redshift"])
        >>> post.coverage([0.0, 0.5, 0.9, -0.95], level=0.9)
        target
        redshift    0.75
        Name: coverage_0.9, dtype: float64
        """
        covered = np.atleast_1d(metrics.interval_coverage(self._truth(y), self.samples, level))
        return pd.Series(
            covered, index=self._targets(), name=f"coverage_{level:g}"
        )

    def tarp(self, y, *, n_references=10, n_alpha=50, random_state=0):
        """Calibration of the joint posterior of all targets, as a referee's number: the
        TARP expected coverage (Lemos et al. 2023; :func:`minuet_sk.metrics.tarp_coverage`),
        averaged over ``n_references`` draws of the random reference points so that one
        lucky draw is not the figure.

        Parameters
        ----------
        y : array-like of shape (n,) or (n, k), or DataFrame with the target names
            True values, as in :meth:`pit` (pandas objects aligned by identifier).
        n_references : int, default=10
            Independent sets of reference points averaged.
        n_alpha : int, default=50
            Credibility levels on a regular grid of ``n_alpha + 1`` points in [0, 1].
        random_state : int, RandomState instance or None, default=0
            Draws the reference points (an int: the same figure every call).

        Returns
        -------
        pandas.Series
            ``max_deviation`` (the largest ``|ECP - alpha|`` of the averaged curve; 0 for a
            calibrated posterior), ``max_deviation_spread`` (its standard deviation over the
            reference draws) and ``pvalue`` (the median over them of the KS test of uniform
            credibilities); ``attrs["curve"]`` holds the averaged curve, a DataFrame of
            ``alpha`` and ``ecp``.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> centre = rng.standard_normal((400, 2))
        >>> post = PropertyPosterior(centre[:, None] + rng.standard_normal((400, 300, 2)))
        >>> result = post.tarp(centre + rng.standard_normal((400, 2)))
        >>> bool(result["max_deviation"] < 0.05)
        True
        >>> list(result.attrs["curve"].columns)
        ['alpha', 'ecp']
        """
        from sklearn.utils import check_random_state

        truth = self._truth(y)
        rng = check_random_state(random_state)
        runs = [metrics.tarp_coverage(truth, self.samples, n_alpha=n_alpha,
                                      random_state=rng.randint(0, 2**31 - 1))
                for _ in range(int(n_references))]
        ecp = np.mean([run.ecp for run in runs], axis=0)
        alpha = runs[0].alpha
        result = pd.Series({
            "max_deviation": float(np.abs(ecp - alpha).max()),
            "max_deviation_spread": float(np.std([run.max_deviation for run in runs])),
            "pvalue": float(np.median([run.pvalue for run in runs])),
        }, name="tarp")
        result.attrs["curve"] = pd.DataFrame({"alpha": alpha, "ecp": ecp})
        return result

    def to_frame(self):
        """Tidy summary: one row per galaxy and target.

        Returns
        -------
        pandas.DataFrame
            Columns ``galaxy, target, mean, median, std, p16, p84``; ``galaxy`` holds the
            galaxies' identifiers (``self.index``).

        Examples
        --------
        >>> import numpy as np
        >>> post = PropertyPosterior(np.zeros((2, 5, 2)), names=["z", "m"], index=[10, 11])
        >>> post.to_frame()[["galaxy", "target"]].values.tolist()
        [[10, 'z'], [10, 'm'], [11, 'z'], [11, 'm']]
        """
        k = self.samples.shape[2]
        p16, p50, p84 = self.quantile([0.16, 0.5, 0.84])
        return pd.DataFrame(
            {
                "galaxy": self.index.repeat(k),
                "target": np.tile(self.names, len(self)),
                "mean": self.mean().ravel(),
                "median": p50.ravel(),
                "std": self.std().ravel(),
                "p16": p16.ravel(),
                "p84": p84.ravel(),
            }
        )

    # files
    def to_hdf5(self, path):
        """Write the whole posterior (samples, names, index) to an HDF5 file.

        Datasets ``samples`` (n, n_samples, k, in their own dtype), ``names`` and ``index``
        (the galaxies' identifiers, as numbers when they are numbers and otherwise as
        strings); read it back with :meth:`read_hdf5`. The model's exact ``log_prob`` is not
        saved.

        Parameters
        ----------
        path : str or path-like
            File to write (replaced if it exists).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> post = PropertyPosterior(np.ones((2, 3, 1)), names=["redshift"], index=["a", "b"])
        >>> path = os.path.join(tempfile.mkdtemp(), "posterior.h5")
        >>> post.to_hdf5(path)
        >>> back = PropertyPosterior.read_hdf5(path)
        >>> back.index.tolist(), back.names, back.samples.shape
        (['a', 'b'], ['redshift'], (2, 3, 1))
        """
        _files.write_hdf5(self.samples, self.names, self.index, path)

    @classmethod
    def read_hdf5(cls, path):
        """Read a posterior written by :meth:`to_hdf5`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        PropertyPosterior
            The same samples, names and index; without the model's exact ``log_prob``
            (which raises ``AttributeError``).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> post = PropertyPosterior(np.arange(6.0).reshape(2, 3, 1), index=[7, 9])
        >>> path = os.path.join(tempfile.mkdtemp(), "posterior.h5")
        >>> post.to_hdf5(path)
        >>> back = PropertyPosterior.read_hdf5(path)
        >>> bool((back.samples == post.samples).all()), back.index.tolist()
        (True, [7, 9])
        """
        samples, names, index = _files.read_hdf5(path)
        return cls(samples, names, index=index)

    def to_parquet(self, path):
        """Write the whole posterior to a Parquet file in long format.

        One row per galaxy and draw: columns ``galaxy`` (the identifier, as a number when
        it is a number and otherwise as a string), ``draw`` (0 .. n_samples-1) and one
        column per target, so that any Parquet reader (pandas, polars, DuckDB, Spark) can
        query the draws. Read it back with :meth:`read_parquet`. The model's exact
        ``log_prob`` is not saved.

        Parameters
        ----------
        path : str or path-like
            File to write (replaced if it exists).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> post = PropertyPosterior(np.ones((2, 3, 1)), names=["redshift"], index=["a", "b"])
        >>> path = os.path.join(tempfile.mkdtemp(), "posterior.parquet")
        >>> post.to_parquet(path)
        >>> import pandas as pd
        >>> pd.read_parquet(path).shape  # 2 galaxies x 3 draws; galaxy, draw, redshift
        (6, 3)
        """
        _files.write_parquet(self.samples, self.names, self.index, path)

    @classmethod
    def read_parquet(cls, path):
        """Read a posterior from a long Parquet table, as :meth:`to_parquet` writes it.

        The rows must run galaxy by galaxy, draws ``0 .. n_samples-1`` in order; every
        column other than ``galaxy`` and ``draw`` is a target.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        PropertyPosterior
            The same samples, names and index; without the model's exact ``log_prob``
            (which raises ``AttributeError``).

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> post = PropertyPosterior(np.arange(6.0).reshape(2, 3, 1), index=["a", "b"])
        >>> path = os.path.join(tempfile.mkdtemp(), "posterior.parquet")
        >>> post.to_parquet(path)
        >>> back = PropertyPosterior.read_parquet(path)
        >>> bool((back.samples == post.samples).all()), back.index.tolist(), back.names
        (True, ['a', 'b'], ['target0'])
        """
        samples, names, index = _files.read_parquet(path)
        return cls(samples, names, index=index)

