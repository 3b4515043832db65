"""sklearn's Pipeline, also forwarding ``predict_dist`` and ``sample`` to the last step."""

from __future__ import annotations

from sklearn import pipeline as sk_pipeline
from sklearn.utils.metaestimators import available_if

__all__ = ["Pipeline", "make_pipeline"]


def _final_estimator_has(attr):
    def check(self):
        getattr(self._final_estimator, attr)  # raises AttributeError: method unavailable
        return True

    return check


class Pipeline(sk_pipeline.Pipeline):
    """A :class:`sklearn.pipeline.Pipeline` that also forwards ``predict_dist`` and ``sample``.

    Both are available when the last step has them (e.g. :class:`FlowPropertyRegressor`):
    ``X`` goes through the transforms of the earlier steps, then to the last step's method.
    Everything else is sklearn's Pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from minuet_sk import EigengalaxyPCA, Pipeline
    >>> X = np.random.default_rng(0).normal(size=(30, 1, 4, 4))
    >>> pipe = Pipeline([("pca", EigengalaxyPCA(3, image_shape=(1, 4, 4))),
    ...                  ("reg", LinearRegression())])
    >>> pipe.fit(X, X[:, 0, 0, 0]).predict(X).shape
    (30,)
    >>> hasattr(pipe, "predict_dist")  # LinearRegression has no predict_dist
    False
    """

    def _transform_upstream(self, X):
        for _, _, transformer in self._iter(with_final=False):
            X = transformer.transform(X)
        return X

    @available_if(_final_estimator_has("predict_dist"))
    def predict_dist(self, X, **params):
        """Transform ``X`` through the earlier steps, then call the last step's
        ``predict_dist``.

        Parameters
        ----------
        X : array-like
            Input of the first step.
        **params
            Passed to the last step's ``predict_dist`` (e.g. ``n_samples``).

        Returns
        -------
        PropertyPosterior
        """
        return self._final_estimator.predict_dist(self._transform_upstream(X), **params)

    @available_if(_final_estimator_has("sample"))
    def sample(self, X, **params):
        """Transform ``X`` through the earlier steps, then call the last step's ``sample``.

        Parameters
        ----------
        X : array-like
            Input of the first step.
        **params
            Passed to the last step's ``sample`` (e.g. ``n_samples``, ``random_state``).

        Returns
        -------
        ndarray
        """
        return self._final_estimator.sample(self._transform_upstream(X), **params)


def make_pipeline(*steps, memory=None, verbose=False):
    """Build a :class:`minuet_sk.Pipeline` from estimators, naming the steps automatically.

    Parameters
    ----------
    *steps : estimators
    memory : str or joblib.Memory or None, default=None
        Caches fitted transformers, as in sklearn.
    verbose : bool, default=False
        Print the time of each step.

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> from minuet_sk import AsinhStretch, EigengalaxyPCA, make_pipeline
    >>> make_pipeline(AsinhStretch(), EigengalaxyPCA()).steps[1][0]
    'eigengalaxypca'
    """
    steps = sk_pipeline.make_pipeline(*steps).steps
    return Pipeline(steps, memory=memory, verbose=verbose)
