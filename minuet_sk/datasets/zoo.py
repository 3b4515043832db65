"""Galaxy Zoo DECaLS (GZD-5) decision tree, vote columns and binary labels.

Column names follow the GZ DECaLS catalogues (Walmsley et al. 2022):
``{question}_{answer}`` vote counts, ``{question}_{answer}_fraction`` and
``{question}_total-votes``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["PARENT", "QUESTIONS", "TASKS", "gz_binary_labels", "vote_columns"]

#: Answers of each GZD-5 question, in catalogue order.
QUESTIONS = {
    "smooth-or-featured": ("smooth", "featured-or-disk", "artifact"),
    "disk-edge-on": ("yes", "no"),
    "has-spiral-arms": ("yes", "no"),
    "bar": ("strong", "weak", "no"),
    "bulge-size": ("dominant", "large", "moderate", "small", "none"),
    "how-rounded": ("round", "in-between", "cigar-shaped"),
    "edge-on-bulge": ("boxy", "none", "rounded"),
    "spiral-winding": ("tight", "medium", "loose"),
    "spiral-arm-count": ("1", "2", "3", "4", "more-than-4", "cant-tell"),
    "merging": ("none", "minor-disturbance", "major-disturbance", "merger"),
}

#: The answer that leads to each question (None: asked of every galaxy). ``merging`` is
#: asked after both the smooth and the featured branches, i.e. of everything but artifacts.
PARENT = {
    "smooth-or-featured": None,
    "disk-edge-on": ("smooth-or-featured", "featured-or-disk"),
    "has-spiral-arms": ("disk-edge-on", "no"),
    "bar": ("disk-edge-on", "no"),
    "bulge-size": ("disk-edge-on", "no"),
    "how-rounded": ("smooth-or-featured", "smooth"),
    "edge-on-bulge": ("disk-edge-on", "yes"),
    "spiral-winding": ("has-spiral-arms", "yes"),
    "spiral-arm-count": ("has-spiral-arms", "yes"),
    "merging": ("smooth-or-featured", ("smooth", "featured-or-disk")),
}

#: Binary tasks: (question, positive answers, positive threshold, negative answers,
#: negative threshold). A galaxy is positive when the summed fraction of the positive
#: answers exceeds its threshold, negative when that of the negative answers does, and
#: left out (NaN) when it meets neither or the question was never asked.
TASKS = {
    "merger": ("merging", ("minor-disturbance", "major-disturbance"), 0.2, ("none",), 0.5),
    "spiral": ("has-spiral-arms", ("yes",), 0.5, ("no",), 0.5),
    "edge_on": ("disk-edge-on", ("yes",), 0.5, ("no",), 0.5),
    "round": ("how-rounded", ("round",), 0.5, ("in-between", "cigar-shaped"), 0.5),
    "smooth": ("smooth-or-featured", ("smooth",), 0.5, ("featured-or-disk",), 0.5),
    "bar": ("bar", ("strong", "weak"), 0.5, ("no",), 0.5),
}


def vote_columns(kind="fraction"):
    """Column names of a GZ DECaLS vote table.

    Parameters
    ----------
    kind : {"fraction", "count", "total"}
        ``{q}_{a}_fraction``, ``{q}_{a}`` or ``{q}_total-votes``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> vote_columns("total")[:2]
    ['smooth-or-featured_total-votes', 'disk-edge-on_total-votes']
    >>> len(vote_columns("fraction"))
    34
    """
    if kind == "total":
        return [f"{q}_total-votes" for q in QUESTIONS]
    suffix = {"fraction": "_fraction", "count": ""}[kind]
    return [f"{q}_{a}{suffix}" for q, answers in QUESTIONS.items() for a in answers]


def gz_binary_labels(votes, task):
    """Binary morphology labels from Galaxy Zoo vote fractions.

    Thresholds follow the Minuet paper (Gagliano, Shen & Villar 2025): merger is
    minor + major disturbance > 0.2 against none > 0.5; spiral arms and edge-on disk are
    yes > 0.5 against no > 0.5; round is the ``how-rounded_round`` fraction against the
    other two answers at 0.5; smooth is smooth > 0.5 against featured-or-disk > 0.5; bar is
    strong + weak > 0.5 against no > 0.5.

    Parameters
    ----------
    votes : pandas.DataFrame
        Vote table with ``{question}_{answer}_fraction`` columns (and, when present,
        ``{question}_total-votes``: galaxies with no votes on the question are left out).
    task : {"merger", "spiral", "edge_on", "round", "smooth", "bar"}

    Returns
    -------
    pandas.Series of float
        1.0 positive, 0.0 negative, NaN where the galaxy meets neither side. Indexed like
        ``votes``; drop the NaN with ``labels.dropna()`` before fitting a classifier.

    Examples
    --------
    >>> import pandas as pd
    >>> votes = pd.DataFrame({"has-spiral-arms_yes_fraction": [0.9, 0.1, 0.5],
    ...                       "has-spiral-arms_no_fraction": [0.1, 0.9, 0.5]})
    >>> gz_binary_labels(votes, "spiral").tolist()
    [1.0, 0.0, nan]
    """
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose one of {sorted(TASKS)}.")
    question, pos, pos_thr, neg, neg_thr = TASKS[task]
    needed = [f"{question}_{a}_fraction" for a in pos + neg]
    missing = [c for c in needed if c not in votes.columns]
    if missing:
        raise ValueError(f"Task {task!r} needs vote columns that are missing: {missing}.")
    frac = votes[needed].astype(float)
    positive = frac[needed[: len(pos)]].sum(axis=1, min_count=1) > pos_thr
    negative = frac[needed[len(pos) :]].sum(axis=1, min_count=1) > neg_thr
    labels = pd.Series(np.nan, index=votes.index, name=task)
    labels[negative] = 0.0
    labels[positive] = 1.0
    total = f"{question}_total-votes"
    if total in votes.columns:
        labels[~(votes[total].astype(float) > 0)] = np.nan
    return labels
