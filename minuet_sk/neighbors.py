"""Similarity search in latent space, on sklearn's NearestNeighbors."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

__all__ = ["latent_neighbors", "neighbor_agreement", "orientation_shift", "precision_at_k",
           "reobservation_shift"]


def latent_neighbors(latents, query=None, *, k=5, standardize=True, metric="euclidean",
                     query_index=None):
    """The ``k`` nearest galaxies in latent space.

    Parameters
    ----------
    latents : array-like of shape (n_galaxies, n_components)
        The searchable catalogue (e.g. ``MinuetEncoder.transform`` of a survey).
    query : array-like of shape (n_queries, n_components) or None
        Latents to search for; None searches for every catalogue galaxy and leaves the galaxy
        itself out of its own neighbours.
    k : int, default=5
        Number of neighbours.
    standardize : bool, default=True
        Scale each latent to unit variance (over the catalogue) first, so no latent dominates
        the distance by its units.
    metric : str, default="euclidean"
        Any metric of :class:`sklearn.neighbors.NearestNeighbors`.
    query_index : array-like of int of shape (n_queries,) or None
        The catalogue rows that the queries are, when they are catalogue galaxies: each is
        then left out of its own neighbours, as with ``query=None``. None: the queries are
        other galaxies.

    Returns
    -------
    distances : ndarray of shape (n_queries, k)
    indices : ndarray of int of shape (n_queries, k)
        Rows of ``latents``, nearest first.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> latent_neighbors(Z, k=1, standardize=False)[1].ravel().tolist()
    [1, 0, 3, 2]
    >>> latent_neighbors(Z, Z[[2]], k=1, standardize=False, query_index=[2])[1].tolist()
    [[3]]
    """
    latents = np.asarray(latents, dtype=np.float64)
    if query is None:
        query, query_index = latents, np.arange(len(latents))
    query = np.asarray(query, dtype=np.float64)
    scaler = StandardScaler(with_mean=False) if standardize else None
    catalogue = scaler.fit_transform(latents) if scaler else latents
    searched = scaler.transform(query) if scaler else query
    own_row = query_index is not None
    nn = NearestNeighbors(n_neighbors=k + own_row, metric=metric).fit(catalogue)
    distances, indices = nn.kneighbors(searched)
    if not own_row:
        return distances, indices
    # drop each galaxy from its own list (not always column 0 when there are twins)
    own = indices == np.asarray(query_index)[:, None]
    keep = ~own
    keep[~own.any(axis=1), -1] = False
    shape = (len(query), k)
    return distances[keep].reshape(shape), indices[keep].reshape(shape)


def precision_at_k(latents, labels, *, k=5, standardize=True):
    """Fraction of each galaxy's ``k`` latent neighbours that share its label.

    The similarity-search score of the Minuet paper: e.g. with Galaxy Zoo binary labels, how
    often the neighbours of a spiral are spirals. Galaxies with a missing (NaN) label are
    neither queries nor counted as neighbours.

    Parameters
    ----------
    latents : array-like of shape (n_galaxies, n_components)
    labels : array-like of shape (n_galaxies,)
        Class of each galaxy; NaN (or None) is missing.
    k : int, default=5
    standardize : bool, default=True
        As in :func:`latent_neighbors`.

    Returns
    -------
    pandas.Series
        Precision@k per class and ``"all"`` (the mean over every query galaxy).

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.r_[np.zeros((6, 2)), np.ones((6, 2))] + np.arange(12)[:, None] * 1e-3
    >>> labels = np.r_[np.zeros(6), np.ones(6)]
    >>> float(precision_at_k(Z, labels, k=5)["all"])
    1.0
    """
    labels = pd.Series(np.asarray(labels, dtype=object)).reset_index(drop=True)
    known = labels.notna().to_numpy()
    latents = np.asarray(latents)[known]
    labels = labels[known].to_numpy()
    _, idx = latent_neighbors(latents, k=k, standardize=standardize)
    hits = (labels[idx] == labels[:, None]).mean(axis=1)
    per_class = pd.Series(hits).groupby(labels).mean()
    per_class.index = per_class.index.map(str)
    per_class["all"] = hits.mean()
    return per_class.rename(f"precision@{k}")


def neighbor_agreement(latents, properties, *, k=5, standardize=True):
    """How much a galaxy's latent neighbours share its measured properties.

    For each property: the Spearman correlation between the galaxies' values and the mean
    over their ``k`` nearest latent neighbours. 0 for neighbours picked at random, 1 when
    neighbours rank exactly as the galaxy does. A check that needs no labels, only
    measurements of the images (e.g. :func:`minuet_sk.metrics.central_source_morphology`'s
    size, colour and concentration): what an encoder has learned to organise, on any
    galaxies, e.g. before and after fine-tuning it on your cutouts.

    Parameters
    ----------
    latents : array-like of shape (n_galaxies, n_components)
    properties : DataFrame of shape (n_galaxies, n_properties)
        One column per property; NaN values are left out (of queries and of the means).
    k : int, default=5
    standardize : bool, default=True
        As in :func:`latent_neighbors`.

    Returns
    -------
    pandas.Series
        The Spearman correlation per property column.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> size = np.linspace(1, 2, 40)
    >>> Z = np.c_[size, np.random.default_rng(0).normal(0, 0.01, 40)]
    >>> agreement = neighbor_agreement(Z, pd.DataFrame({"size": size}), k=3)
    >>> bool(agreement["size"] > 0.95)
    True
    """
    properties = pd.DataFrame(properties).reset_index(drop=True)
    if len(properties) != len(latents):
        raise ValueError(
            f"{len(properties)} rows of properties for {len(latents)} galaxies' latents."
        )
    index = latent_neighbors(latents, k=k, standardize=standardize)[1]
    out = {}
    for name in properties.columns:
        values = properties[name].to_numpy(dtype=np.float64)
        with np.errstate(all="ignore"):
            mean = np.nanmean(np.where(np.isfinite(values), values, np.nan)[index], axis=1)
        ok = np.isfinite(values) & np.isfinite(mean)
        out[name] = float(spearmanr(values[ok], mean[ok]).statistic) if ok.sum() > 2 else np.nan
    return pd.Series(out, name=f"neighbor_agreement@{k}")


def _turned(X):
    """Images ``(n, C, H, W)`` rotated by 90 and 180 degrees and mirrored both ways."""
    return {"rot90": np.rot90(X, 1, axes=(2, 3)), "rot180": np.rot90(X, 2, axes=(2, 3)),
            "flip_lr": X[..., ::-1], "flip_ud": X[..., ::-1, :]}


def orientation_shift(encoder, X, latents=None):
    """How far an encoder's latents move when the galaxies are rotated or mirrored.

    For rotations by 90 and 180 degrees and the two mirror images: the median over galaxies
    of the distance between the latents of the turned and the original image (each latent
    standardised over ``X``), in units of the median distance between a galaxy and its
    nearest neighbour. Below 1, a turned galaxy stays nearer its own latents than its
    nearest neighbour's; a galaxy's orientation carries no physics, so small is better.

    Parameters
    ----------
    encoder : fitted encoder
        Anything with ``transform(images) -> latents``.
    X : ndarray of shape (n_galaxies, C, H, W)
        Square images (at least 2 galaxies).
    latents : ndarray of shape (n_galaxies, n_components), optional
        ``encoder.transform(X)``, when already computed.

    Returns
    -------
    dict
        The shift per move (``rot90``, ``rot180``, ``flip_lr``, ``flip_ud``) and their
        ``mean``.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import EigengalaxyPCA
    >>> X = np.random.default_rng(0).random((30, 1, 8, 8))
    >>> pca = EigengalaxyPCA(3, image_shape=None).fit(X)
    >>> shift = orientation_shift(pca, X)
    >>> sorted(shift), bool(shift["mean"] > 0)
    (['flip_lr', 'flip_ud', 'mean', 'rot180', 'rot90'], True)
    """
    X = np.asarray(X)
    if X.ndim != 4 or X.shape[2] != X.shape[3] or len(X) < 2:
        raise ValueError(f"X must hold at least 2 square images (n, C, H, W); got {X.shape}.")
    Z = encoder.transform(X) if latents is None else np.asarray(latents)
    scale = StandardScaler().fit(Z)
    standard = scale.transform(Z)
    nn_dist = np.median(latent_neighbors(standard, k=1, standardize=False)[0])
    out = {}
    for move, turned in _turned(X).items():
        moved = encoder.transform(np.ascontiguousarray(turned))
        shift = np.linalg.norm(scale.transform(moved) - standard, axis=1)
        out[move] = float(np.median(shift) / nn_dist)
    out["mean"] = float(np.mean(list(out.values())))
    return out


def reobservation_shift(latents, latents_again):
    """How far the latents of the same galaxies move when they are observed again (another
    noise draw, depth, seeing, angle...), and whether each still finds itself.

    Each latent is standardised over ``latents`` (the first observation). The shift of a
    galaxy is the distance between its two latent vectors; re-identification asks whether
    a galaxy's new latents have its own first latents as nearest (top-1) or among the five
    nearest (top-5) of all first observations. Latents that describe the galaxy, not the
    night, shift little and find themselves.

    Parameters
    ----------
    latents, latents_again : array-like of shape (n_galaxies, n_components)
        The same galaxies, in the same order, observed twice.

    Returns
    -------
    dict
        ``shift_sd`` (median shift, in standard deviations of the latents), ``shift_nn``
        (median shift over the median distance between a galaxy and its nearest neighbour),
        ``top1`` and ``top5`` (fractions re-identified).

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.random.default_rng(0).normal(size=(200, 5))
    >>> same = reobservation_shift(Z, Z + 0.01)
    >>> same["top1"], round(same["shift_sd"], 2)
    (1.0, 0.02)
    >>> reobservation_shift(Z, Z[::-1])["top1"]
    0.0
    """
    Z, Z_again = np.asarray(latents, np.float64), np.asarray(latents_again, np.float64)
    if Z.shape != Z_again.shape or Z.ndim != 2 or len(Z) < 6:
        raise ValueError(f"latents and latents_again must be the same (n >= 6, k) shape; "
                         f"got {Z.shape} and {Z_again.shape}.")
    scale = StandardScaler().fit(Z)
    first, again = scale.transform(Z), scale.transform(Z_again)
    shift = np.linalg.norm(again - first, axis=1)
    nn_dist = np.median(latent_neighbors(first, k=1, standardize=False)[0])
    distance = np.linalg.norm(again[:, None, :] - first[None, :, :], axis=2)
    own = distance[np.arange(len(Z)), np.arange(len(Z))]
    rank = (distance < own[:, None]).sum(axis=1)  # others strictly nearer than oneself
    return {"shift_sd": float(np.median(shift)), "shift_nn": float(np.median(shift) / nn_dist),
            "top1": float(np.mean(rank < 1)), "top5": float(np.mean(rank < 5))}
