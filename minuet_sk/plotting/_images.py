"""Figures of images: grz RGB composites and grids of them (reconstructions beside their
inputs, latent-space neighbours), and the radial power spectra of reconstructions against
their inputs."""

from __future__ import annotations

import numpy as np

from ._axes import subplots

__all__ = [
    "plot_image_grid",
    "plot_neighbours",
    "plot_power_spectra",
    "plot_reconstructions",
    "rgb_composite",
]


def rgb_composite(images, *, percentile=99.5, reference=None):
    """Display RGB of grz images: z -> red, r -> green, g -> blue, one shared scale.

    Parameters
    ----------
    images : ndarray of shape (n, 3, H, W)
        Flux or asinh-stretched images, bands in g, r, z order.
    percentile : float, default=99.5
        Pixel percentile mapped to full brightness, over all ``images``...
    reference : ndarray, optional
        ...or over these (e.g. the inputs, to show reconstructions on their scale).

    Returns
    -------
    ndarray of shape (n, H, W, 3) in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> rgb_composite(np.ones((2, 3, 4, 4))).shape
    (2, 4, 4, 3)
    """
    images = np.nan_to_num(np.asarray(images, dtype=np.float64))
    scaled_by = images if reference is None else np.nan_to_num(np.asarray(reference))
    top = np.percentile(scaled_by, percentile) or 1.0
    return np.clip(images[:, ::-1].transpose(0, 2, 3, 1) / top, 0, 1)


def plot_image_grid(rows, *, row_labels=(), col_labels=(), title=None, fig=None):
    """Rows of RGB images ``(H, W, 3)`` as a grid without ticks.

    Parameters
    ----------
    rows : list of list of ndarray
        One list of images per row; shorter rows leave blank cells.
    row_labels, col_labels : sequence of str
        Labels left of each row and above each column.
    title : str, optional
    fig : matplotlib Figure, optional
        Drawn into (a new figure by default).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_image_grid([[np.zeros((4, 4, 3))] * 2], col_labels=["a", "b"])
    >>> len(fig.axes)
    2
    """
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = subplots(fig, n_rows, n_cols, (1.3 * n_cols, 1.3 * n_rows + 0.4))
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row):
                ax.imshow(row[j], origin="lower")
            else:
                ax.axis("off")
            if i == 0 and j < len(col_labels):
                ax.set_title(col_labels[j], fontsize=7)
        if i < len(row_labels):
            axes[i, 0].set_ylabel(row_labels[i], fontsize=7)
    if title:  # above the column labels, however many lines they have
        lines = max((str(c).count("\n") + 1 for c in col_labels), default=0)
        fig.suptitle(title, fontsize=9, va="bottom",
                     y=1 + 0.05 * lines / max(fig.get_figheight(), 1e-9))
    return fig


def plot_reconstructions(images, reconstructions, *, n_show=6, row_labels=(), title=None,
                         fig=None):
    """Galaxies (first column) beside their reconstructions, as grz RGB on one scale.

    Parameters
    ----------
    images : ndarray of shape (n, 3, H, W)
        The inputs, g, r, z.
    reconstructions : dict of str to ndarray of shape (n, 3, H, W)
        One column per entry, in order (e.g. ``{"minuet": ..., "pca": ...}``).
    n_show : int, default=6
        Galaxies (rows) shown.
    row_labels : sequence of str, optional
    title : str, optional
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((3, 3, 8, 8))
    >>> fig = plot_reconstructions(X, {"copy": X}, n_show=2)
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['input', 'copy']
    """
    columns = {"input": np.asarray(images)[:n_show]}
    columns.update({name: np.asarray(r)[:n_show] for name, r in reconstructions.items()})
    rgb = {k: rgb_composite(v, reference=columns["input"]) for k, v in columns.items()}
    rows = [[rgb[k][i] for k in columns] for i in range(len(columns["input"]))]
    return plot_image_grid(rows, row_labels=row_labels, col_labels=list(columns), title=title,
                           fig=fig)


def plot_power_spectra(images, reconstructions, *, bands="grz", axes=None):
    """Mean radial power spectrum per band of the inputs and of each reconstruction.

    Parameters
    ----------
    images : ndarray of shape (n, C, H, W)
    reconstructions : dict of str to ndarray of shape (n, C, H, W)
    bands : sequence of str, default="grz"
        Band names, one per channel.
    axes : sequence of matplotlib Axes, optional
        One per band (a new row of axes by default).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((4, 3, 8, 8))
    >>> fig = plot_power_spectra(X, {"noise": X[::-1]})
    >>> [len(ax.get_lines()) for ax in fig.axes]
    [2, 2, 2]
    """
    from ..metrics import radial_power_spectrum

    if axes is None:
        fig, axes = subplots(None, 1, len(bands), (3.7 * len(bands), 3.2))
        axes = axes[0]
    fig = axes[0].figure
    truth = np.nanmean(radial_power_spectrum(images), axis=0)
    spectra = {name: np.nanmean(radial_power_spectrum(r), axis=0)
               for name, r in reconstructions.items()}
    k = np.arange(truth.shape[-1])
    for b, ax in enumerate(axes):
        ax.loglog(k[1:], truth[b, 1:], "k-", lw=2, label="input")
        for name, ps in spectra.items():
            ax.loglog(k[1:], ps[b, 1:], label=name)
        ax.set_title(f"{bands[b]} band")
        ax.set_xlabel("spatial frequency bin")
    axes[0].set_ylabel("azimuthal mean power")
    axes[0].legend(fontsize=8)
    return fig


def plot_neighbours(images, latents, *, n_query=4, k=5, title=None, fig=None):
    """The first ``n_query`` galaxies (rows) and their ``k`` nearest neighbours in latent
    space (:func:`minuet_sk.neighbors.latent_neighbors`), as grz RGB.

    Parameters
    ----------
    images : ndarray of shape (n, 3, H, W)
    latents : ndarray of shape (n, n_latents)
        The same galaxies' latents.
    n_query, k : int
    title : str, optional
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).random((6, 3, 8, 8))
    >>> fig = plot_neighbours(images, np.arange(6.0)[:, None], n_query=2, k=2)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['query', 'neighbour 1', 'neighbour 2']
    """
    from ..neighbors import latent_neighbors

    _, idx = latent_neighbors(latents, k=k)
    rgb = rgb_composite(images)
    rows = [[rgb[q]] + [rgb[j] for j in idx[q]] for q in range(n_query)]
    return plot_image_grid(rows, row_labels=[f"query {q}" for q in range(n_query)],
                           col_labels=["query"] + [f"neighbour {i + 1}" for i in range(k)],
                           title=title, fig=fig)
