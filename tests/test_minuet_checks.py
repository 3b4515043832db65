"""sklearn's estimator checks on MinuetEncoder (to be folded into tests/test_common.py)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from minuet_sk import MinuetEncoder

# The lead's CHECK_PARAMS entry: generic checks feed tabular data, read as (1, 1, n).
CHECK_PARAMS = {
    "image_shape": None, "n_components": 2, "patch_size": 2, "width": 8, "n_heads": 2,
    "encoder_depth": 1, "decoder_depth": 1, "diffusion_steps": 10, "sampling_steps": 2,
    "max_epochs": 1, "batch_size": 32, "random_state": 0, "device": "cpu",
}


@parametrize_with_checks([MinuetEncoder(**CHECK_PARAMS)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
