import numpy as np
import pytest
from _helpers import make_blobs_images
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import LinearRegression

from minuet_sk import AsinhStretch, EigengalaxyPCA, Pipeline, make_pipeline


class _GaussianRegressor(RegressorMixin, BaseEstimator):
    """Stand-in for a probabilistic regressor: predict_dist returns (mean, std)."""

    def fit(self, X, y):
        self.lin_ = LinearRegression().fit(X, y)
        return self

    def predict(self, X):
        return self.lin_.predict(X)

    def predict_dist(self, X, n_samples=3):
        return self.predict(X), np.full(len(X), float(n_samples))

    def sample(self, X, n_samples=2, random_state=None):
        return np.repeat(self.predict(X)[:, None], n_samples, axis=1)


def test_forwards_predict_dist_and_sample_through_transforms():
    X = make_blobs_images(30, (3, 8, 8))
    y = X.sum(axis=(1, 2, 3))
    pipe = make_pipeline(
        AsinhStretch(image_shape=(3, 8, 8)), EigengalaxyPCA(4, image_shape=(3, 8, 8)),
        _GaussianRegressor(),
    ).fit(X, y)
    assert isinstance(pipe, Pipeline)
    mean, extra = pipe.predict_dist(X, n_samples=7)
    np.testing.assert_allclose(mean, pipe.predict(X))
    assert (extra == 7).all()
    assert pipe.sample(X, n_samples=4).shape == (30, 4)
    assert isinstance(clone(pipe), Pipeline)


def test_methods_hidden_when_last_step_lacks_them():
    pipe = make_pipeline(EigengalaxyPCA(2, image_shape=None), LinearRegression())
    assert not hasattr(pipe, "predict_dist") and not hasattr(pipe, "sample")
    with pytest.raises(AttributeError):
        pipe.predict_dist(np.zeros((2, 4)))
