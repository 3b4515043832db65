"""sklearn's estimator checks on every estimator the package exports.

Estimators are discovered from ``minuet_sk.__all__``, not listed by hand. ``CHECK_PARAMS``
only shrinks them so the checks run fast; ``EXPECTED_FAILED_CHECKS`` is the one place that
lists checks an estimator cannot pass, each with its reason.
"""

import inspect

from _helpers import MICRO_MINUET, TINY_VAE
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import minuet_sk

# Generic sklearn checks feed tabular data; image_shape=None reads it as (1, 1, n_features).
CHECK_PARAMS = {
    "AsinhStretch": {"image_shape": None},
    "EigengalaxyPCA": {"image_shape": None, "n_components": 1},
    # small and fast, yet enough to reach R^2 > 0.5 on sklearn's regression data set
    "FlowPropertyRegressor": {"n_transforms": 2, "hidden_features": 8, "max_epochs": 20,
                              "batch_size": 32, "lr": 1e-2, "n_samples": 30},
    "MinuetEncoder": {**MICRO_MINUET, "image_shape": None, "n_components": 2, "batch_size": 32},
    "SegmentationMasker": {"image_shape": None, "random_state": 0},
    "VAEEncoder": {**TINY_VAE, "n_components": 2, "image_shape": None, "batch_size": 32,
                   "validation_fraction": 0.0},
}

EXPECTED_FAILED_CHECKS = {}


def _estimators():
    for name in sorted(minuet_sk.__all__):
        obj = getattr(minuet_sk, name)
        if not (inspect.isclass(obj) and issubclass(obj, BaseEstimator)):
            continue
        if issubclass(obj, minuet_sk.Pipeline):
            continue  # a meta-estimator: needs steps, covered in tests/test_pipeline.py
        yield obj(**CHECK_PARAMS.get(name, {}))


def test_every_estimator_is_checked():
    checked = {type(est).__name__ for est in _estimators()}
    assert set(CHECK_PARAMS) <= checked, "CHECK_PARAMS names an estimator that is not exported"
    assert set(EXPECTED_FAILED_CHECKS) <= checked


@parametrize_with_checks(
    list(_estimators()),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
