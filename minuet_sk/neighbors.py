"""Similarity search in latent space, on sklearn's NearestNeighbors."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

__all__ = ["latent_neighbors", "precision_at_k"]


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
