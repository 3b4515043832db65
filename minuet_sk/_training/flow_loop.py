"""The training loop of the flow: Adam on the negative log-likelihood, a moving average of
the weights, early stopping that anneals the learning rate before it stops, and the best
epoch's averaged weights kept. Pure torch."""

from __future__ import annotations

import copy
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from .._validation import iter_batches
from .moving_average import MovingAverage

__all__ = ["ROWS_PER_BATCH", "mean_nll", "train_flow"]

#: Flow rows (galaxies x draws) evaluated at once without gradients: bounds the memory of
#: predict_dist; 2**13 sampled fastest on a 2-core CPU (cache-sized: 1.98e5 vs 1.72e5
#: draws/s at 2**15).
ROWS_PER_BATCH = 2**13
# Early stopping first divides the learning rate by 1 / _LR_FACTOR, _LR_REDUCTIONS times.
_LR_FACTOR = 0.2
_LR_REDUCTIONS = 2
# Decay per optimiser step of the moving average of the weights that is validated and kept
# (benchmarks/quality_flow_calibration.py): the validation loss of single noisy Adam steps
# picked a biased snapshot on some seeds (PIT KS p < 0.01 on a known answer).
_EMA_DECAY = 0.995


def train_flow(flow, train, valid, generator, *, device, lr, weight_decay, batch_size,
               max_epochs, patience, log_jacobian=0.0, valid_log_jacobian=None, verbose=0,
               state=None, save=None):
    """Train ``flow`` on ``train = (x, y)`` tensors, early-stopped on ``valid`` (or None).

    The weights validated and kept are an exponential moving average of the trained ones
    (:class:`~minuet_sk._training.moving_average.MovingAverage`, decay ``_EMA_DECAY`` per
    step, warmed up): the average over the last few hundred steps, not one noisy Adam step.

    Returns ``(history, best_epoch, n_epochs)``: one dict per epoch (``epoch``,
    ``train_loss``, ``valid_loss``, losses plus ``log_jacobian``, or
    ``valid_log_jacobian`` for the validation loss when given; ``dur``, its seconds), the
    epoch whose weights ``flow`` holds at the end, and the epochs run.

    ``verbose > 0`` shows a progress bar over the epochs with the losses. ``save``, when
    given, is called after every epoch with the whole training state (a dict of tensors and
    plain values: weights, optimiser, random generator, history, early-stopping counters);
    ``state``, such a dict, resumes training where it was saved (a finished fit stays
    finished).
    """
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr, weight_decay=weight_decay,
                                 fused=True)
    average = MovingAverage(flow, _EMA_DECAY)
    x_train, y_train = train
    history, best_loss, best_state, best_epoch, stale, reductions = [], np.inf, None, 0, 0, 0
    start, finished = 1, False
    if state is not None:
        flow.load_state_dict(state["flow"])
        average.model.load_state_dict(state["average"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        history = [dict(h) for h in state["history"]]
        best_loss, best_state = float(state["best_loss"]), state["best_state"]
        best_epoch, stale, reductions = (int(state[k]) for k in
                                         ("best_epoch", "stale", "reductions"))
        start, finished = len(history) + 1, bool(state["finished"])
    epoch = start - 1
    epochs = tqdm(range(start, max_epochs + 1), disable=verbose <= 0 or finished,
                  desc="flow", unit="epoch", leave=False)
    for epoch in epochs:
        if finished:
            break
        began = time.perf_counter()
        flow.train()
        total = 0.0
        for index in torch.randperm(len(x_train), generator=generator).split(batch_size):
            x = x_train[index].to(device)
            y = y_train[index].to(device)
            loss = -flow.log_prob(y, context=x).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
            optimizer.step()
            average.update(flow)
            total += float(loss.detach()) * len(index)
        record = {"epoch": epoch, "train_loss": total / len(x_train) + log_jacobian,
                  "valid_loss": None}
        if valid is not None:
            record["valid_loss"] = mean_nll(average.model.module, *valid, device) + (
                log_jacobian if valid_log_jacobian is None else valid_log_jacobian)
            if record["valid_loss"] < best_loss:
                best_loss, stale, best_epoch = record["valid_loss"], 0, epoch
                best_state = copy.deepcopy(average.model.module.state_dict())
            else:
                stale += 1
        record["dur"] = time.perf_counter() - began
        history.append(record)
        epochs.set_postfix(train_loss=f"{record['train_loss']:.4f}",
                           valid_loss=(None if record["valid_loss"] is None
                                       else f"{record['valid_loss']:.4f}"))
        if valid is not None and stale >= patience:
            if reductions == _LR_REDUCTIONS:
                finished = True
            else:
                # Anneal before stopping: a smaller step settles into the minimum that a
                # noisy large step only circles, which is what calibration needs.
                reductions, stale = reductions + 1, 0
                for group in optimizer.param_groups:
                    group["lr"] *= _LR_FACTOR
        if save is not None:
            save({"flow": flow.state_dict(), "average": average.model.state_dict(),
                  "optimizer": optimizer.state_dict(),
                  "generator": generator.get_state(), "history": history,
                  "best_loss": best_loss, "best_state": best_state, "best_epoch": best_epoch,
                  "stale": stale, "reductions": reductions, "finished": finished})
    epochs.close()
    epoch = len(history)
    if best_state is None:  # no validation: the average at the end
        best_state, best_epoch = average.model.module.state_dict(), epoch
    flow.load_state_dict(best_state)
    flow.eval()
    return history, best_epoch, epoch


@torch.no_grad()
def mean_nll(flow, x, y, device):
    """Mean negative log-likelihood of ``y`` given ``x`` under ``flow``, in batches."""
    flow.eval()
    total = 0.0
    for start, stop in iter_batches(x, ROWS_PER_BATCH):
        total -= float(flow.log_prob(y[start:stop].to(device),
                                     context=x[start:stop].to(device)).sum())
    return total / len(x)
