"""Simulated Galaxy Zoo DECaLS volunteers: votes drawn from the simulator's truth.

About 40 volunteers look at each galaxy and walk the GZD-5 decision tree of
:mod:`minuet_sk.datasets.zoo`: every question is answered by exactly the volunteers whose
previous answer led to it (a multinomial draw per question). Each galaxy's answer
probabilities come from its truth, blurred by a *visibility* in [0, 1] that falls when the
galaxy is small against the PSF or of low surface brightness (features of faint, compact
galaxies are missed and they look smooth), and scattered per galaxy by a Dirichlet draw
(volunteers disagree more than a multinomial alone would give).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from minuet_sk.datasets.zoo import PARENT, QUESTIONS, vote_columns

__all__ = ["answer_probabilities", "simulate_votes", "visibility"]

_MEAN_VOLUNTEERS = 40
_DISPERSION = 25.0  # Dirichlet concentration of the per-galaxy answer probabilities


def visibility(truth):
    """How well volunteers can see structure: size over seeing times surface brightness."""
    size = expit((truth["half_light_radius_arcsec"] / truth["seeing"] - 0.9) / 0.3)
    surface = expit((23.0 - truth["surface_brightness_r"]) / 0.5)
    return np.asarray(size * surface)


def _soft_choice(value, centres, width):
    """Probabilities over ordered answers: Gaussian kernel of ``value`` around ``centres``."""
    d = (np.asarray(value)[:, None] - np.asarray(centres)[None, :]) / np.asarray(width)[:, None]
    p = np.exp(-0.5 * d**2) + 1e-3
    return p / p.sum(axis=1, keepdims=True)


def _mix(v, seen, unseen):
    """Blend what a volunteer reports when the feature is visible and when it is not."""
    v = np.asarray(v)[:, None]
    return v * np.asarray(seen) + (1 - v) * np.asarray(unseen)


def answer_probabilities(truth):
    """Per-galaxy answer probabilities for every question, from the truth table.

    Returns
    -------
    dict
        question -> ndarray of shape (n, n_answers), rows summing to 1.
    """
    n = len(truth)
    v = visibility(truth)
    bt = truth["bulge_fraction"].to_numpy()
    arms = truth["n_arms"].to_numpy() > 0
    bar = truth["has_bar"].to_numpy()
    incl = truth["inclination"].to_numpy()
    edge = expit((incl - 76.0) / 3.0) * (bt < 0.75)
    featured = np.maximum.reduce([expit((0.5 - bt) / 0.08), 0.95 * arms, 0.9 * edge])
    p = {}
    feat = 0.03 + 0.92 * (v * featured + (1 - v) * 0.15)
    p["smooth-or-featured"] = np.stack([1 - feat - 0.02, feat, np.full(n, 0.02)], 1)
    yes = 0.03 + 0.94 * edge * (0.5 + 0.5 * v)
    p["disk-edge-on"] = np.stack([yes, 1 - yes], 1)
    face_on_view = expit((72.0 - incl) / 6.0)  # arms blur together towards edge-on
    spiral = 0.08 + 0.87 * arms * v * face_on_view
    p["has-spiral-arms"] = np.stack([spiral, 1 - spiral], 1)
    barred = _mix(v, [0.5, 0.35, 0.15], [0.05, 0.15, 0.8])
    p["bar"] = np.where(bar[:, None], barred, [0.02, 0.08, 0.9])
    p["bulge-size"] = _soft_choice(bt, [0.8, 0.55, 0.35, 0.15, 0.02], 0.1 + 0.15 * (1 - v))
    p["how-rounded"] = _soft_choice(truth["axis_ratio"], [0.9, 0.6, 0.3], 0.1 + 0.1 * (1 - v))
    boxy = 0.05 + 0.6 * bar
    rounded = 2.0 * bt
    no_bulge = np.exp(-bt / 0.1)
    eob = np.stack([boxy, no_bulge, rounded], 1)
    p["edge-on-bulge"] = eob / eob.sum(axis=1, keepdims=True)
    pitch = np.where(arms, truth["pitch_angle"], 20.0)
    p["spiral-winding"] = _soft_choice(pitch, [10.0, 20.0, 30.0], 5.0 + 6.0 * (1 - v))
    count = _soft_choice(np.clip(truth["n_arms"], 1, 5), [1, 2, 3, 4, 5], 0.4 + 0.8 * (1 - v))
    cant_tell = (0.1 + 0.6 * (1 - v))[:, None]
    count = np.concatenate([count * (1 - cant_tell), cant_tell], 1)
    p["spiral-arm-count"] = np.where(arms[:, None], count, [0.1, 0.2, 0.1, 0.05, 0.05, 0.5])
    close = np.asarray(
        (truth["nearest_neighbor_arcsec"] < 3 * truth["half_light_radius_arcsec"] + 2)
        & (truth["brightest_neighbor_mag_r"] < truth["mag_r"] + 2))
    merging = _mix(v, [0.05, 0.2, 0.35, 0.4], [0.45, 0.3, 0.15, 0.1])
    quiet = np.where(close[:, None], [0.7, 0.2, 0.06, 0.04], [0.91, 0.06, 0.02, 0.01])
    p["merging"] = np.where(truth["is_merger"].to_numpy()[:, None], merging, quiet)
    return p


def _multinomial(rng, n, probs):
    """Per-row multinomial counts with Dirichlet-scattered probabilities."""
    g = rng.gamma(_DISPERSION * probs + 1e-3)
    return rng.multinomial(n, g / g.sum(axis=1, keepdims=True))


def simulate_votes(truth, rng):
    """Vote counts, totals and fractions in GZ DECaLS column layout.

    Parameters
    ----------
    truth : pandas.DataFrame
        The simulator's truth table.
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        ``{q}_{a}`` counts, ``{q}_total-votes`` and ``{q}_{a}_fraction`` (NaN where the
        question was never asked), indexed like ``truth``.
    """
    probs = answer_probabilities(truth)
    n = len(truth)
    counts, totals = {}, {}
    for question, answers in QUESTIONS.items():
        parent = PARENT[question]
        if parent is None:
            asked = np.maximum(rng.poisson(_MEAN_VOLUNTEERS, n), 10)
        else:
            parent_q, parent_answers = parent
            if isinstance(parent_answers, str):
                parent_answers = (parent_answers,)
            asked = sum(counts[parent_q][:, QUESTIONS[parent_q].index(a)]
                        for a in parent_answers)
        counts[question] = _multinomial(rng, asked, probs[question])
        totals[question] = asked
    columns = {}
    for question, answers in QUESTIONS.items():
        for k, a in enumerate(answers):
            columns[f"{question}_{a}"] = counts[question][:, k]
    for question in QUESTIONS:
        columns[f"{question}_total-votes"] = totals[question]
    with np.errstate(invalid="ignore", divide="ignore"):
        for question, answers in QUESTIONS.items():
            for k, a in enumerate(answers):
                columns[f"{question}_{a}_fraction"] = np.where(
                    totals[question] > 0, counts[question][:, k] / totals[question], np.nan)
    order = vote_columns("count") + vote_columns("total") + vote_columns("fraction")
    return pd.DataFrame({c: columns[c] for c in order}, index=truth.index)
