"""PropertyPosterior on its own: summaries, scores and checks of given posterior draws.

Posteriors drawn by a fitted FlowPropertyRegressor (``predict_dist``, its exact
``log_prob``): test_flow.py; bad truths given to their scores: test_bad_inputs.py.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from minuet_sk import PropertyPosterior


class TestPropertyPosterior:
    def make(self):
        rng = np.random.default_rng(0)
        mu = rng.standard_normal((300, 2))
        samples = mu[:, None, :] + rng.standard_normal((300, 2000, 2))
        truth = mu + rng.standard_normal((300, 2))
        return PropertyPosterior(samples, names=["redshift", "log_mstar"]), mu, truth

    def test_summaries(self):
        post, mu, truth = self.make()
        np.testing.assert_allclose(post.mean(), mu, atol=0.1)
        np.testing.assert_allclose(post.median(), mu, atol=0.15)
        np.testing.assert_allclose(post.std(), 1.0, atol=0.1)
        low, high = post.interval(0.68)
        np.testing.assert_allclose(high - low, 2 * stats.norm.ppf(0.84), atol=0.2)
        assert post.quantile([0.1, 0.9]).shape == (2, 300, 2)
        np.testing.assert_allclose(post.coverage(truth, 0.68), 0.68, atol=0.08)
        assert post.pit(truth).shape == post.crps(truth).shape == (300, 2)
        assert len(post) == 300 and post.n_samples == 2000

    def test_to_frame_is_tidy(self):
        post, _, _ = self.make()
        frame = post.to_frame()
        assert frame.shape == (600, 7)
        assert frame.target.tolist()[:2] == ["redshift", "log_mstar"]
        first = frame.iloc[0]
        assert first.p16 < first["median"] < first.p84

    def test_log_prob_needs_a_model(self):
        post, _, truth = self.make()
        with pytest.raises(AttributeError, match="samples only"):
            post.log_prob(truth)

    def test_shape_errors(self):
        post, _, truth = self.make()
        with pytest.raises(ValueError, match="does not match"):
            post.pit(truth[:, :1])
        with pytest.raises(ValueError, match="shape"):
            PropertyPosterior(np.zeros((3, 4)))

    def test_scores_of_known_draws(self):
        # galaxy 0 draws 0, 1, 2, 3; galaxy 1 always draws 2 (a point forecast)
        samples = np.array([[0.0, 1.0, 2.0, 3.0], [2.0, 2.0, 2.0, 2.0]])[:, :, None]
        post = PropertyPosterior(samples)
        truth = np.array([0.5, 0.5])  # one target: a 1-D truth is read as a column
        np.testing.assert_allclose(post.pit(truth), [[0.25], [0.0]])
        # E|X - y| - E|X - X'| / 2: 1.25 - 0.625, and the absolute error of the point forecast
        np.testing.assert_allclose(post.crps(truth), [[0.625], [1.5]])
        np.testing.assert_allclose(post.mean(), [[1.5], [2.0]])
        np.testing.assert_allclose(post.median(), post.quantile(0.5))
        assert post.quantile(0.5).shape == (2, 1)
        np.testing.assert_allclose(post.std(), [[np.sqrt(1.25)], [0.0]])
        np.testing.assert_allclose(post.coverage([1.5, 2.5], 0.5), [0.5])

    def test_log_prob_is_the_models_density_of_the_checked_truths(self):
        seen = []

        def log_prob_fn(y):
            seen.append(y)
            return -y.sum(axis=1)

        post = PropertyPosterior(np.zeros((2, 5, 2)), names=["z", "m"], log_prob_fn=log_prob_fn)
        frame = pd.DataFrame({"m": [1.0, 2.0], "z": [10.0, 20.0]})
        np.testing.assert_array_equal(post.log_prob(frame), [-11.0, -22.0])
        np.testing.assert_array_equal(seen[0], [[10.0, 1.0], [20.0, 2.0]])  # columns by name
        with pytest.raises(ValueError, match="NaN or inf"):
            post.log_prob(np.array([[np.nan, 1.0], [0.0, 0.0]]))
        assert len(seen) == 1  # refused before the model is asked

    def test_names(self):
        post = PropertyPosterior(np.zeros((4, 3, 2)))
        assert post.names == ["target0", "target1"]
        assert repr(post) == (
            "PropertyPosterior(n_galaxies=4, n_samples=3, names=['target0', 'target1'])"
        )
        assert PropertyPosterior(np.zeros((1, 3, 2)), names=[1, "b"]).names == ["1", "b"]
        with pytest.raises(ValueError, match="1 names for 2 targets"):
            PropertyPosterior(np.zeros((4, 3, 2)), names=["z"])

    @pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 68])
    def test_interval_level_must_be_between_0_and_1(self, level):
        post = PropertyPosterior(np.zeros((2, 3, 1)))
        with pytest.raises(ValueError, match="level must be in"):
            post.interval(level)
