"""Checkpoints of a :class:`~minuet_sk.flow.FlowPropertyRegressor` fit in progress: the
training state of :func:`~minuet_sk._training.flow_loop.train_flow` after every epoch, and
the parameters and data it belongs to, so that the next ``fit`` resumes exactly where the
last one stopped (``torch.save`` of tensors and plain types, read with ``weights_only``)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch

from .._persistence import atomic_write_bytes, check_resumable, json_params

__all__ = ["FLOW_CHECKPOINT_NAME", "FlowCheckpoint"]

FLOW_CHECKPOINT_NAME = "flow_checkpoint.pt"
# Parameters that may change between a checkpointed fit and its resumption.
_RESUMABLE = {"max_epochs", "verbose", "device", "checkpoint_dir"}


class FlowCheckpoint:
    """The checkpoint of ``estimator``'s fit in ``directory``: :meth:`load` (None when there
    is none yet; refuses one of other parameters or other data) and :meth:`save`."""

    def __init__(self, estimator, directory):
        self.path = Path(directory) / FLOW_CHECKPOINT_NAME
        self.params = {k: v for k, v in json_params(estimator).items() if k not in _RESUMABLE}
        # what the data were: their size and the standardisation fitted on them
        self.data = np.concatenate([[estimator.n_features_in_, estimator.n_outputs_],
                                    estimator.x_mean_, estimator.x_scale_,
                                    estimator.y_mean_, estimator.y_scale_]).tolist()

    def load(self):
        if not self.path.is_file():
            return None
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        saved = json.loads(state.pop("config"))
        check_resumable(self.path, self.params, saved["params"], _RESUMABLE)
        if len(saved["data"]) != len(self.data) or not np.allclose(saved["data"], self.data):
            raise ValueError(
                f"{self.path} holds a fit on other data (other features, targets or rows); "
                "use another checkpoint_dir or delete it to start afresh."
            )
        return state

    def save(self, state):
        buffer = io.BytesIO()
        config = {"params": self.params, "data": self.data}
        torch.save({**state, "config": json.dumps(config)}, buffer)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, buffer.getvalue())
