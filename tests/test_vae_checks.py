"""sklearn's generic estimator checks on VAEEncoder (tiny settings)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from minuet_sk import VAEEncoder

# Checks that cannot pass, with the reason (see the report / lead's test_common.py).
EXPECTED_FAILED = {}


@parametrize_with_checks(
    [
        VAEEncoder(
            2, image_shape=None, channels=(4,), max_epochs=1, batch_size=32,
            validation_fraction=0.0, device="cpu", random_state=0,
        )
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
