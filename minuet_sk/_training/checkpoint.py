"""Checkpoints of a fit in progress: written after every epoch, resumed by the next ``fit``.

A checkpoint holds the module, the optimiser, the random generators and the history, so a
resumed fit continues exactly where the interrupted one stopped (``torch.save`` of tensors
and plain types only, read back with ``weights_only=True``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch
from skorch.callbacks import Callback
from skorch.history import History

from .._persistence import (
    atomic_write_bytes,
    check_resumable,
    check_saved_class,
    estimator_config,
    json_params,
)
from .moving_average import MovingAverage
from .net import epoch_records

__all__ = ["CHECKPOINT_NAME", "RESUMABLE_PARAMS", "EpochCheckpoint", "resume",
           "write_checkpoint"]

CHECKPOINT_NAME = "checkpoint.pt"
# Parameters that may change between a checkpointed fit and its resumption.
RESUMABLE_PARAMS = {
    "max_epochs", "verbose", "device", "checkpoint_dir", "warm_start", "early_stopping",
    "patience", "accelerator", "compile", "mixed_precision",
}


class EpochCheckpoint(Callback):
    """Calls ``write(net)`` at the end of every epoch."""

    def __init__(self, write):
        self.write = write

    def on_epoch_end(self, net, **kwargs):
        self.write(net)


def write_checkpoint(estimator, net):
    """Save ``estimator``'s training state (module, optimiser, random generators, history)
    to its ``checkpoint_dir``, atomically; only the main process writes."""
    estimator.history_ = epoch_records(net.history)
    estimator.n_iter_ = len(estimator.history_)
    if not hasattr(estimator, "_stopped_early"):
        estimator._stopped_early = False
    if not estimator._is_main_process():
        return
    state = {
        "config": json.dumps(estimator_config(estimator, estimator._fitted_config())),
        "module": net.module_.state_dict(),
        "optimizer": net.optimizer_.state_dict(),
        "rng_shuffle": net.shuffle_generator.get_state(),
        "rng_loss": net.loss_generator.get_state(),
    }
    if net.ema_ is not None:
        state["ema"] = net.ema_.model.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    directory = Path(estimator.checkpoint_dir)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(directory / CHECKPOINT_NAME, buffer.getvalue())

def resume(estimator, shape):
    """Restore ``estimator``'s training state from its ``checkpoint_dir``; False when there
    is none. Refuses a checkpoint of other parameters or another image shape."""
    path = Path(estimator.checkpoint_dir) / CHECKPOINT_NAME
    if not path.is_file():
        return False
    state = torch.load(path, map_location="cpu", weights_only=True)
    config = json.loads(state["config"])
    check_saved_class(config, type(estimator), path)
    check_resumable(f"checkpoint_dir={estimator.checkpoint_dir!s}", json_params(estimator),
                    config["params"], RESUMABLE_PARAMS)
    fitted = config["fitted"]
    if tuple(fitted["image_shape_"]) != tuple(shape):
        raise ValueError(
            f"The checkpoint was trained on images of shape {fitted['image_shape_']}, "
            f"X holds {tuple(shape)}."
        )
    estimator._set_fitted_config(fitted)
    estimator.net_ = net = estimator._make_net()
    net.module_.load_state_dict(state["module"])
    net.optimizer_.load_state_dict(state["optimizer"])
    net.shuffle_generator.set_state(state["rng_shuffle"])
    net.loss_generator.set_state(state["rng_loss"])
    if "ema" in state:
        net.ema_ = MovingAverage(net.module_, net.ema_decay)
        net.ema_.model.load_state_dict(state["ema"])
    net.history = History([dict(h, batches=[]) for h in estimator.history_])
    return True
