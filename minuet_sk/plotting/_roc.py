"""The ROC curves of the Galaxy Zoo and truth probes."""

from __future__ import annotations

from ._axes import one_axes

__all__ = [
    "plot_roc",
]


def plot_roc(curves, *, ax=None, title=None):
    """ROC curves of one binary task, one per model.

    Parameters
    ----------
    curves : dict of str to (fpr, tpr, auc)
        E.g. from ``sklearn.metrics.roc_curve`` and ``roc_auc_score``; the legend gives the
        AUC.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_roc({"chance": ([0, 1], [0, 1], 0.5)}, title="spiral")
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'chance 0.50'
    """
    ax = one_axes(ax, (2.8, 2.8))
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} {auc:.2f}")
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    if title:
        ax.set_title(title, fontsize=9)
    ax.set_xlabel("false positive rate", fontsize=7)
    ax.set_ylabel("true positive rate", fontsize=7)
    ax.legend(fontsize=6, loc="lower right")
    return ax.figure
