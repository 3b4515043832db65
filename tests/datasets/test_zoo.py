"""gz_binary_labels: thresholds of the Minuet paper, NaN for undecided or unasked galaxies."""

import numpy as np
import pandas as pd
import pytest

from minuet_sk.datasets import gz_binary_labels
from minuet_sk.datasets._volunteers import simulate_votes
from minuet_sk.datasets.zoo import TASKS, vote_columns


def _frame(question, rows, answers):
    return pd.DataFrame([dict(zip([f"{question}_{a}_fraction" for a in answers], r))
                         for r in rows])


class TestThresholds:
    def test_merger_uses_disturbance_above_0_2_against_none_above_0_5(self):
        answers = ("none", "minor-disturbance", "major-disturbance", "merger")
        votes = _frame("merging", [(0.75, 0.15, 0.1, 0.0),   # 0.25 disturbed -> positive
                                   (0.9, 0.05, 0.05, 0.0),   # none 0.9 -> negative
                                   (0.4, 0.1, 0.05, 0.45),   # neither
                                   (0.5, 0.1, 0.1, 0.3)],    # disturbed 0.2 is not > 0.2
                       answers)
        np.testing.assert_array_equal(gz_binary_labels(votes, "merger"),
                                      [1.0, 0.0, np.nan, np.nan])

    @pytest.mark.parametrize("task, question, answers", [
        ("spiral", "has-spiral-arms", ("yes", "no")),
        ("edge_on", "disk-edge-on", ("yes", "no")),
    ])
    def test_yes_no_tasks_at_one_half(self, task, question, answers):
        votes = _frame(question, [(0.8, 0.2), (0.2, 0.8), (0.5, 0.5)], answers)
        np.testing.assert_array_equal(gz_binary_labels(votes, task), [1.0, 0.0, np.nan])

    def test_round_against_the_other_shapes(self):
        votes = _frame("how-rounded", [(0.7, 0.2, 0.1), (0.2, 0.4, 0.4), (0.5, 0.3, 0.2)],
                       ("round", "in-between", "cigar-shaped"))
        np.testing.assert_array_equal(gz_binary_labels(votes, "round"), [1.0, 0.0, np.nan])

    def test_bar_sums_strong_and_weak(self):
        votes = _frame("bar", [(0.3, 0.3, 0.4), (0.1, 0.1, 0.8)], ("strong", "weak", "no"))
        np.testing.assert_array_equal(gz_binary_labels(votes, "bar"), [1.0, 0.0])

    def test_unasked_questions_are_left_out(self):
        votes = pd.DataFrame({"has-spiral-arms_yes_fraction": [0.9, np.nan, 0.9],
                              "has-spiral-arms_no_fraction": [0.1, np.nan, 0.1],
                              "has-spiral-arms_total-votes": [10, 0, 0]})
        np.testing.assert_array_equal(gz_binary_labels(votes, "spiral"), [1.0, np.nan, np.nan])

    def test_errors(self):
        with pytest.raises(ValueError, match="Unknown task"):
            gz_binary_labels(pd.DataFrame(), "ring")
        with pytest.raises(ValueError, match="missing"):
            gz_binary_labels(pd.DataFrame({"a": [1]}), "smooth")


def test_labels_on_simulated_votes_follow_the_truth():
    from minuet_sk.datasets import _physics

    truth = pd.DataFrame(_physics.sample_catalog(1500, np.random.default_rng(2), 19.0)).assign(
        seeing=1.3, nearest_neighbor_arcsec=np.nan, brightest_neighbor_mag_r=np.nan)
    votes = simulate_votes(truth, np.random.default_rng(3))
    assert set(vote_columns("fraction")) <= set(votes.columns)
    for task in TASKS:
        labels = gz_binary_labels(votes, task)
        assert labels.index.equals(votes.index)
        assert set(labels.dropna().unique()) <= {0.0, 1.0}
    spiral = gz_binary_labels(votes, "spiral").dropna()
    has_arms = truth.loc[spiral.index, "n_arms"] > 0
    assert spiral[has_arms].mean() > spiral[~has_arms].mean() + 0.4
    edge = gz_binary_labels(votes, "edge_on").dropna()
    incl = truth.loc[edge.index, "inclination"]
    assert incl[edge == 1].median() > incl[edge == 0].median() + 20
    smooth = gz_binary_labels(votes, "smooth").dropna()
    assert truth.loc[smooth.index[smooth == 1], "quenched"].mean() > truth.loc[
        smooth.index[smooth == 0], "quenched"].mean()
