"""Reading a latent space: traversals of one latent, the correlations of the latents with
physical properties, and corner plots of the latents."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._axes import subplots
from ._images import plot_image_grid, rgb_composite

__all__ = [
    "correlation_table",
    "latent_traversal",
    "plot_latent_corner",
    "plot_latent_traversals",
]


def _single_image(X_ref):
    X_ref = X_ref.to_numpy() if hasattr(X_ref, "to_numpy") else np.asarray(X_ref)
    if X_ref.ndim in (1, 3):
        X_ref = X_ref[None]
    if X_ref.shape[0] != 1:
        raise ValueError(
            f"X_ref must hold one image (C, H, W), (1, C, H, W), (n_features,) or "
            f"(1, n_features); got shape {X_ref.shape}."
        )
    return X_ref


def latent_traversal(estimator, X_ref, component, values):
    """Decode the code of ``X_ref`` with one latent set to each of ``values``.

    Parameters
    ----------
    estimator : fitted encoder
        Anything with ``transform``, ``inverse_transform`` and ``image_shape_``.
    X_ref : array-like
        One reference image: ``(C, H, W)``, ``(1, C, H, W)``, ``(n_features,)`` or
        ``(1, n_features)``.
    component : int
        Index of the latent to vary.
    values : array-like of shape (n_values,)
        Values given to that latent (other latents keep the reference's values).

    Returns
    -------
    ndarray of shape (n_values, C, H, W)
        Decoded images, in the estimator's input units.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import VAEEncoder
    >>> X = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
    >>> vae = VAEEncoder(2, image_shape=None, channels=(4,), max_epochs=1, random_state=0)
    >>> images = latent_traversal(vae.fit(X), X[0], component=1, values=[-2, 0, 2])
    >>> images.shape
    (3, 1, 8, 8)
    """
    check_is_fitted(estimator)
    code = np.asarray(estimator.transform(_single_image(X_ref)), dtype=np.float64)
    if not 0 <= component < code.shape[1]:
        raise ValueError(f"component must be in [0, {code.shape[1]}); got {component}.")
    values = np.asarray(values, dtype=np.float64).ravel()
    codes = np.repeat(code, len(values), axis=0)
    codes[:, component] = values
    images = np.asarray(estimator.inverse_transform(codes))
    return images.reshape((len(values),) + tuple(estimator.image_shape_))


def correlation_table(latents, frame):
    """Pearson and Spearman correlations of every latent with every numeric property.

    Pairs with a missing value (NaN) are left out, pair by pair.

    Parameters
    ----------
    latents : array-like or DataFrame of shape (n_samples, n_latents)
        E.g. the output of ``transform``; DataFrame column names are kept, arrays are
        named ``latent0, latent1, ...``.
    frame : DataFrame of shape (n_samples, n_properties)
        Properties (e.g. ``redshift``, ``log_mstar``, Galaxy Zoo vote fractions), in the
        same row order as ``latents``; non-numeric columns are ignored, booleans count as
        0/1.

    Returns
    -------
    DataFrame of shape (n_latents, 2 * n_properties)
        Index: latent names. Columns: a MultiIndex ``(method, property)`` with methods
        ``"pearson"`` and ``"spearman"``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> z = np.arange(10.0)[:, None] * [1, -1]
    >>> table = correlation_table(z, pd.DataFrame({"mass": np.arange(10.0) ** 3}))
    >>> table["spearman"]["mass"].round(3).tolist()
    [1.0, -1.0]
    """
    if isinstance(latents, pd.DataFrame):
        latent_frame = latents.reset_index(drop=True)
    else:
        latents = np.asarray(latents, dtype=np.float64)
        if latents.ndim != 2:
            raise ValueError(f"latents must be 2-D (n_samples, n_latents); got {latents.shape}.")
        names = [f"latent{i}" for i in range(latents.shape[1])]
        latent_frame = pd.DataFrame(latents, columns=names)
    if len(latent_frame) != len(frame):
        raise ValueError(
            f"latents has {len(latent_frame)} rows but frame has {len(frame)}; they must "
            "describe the same objects in the same order."
        )
    properties = frame.select_dtypes(include=["number", "bool"]).astype(float)
    properties = properties.reset_index(drop=True)
    if properties.shape[1] == 0:
        raise ValueError("frame has no numeric column to correlate with.")
    both = pd.concat([latent_frame.add_prefix("\0"), properties], axis=1)
    latent_cols = [f"\0{c}" for c in latent_frame.columns]
    tables = {}
    for method in ("pearson", "spearman"):
        corr = both.corr(method=method).loc[latent_cols, properties.columns]
        corr.index = latent_frame.columns
        tables[method] = corr
    return pd.concat(tables, axis=1, names=["method", "property"])


# ---- figures ---------------------------------------------------------------------------


def plot_latent_corner(Z, *, colour=None, colour_label=None, title=None, fig=None):
    """Pairwise scatter plots of the latents (histograms on the diagonal).

    Limits are the 1-99% quantiles (padded), so that a few outliers do not squash the rest.

    Parameters
    ----------
    Z : ndarray of shape (n, k)
    colour : array-like of shape (n,), optional
        Values that colour the points (e.g. redshift), with a colour bar.
    colour_label : str, optional
    title : str, optional
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_latent_corner(np.random.default_rng(0).normal(size=(50, 3)))
    >>> len(fig.axes)
    9
    """
    Z = np.asarray(Z, dtype=np.float64)
    k = Z.shape[1]
    low, high = np.percentile(Z, [1, 99], axis=0)
    pad = 0.05 * (high - low)
    low, high = low - pad, high + pad
    fig, axes = subplots(fig, k, k, (1.7 * k, 1.7 * k))
    points = None
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j > i:
                ax.axis("off")
            elif i == j:
                ax.hist(Z[:, i], bins=30, range=(low[i], high[i]), color="0.5")
            else:
                points = ax.scatter(Z[:, j], Z[:, i], c=colour, s=3,
                                    cmap="viridis" if colour is not None else None)
                ax.set_xlim(low[j], high[j])
                ax.set_ylim(low[i], high[i])
            if i == k - 1:
                ax.set_xlabel(f"latent {j}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"latent {i}", fontsize=8)
    if points is not None and colour is not None:
        fig.colorbar(points, ax=axes, shrink=0.6, label=colour_label)
    if title:
        fig.suptitle(title)
    return fig


def plot_latent_traversals(estimator, X_ref, latents, *, n_values=7, title=None, fig=None):
    """One row per latent: ``X_ref`` decoded with that latent swept from its 5% to its 95%
    quantile over ``latents`` (:func:`latent_traversal`), as grz RGB.

    Parameters
    ----------
    estimator : fitted encoder
    X_ref : array-like
        One reference image.
    latents : ndarray of shape (n, n_components)
        Latents whose quantiles set the sweep (e.g. ``estimator.transform(X)``).
    n_values : int, default=7
    title : str, optional
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import EigengalaxyPCA
    >>> X = np.random.default_rng(0).random((20, 3, 8, 8))
    >>> pca = EigengalaxyPCA(2, image_shape=(3, 8, 8)).fit(X)
    >>> fig = plot_latent_traversals(pca, X[:1], pca.transform(X), n_values=3)
    >>> len(fig.axes)
    6
    """
    quantiles = np.linspace(0.05, 0.95, n_values)
    rows = [list(rgb_composite(latent_traversal(estimator, X_ref, c,
                                                np.quantile(latents[:, c], quantiles))))
            for c in range(latents.shape[1])]
    return plot_image_grid(rows, row_labels=[f"latent {c}" for c in range(len(rows))],
                           col_labels=[f"q{q:.2f}" for q in quantiles], title=title, fig=fig)
