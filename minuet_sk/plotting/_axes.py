"""The helpers every figure module of :mod:`minuet_sk.plotting` draws with: pyplot imported
when first needed, and a figure's axes from what the caller gave."""

from __future__ import annotations

__all__ = ["one_axes", "pyplot", "subplots"]


def pyplot():
    import matplotlib.pyplot as plt

    return plt


def subplots(fig, n_rows, n_cols, size):
    fig = pyplot().figure(figsize=size) if fig is None else fig
    return fig, fig.subplots(n_rows, n_cols, squeeze=False)


def one_axes(ax, size):
    """``ax``, or the Axes of a new figure of ``size`` inches."""
    return subplots(None, 1, 1, size)[1][0, 0] if ax is None else ax
