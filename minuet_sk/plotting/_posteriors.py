"""Figures of posteriors: marginals of a few galaxies, a corner plot of one, the PIT
histogram, interval coverage against the nominal level, and predicted against true values."""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd

from .. import metrics
from ._axes import one_axes, pyplot, subplots

__all__ = [
    "plot_coverage",
    "plot_pit",
    "plot_posterior_corner",
    "plot_posteriors",
    "plot_predicted_vs_true",
]


def plot_posteriors(posterior, truth=None, *, n_show=4, level=0.68, axes=None):
    """Histograms of posterior draws, one row per galaxy and one column per property,
    with the central ``level`` interval shaded and the truth (when given) marked.

    Parameters
    ----------
    posterior : PropertyPosterior
        From ``FlowPropertyRegressor.predict_dist``.
    truth : DataFrame, optional
        True values, columns named as ``posterior.names``, rows in the same order.
    n_show : int, default=4
        Galaxies shown.
    level : float, default=0.68
    axes : 2-D array of matplotlib Axes, optional
        ``(n_show, n_properties)``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import PropertyPosterior
    >>> post = PropertyPosterior(np.random.default_rng(0).normal(size=(2, 50, 1)), ["z"])
    >>> fig = plot_posteriors(post, n_show=2)
    >>> [ax.get_title() for ax in fig.axes]
    ['z', '']
    """
    names = list(posterior.names)
    n_show = min(n_show, len(posterior.samples))
    if axes is None:
        _, axes = subplots(None, n_show, len(names), (3.2 * len(names), 1.8 * n_show))
    axes = np.asarray(axes).reshape(n_show, len(names))
    low, high = posterior.interval(level)
    for i in range(n_show):
        for j, name in enumerate(names):
            ax = axes[i, j]
            ax.hist(posterior.samples[i, :, j], bins=40, color="tab:blue", alpha=0.7)
            ax.axvspan(low[i, j], high[i, j], color="tab:orange", alpha=0.2,
                       label=f"{level:.0%}")
            if truth is not None:
                ax.axvline(truth[name].iloc[i], color="k", lw=2, label="truth")
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name)
    axes[0, -1].legend(fontsize=7)
    return axes[0, 0].figure


def _truth_row(posterior, truth, i):
    """Row ``i`` of ``truth`` (DataFrame with the target names, or array (n, k))."""
    if hasattr(truth, "columns"):
        truth = truth[posterior.names]
    truth = np.asarray(truth, dtype=np.float64)
    expected = (len(posterior), len(posterior.names))
    if truth.shape != expected:
        raise ValueError(
            f"truth of shape {truth.shape} does not match the posterior: expected {expected}."
        )
    return truth[i]


def _position(posterior, galaxy):
    """The row of ``galaxy``: an identifier of ``posterior.index``, else a position."""
    index = posterior.index
    if not isinstance(index, pd.RangeIndex) and galaxy in index:
        found = index.get_indexer([galaxy])[0] if index.is_unique else -1
        if found < 0:
            raise ValueError(f"the identifier {galaxy!r} names several galaxies.")
        return int(found)
    try:
        position = operator.index(galaxy)
    except TypeError:
        raise ValueError(f"{galaxy!r} is neither an identifier of the posterior's galaxies "
                         f"(e.g. {index[0]!r}) nor a position.") from None
    if not 0 <= position < len(index):
        raise ValueError(f"i must be in [0, {len(index)}) for a posterior of {len(index)} "
                         f"galaxies, or one of their identifiers; got {galaxy!r}.")
    return position


def plot_posterior_corner(posterior, i=0, *, truth=None, fig=None):
    """Corner plot of one galaxy's posterior draws.

    Histograms of each target on the diagonal (titled with the median and the central 68%
    interval, dashed), 2-D histograms of each pair below it, so that correlations between
    targets show (a galaxy placed further away must be more massive to be as bright). The
    truth, when given, is marked in black.

    Parameters
    ----------
    posterior : PropertyPosterior
    i : int or identifier, default=0
        The galaxy: its identifier in ``posterior.index`` (e.g. ``"AT0005"``), or its
        position (row of ``posterior.samples``) when the index does not hold ``i``; the
        title gives its identifier.
    truth : DataFrame with the target names or array-like of shape (n, k), optional
        True values of all galaxies; row ``i`` is marked (non-finite values are not).
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
        With ``k * k`` axes; those above the diagonal are hidden.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import PropertyPosterior
    >>> draws = np.random.default_rng(0).normal(size=(2, 500, 3))
    >>> post = PropertyPosterior(draws, ["redshift", "log_mstar", "log_sfr"], index=["a", "b"])
    >>> fig = plot_posterior_corner(post, 1, truth=np.zeros((2, 3)))
    >>> len(fig.axes), fig.texts[0].get_text()
    (9, 'galaxy b')
    >>> plot_posterior_corner(post, "b").texts[0].get_text()  # by identifier
    'galaxy b'
    """
    _, n_draws, k = posterior.samples.shape
    i = _position(posterior, i)
    true = None if truth is None else _truth_row(posterior, truth, i)
    draws = np.asarray(posterior.samples[i], dtype=np.float64)
    low, median, high = np.quantile(draws, [0.16, 0.5, 0.84], axis=0)
    # Limits hold all but the extreme 0.5% draws on each side, and the truth.
    lim_low, lim_high = np.quantile(draws, [0.005, 0.995], axis=0)
    if true is not None:
        lim_low = np.fmin(lim_low, true)
        lim_high = np.fmax(lim_high, true)
    pad = 0.05 * (lim_high - lim_low) + 1e-12
    lim_low, lim_high = lim_low - pad, lim_high + pad
    bins = int(np.clip(np.sqrt(n_draws), 10, 40))
    fig, axes = subplots(fig, k, k, (2.0 * k + 0.4, 2.0 * k))
    names = posterior.names
    for r in range(k):
        for c in range(k):
            ax = axes[r, c]
            if c > r:
                ax.axis("off")
                continue
            if r == c:
                ax.hist(draws[:, c], bins=bins, range=(lim_low[c], lim_high[c]),
                        histtype="stepfilled", color="tab:blue", alpha=0.6)
                for q in (low[c], median[c], high[c]):
                    ax.axvline(q, color="tab:blue", ls="--", lw=0.8)
                ax.set_title(rf"{names[c]} = ${median[c]:.3g}"
                             rf"^{{+{high[c] - median[c]:.2g}}}_{{-{median[c] - low[c]:.2g}}}$",
                             fontsize=8)
                ax.set_yticks([])
            else:
                ax.hist2d(draws[:, c], draws[:, r], bins=bins,
                          range=[(lim_low[c], lim_high[c]), (lim_low[r], lim_high[r])],
                          cmap="Blues", cmin=1)
                ax.set_ylim(lim_low[r], lim_high[r])
                if true is not None and np.isfinite(true[c]) and np.isfinite(true[r]):
                    ax.plot(true[c], true[r], "ks", ms=4)
                if true is not None and np.isfinite(true[r]):
                    ax.axhline(true[r], color="k", lw=0.8)
            if true is not None and np.isfinite(true[c]):
                ax.axvline(true[c], color="k", lw=0.8)
            ax.set_xlim(lim_low[c], lim_high[c])
            ax.tick_params(labelsize=7)
            if r == k - 1:
                ax.set_xlabel(names[c], fontsize=8)
            else:
                ax.tick_params(labelbottom=False)
            if c == 0 and r > 0:
                ax.set_ylabel(names[r], fontsize=8)
            elif c > 0:
                ax.tick_params(labelleft=False)
    fig.suptitle(f"galaxy {posterior.index[i]}", fontsize=10)
    if k > 1:  # the key, in the empty upper triangle
        key = f"{n_draws:,} draws\ndashed: median and 68% interval"
        axes[0, -1].text(1, 1, key + ("\nblack: truth" if true is not None else ""),
                         transform=axes[0, -1].transAxes, ha="right", va="top", fontsize=8,
                         color="0.3")
    return fig


def plot_pit(posterior, y, *, bins=20, ax=None):
    """PIT histograms, one per target, against the flat histogram of calibrated posteriors.

    The PIT value of a galaxy is its posterior CDF at the truth (:meth:`PropertyPosterior.pit
    <minuet_sk.PropertyPosterior.pit>`); calibrated posteriors give uniform PIT values, a
    histogram flat at density 1. The grey band is the expected scatter of that flat histogram
    for ``n`` galaxies (+-2 sigma of binomial counts), so bars outside it are a real
    miscalibration: a **U** shape means over-confident (too narrow) posteriors, a **hump**
    under-confident (too wide) ones, a slope a bias.

    Parameters
    ----------
    posterior : PropertyPosterior
        From ``FlowPropertyRegressor.predict_dist``.
    y : array-like of shape (n,) or (n, k), or DataFrame with the target names
        True values, row by row in the order of the posterior's galaxies.
    bins : int, default=20
        Histogram bins on [0, 1].
    ax : matplotlib Axes, optional
        Where to draw (a new figure by default).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import PropertyPosterior
    >>> rng = np.random.default_rng(0)
    >>> post = PropertyPosterior(rng.normal(size=(300, 200, 2)), ["redshift", "log_mstar"])
    >>> fig = plot_pit(post, rng.normal(size=(300, 2)), bins=10)
    >>> len(fig.axes[0].patches)  # one step histogram per target, and the band
    3
    """
    bins = operator.index(bins)
    if bins < 1:
        raise ValueError(f"bins must be a positive integer; got {bins}.")
    pit = posterior.pit(y)
    ax = one_axes(ax, (3.6, 3.0))
    # Counts of a flat histogram are Binomial(n, 1/bins): in density units their standard
    # deviation is sqrt((bins - 1) / n).
    scatter = 2 * np.sqrt((bins - 1) / len(pit))
    ax.axhspan(max(1 - scatter, 0), 1 + scatter, color="0.85", lw=0,
               label=rf"calibrated $\pm2\sigma$ (n={len(pit):,})")
    ax.axhline(1, color="k", lw=0.8)
    edges = np.linspace(0, 1, bins + 1)
    top = 1 + scatter
    for name in posterior.names:
        density, _ = np.histogram(pit[name], bins=edges, density=True)
        ax.stairs(density, edges, lw=1.5, label=name)
        top = max(top, density.max())
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.4 * top)  # room for the legend above the histograms
    ax.set_xlabel("PIT = posterior CDF at the truth")
    ax.set_ylabel("density")
    ax.set_title("PIT (flat when calibrated)", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", ncols=2)
    return ax.figure


def plot_coverage(posterior, y, *, levels=None, ax=None):
    """Empirical coverage of central credible intervals against their nominal level.

    For each level, the fraction of truths inside each galaxy's central ``level`` interval
    (:meth:`PropertyPosterior.coverage <minuet_sk.PropertyPosterior.coverage>`), one line
    per target. Calibrated posteriors lie on the diagonal, within the grey band (+-2 sigma
    binomial scatter for ``n`` galaxies); below it they are over-confident, above it
    under-confident.

    Parameters
    ----------
    posterior : PropertyPosterior
    y : array-like of shape (n,) or (n, k), or DataFrame with the target names
        True values, row by row in the order of the posterior's galaxies.
    levels : array-like of float in (0, 1), optional
        Nominal credible levels (default: 19 levels, 0.05 to 0.95).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import PropertyPosterior
    >>> rng = np.random.default_rng(0)
    >>> post = PropertyPosterior(rng.normal(size=(300, 200, 1)), ["redshift"])
    >>> fig = plot_coverage(post, rng.normal(size=300), levels=[0.5, 0.9])
    >>> fig.axes[0].get_lines()[0].get_xdata().tolist()
    [0.5, 0.9]
    """
    levels = np.linspace(0.05, 0.95, 19) if levels is None else np.asarray(levels, float)
    levels = np.atleast_1d(levels)
    truth = posterior._truth(y)
    coverage = np.array([posterior.coverage(truth, level).to_numpy() for level in levels])
    ax = one_axes(ax, (3.6, 3.0))
    for j, name in enumerate(posterior.names):
        ax.plot(levels, coverage[:, j], marker=".", label=name)
    return _calibration_frame(ax, len(truth), "credible level of the central interval",
                              "fraction of truths inside", "Coverage")


def plot_tarp(posterior, y, *, n_references=10, ax=None):
    """The TARP expected coverage of the joint posterior against the credibility level.

    :meth:`PropertyPosterior.tarp <minuet_sk.PropertyPosterior.tarp>` (Lemos et al. 2023)
    asks, for random reference points, how often the truth is closer to the reference than a
    fraction ``alpha`` of the posterior draws: of all targets together, not one at a time.
    Calibrated posteriors lie on the diagonal, within the grey band (+-2 sigma binomial
    scatter for ``n`` galaxies); below it they are over-confident, above it under-confident.
    The legend gives the largest deviation from the diagonal (the referee's number) and its
    spread over the ``n_references`` draws of reference points averaged.

    Parameters
    ----------
    posterior : PropertyPosterior
    y : array-like of shape (n,) or (n, k), or DataFrame with the target names
        True values (pandas objects aligned by identifier, as in ``tarp``).
    n_references : int, default=10
        Sets of reference points averaged.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import PropertyPosterior
    >>> rng = np.random.default_rng(0)
    >>> centre = rng.normal(size=(300, 2))
    >>> post = PropertyPosterior(centre[:, None] + rng.normal(size=(300, 100, 2)))
    >>> fig = plot_tarp(post, centre + rng.normal(size=(300, 2)), n_references=3)
    >>> len(fig.axes[0].get_lines()[0].get_xdata())
    51
    """
    result = posterior.tarp(y, n_references=n_references)
    curve = result.attrs["curve"]
    n = posterior.samples.shape[0]
    ax = one_axes(ax, (3.6, 3.0))
    ax.plot(curve["alpha"], curve["ecp"], color="C3",
            label=(f"all {len(posterior.names)} targets: max dev. "
                   f"{result['max_deviation']:.3f} +- {result['max_deviation_spread']:.3f}"))
    return _calibration_frame(ax, n, "credibility level alpha", "expected coverage (TARP)",
                              "Joint calibration, TARP")


def _calibration_frame(ax, n, xlabel, ylabel, title):
    """The frame of a calibration plot drawn on ``ax``: the diagonal of calibrated
    posteriors with its +-2 sigma binomial band for ``n`` galaxies, unit square, labels,
    legend (the band first). Returns the figure."""
    grid = np.linspace(0, 1, 101)
    scatter = 2 * np.sqrt(grid * (1 - grid) / n)
    band = ax.fill_between(grid, grid - scatter, grid + scatter, color="0.85", lw=0,
                           label=rf"calibrated $\pm2\sigma$ (n={n:,})")
    ax.plot([0, 1], [0, 1], color="k", lw=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} (diagonal when calibrated)", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    order = [handles.index(band)] + [i for i, h in enumerate(handles) if h is not band]
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=7)
    return ax.figure


def plot_predicted_vs_true(posterior, y, *, level=0.68, max_points=2000, axes=None):
    """Posterior median against the truth, one panel per target, with credible intervals.

    Vertical bars span each galaxy's central ``level`` interval; the line is 1:1. Each
    panel's text gives the coverage of those intervals (``level`` when calibrated) and, for
    a target named ``redshift``, the photo-z point metrics of the medians: ``sigma_NMAD``
    (:func:`minuet_sk.metrics.sigma_nmad`) and the outlier fraction
    (:func:`minuet_sk.metrics.outlier_fraction`). The numbers are over all galaxies; at most
    ``max_points`` galaxies (evenly spaced) are drawn.

    Parameters
    ----------
    posterior : PropertyPosterior
    y : array-like of shape (n,) or (n, k), or DataFrame with the target names
        True values, row by row in the order of the posterior's galaxies.
    level : float in (0, 1), default=0.68
        Credible level of the error bars.
    max_points : int, default=2000
        Most galaxies drawn per panel.
    axes : sequence of k matplotlib Axes, optional
        One per target (a new row of axes by default).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import PropertyPosterior
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.uniform(0.1, 1.0, size=(500, 1))
    >>> centre = truth + rng.normal(0, 0.02, size=(500, 1))  # each galaxy's best guess
    >>> post = PropertyPosterior(centre[:, None] + rng.normal(0, 0.02, (500, 300, 1)),
    ...                          ["redshift"])
    >>> fig = plot_predicted_vs_true(post, truth)
    >>> print(fig.axes[0].texts[0].get_text())
    $\\sigma_{NMAD}$ = 0.012
    outliers = 0.0%
    68% coverage = 0.70
    """
    max_points = operator.index(max_points)
    if max_points < 1:
        raise ValueError(f"max_points must be a positive integer; got {max_points}.")
    truth = posterior._truth(y)
    names = posterior.names
    low, high = posterior.interval(level)
    median = posterior.median()
    coverage = posterior.coverage(truth, level)
    if axes is None:
        fig = pyplot().figure(figsize=(3.3 * len(names), 3.3), layout="constrained")
        _, axes = subplots(fig, 1, len(names), None)
    axes = np.asarray(axes, dtype=object).ravel()
    if len(axes) != len(names):
        raise ValueError(f"axes must hold one Axes per target ({len(names)}); got {len(axes)}.")
    shown = np.unique(np.linspace(0, len(truth) - 1, min(max_points, len(truth))).round()
                      .astype(np.intp))
    for j, (ax, name) in enumerate(zip(axes, names)):
        x, mid = truth[shown, j], median[shown, j]
        ax.errorbar(x, mid, yerr=[mid - low[shown, j], high[shown, j] - mid], fmt="o", ms=2,
                    lw=0.5, color="tab:blue", ecolor="tab:blue", alpha=0.5)
        span = [min(truth[:, j].min(), median[:, j].min()),
                max(truth[:, j].max(), median[:, j].max())]
        ax.plot(span, span, color="k", lw=0.8, zorder=3)
        lines = []
        if name == "redshift":
            lines += [rf"$\sigma_{{NMAD}}$ = {metrics.sigma_nmad(truth[:, j], median[:, j]):.3f}",
                      f"outliers = {metrics.outlier_fraction(truth[:, j], median[:, j]):.1%}"]
        lines.append(f"{level:.0%} coverage = {coverage[name]:.2f}")
        ax.text(0.04, 0.96, "\n".join(lines), transform=ax.transAxes, ha="left", va="top",
                fontsize=8, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"true {name}", fontsize=8)
        ax.set_ylabel(f"posterior median ({level:.0%} interval)", fontsize=8)
        ax.tick_params(labelsize=7)
    return axes[0].figure
