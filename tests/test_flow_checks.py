"""sklearn's estimator checks on FlowPropertyRegressor (to be folded into test_common.py)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from minuet_sk import FlowPropertyRegressor

# Small and fast, yet enough to reach R^2 > 0.5 on sklearn's regression data set.
FAST = {
    "n_transforms": 2,
    "hidden_features": 8,
    "max_epochs": 20,
    "batch_size": 32,
    "lr": 1e-2,
    "n_samples": 30,
}


@parametrize_with_checks([FlowPropertyRegressor(**FAST)])
def test_sklearn_checks(estimator, check):
    check(estimator)
