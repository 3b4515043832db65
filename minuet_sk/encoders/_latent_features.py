"""The latents of every encoder of the package, named and signed (a protocol the encoders
share, like sklearn's ``ClassNamePrefixFeaturesOutMixin``): ``minuet0, minuet1, ...``, and,
in a DataFrame, which fitted model made them, so that a flow trained on one encoder's latents
can refuse another's."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

__all__ = ["LATENT_ID", "LatentFeaturesMixin", "latent_fingerprint"]

#: The ``DataFrame.attrs`` key (kept by pandas through selection, concatenation and
#: Parquet files) under which latents carry the ``latent_id_`` of the model that made them.
LATENT_ID = "minuet_sk.latent_id"


def latent_fingerprint(latent_id):
    """The weights' part of a ``latent_id_`` (``"MinuetEncoder/sim-grz-72-v4:3f2a..."`` ->
    ``"3f2a..."``): two models with the same weights make the same latents, whatever their
    names.

    Examples
    --------
    >>> latent_fingerprint("MinuetEncoder/mine:0123456789ab")
    '0123456789ab'
    """
    return str(latent_id).rsplit(":", 1)[-1]


class LatentFeaturesMixin:
    """``get_feature_names_out`` giving ``{prefix}0, {prefix}1, ...`` (``minuet0``, ``pca0``).

    Like sklearn's ``ClassNamePrefixFeaturesOutMixin``, but with a short prefix set by the
    class attribute ``_feature_prefix`` rather than the lower-cased class name. Needs
    ``_n_features_out``; enables ``set_output(transform="pandas")``.
    """

    _feature_prefix = "latent"

    def _fitted_arrays(self):
        """The protocol's hook: the fitted arrays or tensors (name -> value) that make the
        latents, whose bytes sign them (:attr:`latent_id_`)."""
        raise NotImplementedError

    @property
    def latent_id_(self):
        """Which fitted model makes these latents: ``"<class>/<weights' name>:<fingerprint>"``,
        the name being the pretrained weights' (or ``fitted``) and the fingerprint the first
        12 hex digits of the SHA-256 of the fitted arrays. Latents in a DataFrame carry it
        (``frame.attrs["minuet_sk.latent_id"]``).

        Examples
        --------
        >>> from minuet_sk import MinuetEncoder
        >>> MinuetEncoder.from_pretrained(device="cpu").latent_id_
        'MinuetEncoder/sim-grz-72-v4:89f9e3f16945'
        """
        check_is_fitted(self, "_n_features_out")
        digest = hashlib.sha256()
        for name, value in sorted(self._fitted_arrays().items()):
            array = value.detach().cpu().numpy() if hasattr(value, "detach") else value
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        name = getattr(self, "pretrained_", None) or "fitted"
        return f"{type(self).__name__}/{name}:{digest.hexdigest()[:12]}"

    def _latent_frame(self, Z, X):
        """``Z`` as the output configured by ``set_output``: with pandas, a DataFrame of the
        latent names, ``X``'s index (when a DataFrame) and :attr:`latent_id_` in its
        ``attrs``."""
        if _get_output_config("transform", self)["dense"] != "pandas":
            return Z
        frame = pd.DataFrame(Z, columns=self.get_feature_names_out(),
                             index=X.index if isinstance(X, pd.DataFrame) else None)
        frame.attrs[LATENT_ID] = self.latent_id_
        return frame

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
