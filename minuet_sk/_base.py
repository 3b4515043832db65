"""Small mixins shared by the package's estimators."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

__all__ = ["TRAINING_CONSTRAINTS", "LatentFeaturesMixin", "check_not_pretrained", "resolve_device"]


#: Constraints of the training parameters that every torch estimator shares (the image
#: encoders and the flow): one definition, so that they cannot disagree.
TRAINING_CONSTRAINTS = {
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "early_stopping": ["boolean"],
    "patience": [Interval(Integral, 1, None, closed="left")],
    "device": [str],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


class LatentFeaturesMixin:
    """``get_feature_names_out`` giving ``{prefix}0, {prefix}1, ...`` (``minuet0``, ``pca0``).

    Like sklearn's ``ClassNamePrefixFeaturesOutMixin``, but with a short prefix set by the
    class attribute ``_feature_prefix`` rather than the lower-cased class name. Needs
    ``_n_features_out``; enables ``set_output(transform="pandas")``.
    """

    _feature_prefix = "latent"

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : array-like of str or None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        ndarray of str of shape (n_components,)
        """
        check_is_fitted(self, "_n_features_out")
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray(
            [f"{self._feature_prefix}{i}" for i in range(self._n_features_out)], dtype=object
        )


def check_not_pretrained(estimator):
    """Refuse a plain ``fit`` of pretrained weights (``from_pretrained``): it would train
    from scratch and discard them. Fine-tuning (``warm_start=True``) is allowed."""
    name = getattr(estimator, "pretrained_", None)
    if name is None or getattr(estimator, "warm_start", False):
        return
    fine_tune = ("Fine-tune with set_params(warm_start=True).fit(X) or partial_fit(X); "
                 if "warm_start" in estimator.get_params() else "")
    raise ValueError(
        f"This {type(estimator).__name__} holds the pretrained weights {name!r}: fit() "
        f"would train from scratch and discard them. {fine_tune}train afresh with "
        "sklearn.base.clone(model).fit(...); in a Pipeline that you fit, wrap the model in "
        "sklearn.frozen.FrozenEstimator to use it as it is."
    )


def resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; other names are kept.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        import torch  # here, not at the top: PCA and the CLI import this module without it

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)
