"""The feature names of every latent-space transformer of the package (a protocol the
encoders share, like sklearn's ``ClassNamePrefixFeaturesOutMixin``)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

__all__ = ["LatentFeaturesMixin"]


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
