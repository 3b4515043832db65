"""The fitted state of an image encoder, to JSON and back: what ``save``/``load`` and the
checkpoints of :mod:`minuet_sk._training.checkpoint` store besides the module's weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

__all__ = ["EncoderStateMixin"]


class EncoderStateMixin:
    """``_fitted_config``/``_set_fitted_config`` and the hooks of
    :class:`~minuet_sk._persistence.SavedModelMixin` for the image encoders."""

    def _fitted_config(self):
        return {
            "image_shape_": self.image_shape_,
            "n_features_in_": self.n_features_in_,
            "band_median_": self.band_median_,
            "band_scale_": self.band_scale_,
            "band_correlation_": self.band_correlation_,
            "history_": self.history_,
            "n_iter_": self.n_iter_,
            "seeds": self._seeds,
            "stopped_early": self._stopped_early,
        }

    def _set_fitted_config(self, state):
        self.image_shape_ = tuple(state["image_shape_"])
        self.n_features_in_ = int(state["n_features_in_"])
        self.band_median_ = np.asarray(state["band_median_"], np.float32)
        self.band_scale_ = np.asarray(state["band_scale_"], np.float32)
        self.band_correlation_ = np.asarray(state["band_correlation_"], np.float64)
        self.history_ = list(state["history_"])
        self.n_iter_ = int(state["n_iter_"])
        self._seeds = list(state["seeds"])
        self._stopped_early = bool(state["stopped_early"])
        self._fit_stretch(self.image_shape_)
        self.device_ = self._resolve_device()

    def save(self, path):
        """Save the fitted encoder to the folder ``path`` (safetensors + JSON, no pickle):
        ``model.safetensors`` holds the module weights, ``config.json`` the class name,
        parameters, fitted state and package version.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : pathlib.Path

        Notes
        -----
        In a data-parallel fit (``accelerator``) only the main process writes; the others
        wait for it.
        """
        check_is_fitted(self)
        if self._is_main_process():
            super().save(path)
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()
        return Path(path)

    def _saved_state(self):
        return self._fitted_config(), self.net_.inference_module().state_dict()

    def _restore(self, fitted, tensors, device):
        if device is not None:
            self.set_params(device=device)
        self._set_fitted_config(fitted)
        self.net_ = self._make_net()
        self.net_.module_.load_state_dict(tensors)
        # the epochs trained so far: continued training (fine-tuning) numbers its epochs
        # after them, and history_ and n_iter_ keep them
        self.net_.history = History([dict(h, batches=[]) for h in self.history_])
