"""Data-parallel training of the image encoders with Hugging Face ``accelerate`` (DDP).

An encoder given ``accelerator=Accelerator()`` trains through :class:`AcceleratedImageNet`,
skorch's :class:`~skorch.hf.AccelerateMixin` on top of
:class:`~minuet_sk._training.net.ImageNet`. Our batches come from
:class:`~minuet_sk._training.streaming.ImageBatches`, not from a DataLoader that accelerate could shard, so the sharding is ours and is chosen so that
``w`` processes train the model that one process would:

- every process reads the same shuffled batches (same seeds), of ``batch_size`` images: the
  global batch;
- the criterion runs on the whole batch in every process with the same generator, so every
  random draw (noise, times, orientations) is that of one process;
- inside the criterion the module is a :class:`RankView`: its method calls go through the
  ``DistributedDataParallel`` wrapper (so gradients are averaged) with every batch-sized
  tensor argument cut to this process's share of the rows (rank ``r`` of ``w`` takes rows
  ``n r / w`` to ``n (r + 1) / w``);
- each process's loss is weighted by its share of the rows, so DDP's average of the
  gradients is the gradient of the whole batch's mean loss; the reported ``train_loss`` is
  the all-reduced whole-batch loss;
- validation batches are dealt out round-robin (each has its own seeded noise), and
  ``valid_loss`` is the all-reduced mean.

Only the main process prints, writes checkpoints and saves.
"""

from __future__ import annotations

import torch
from skorch.callbacks import Callback
from skorch.hf import AccelerateMixin
from torch import nn

from .net import ImageNet, NumberedBatches

__all__ = ["AcceleratedImageNet", "RankView"]


class _MethodCall(nn.Module):
    """``forward(name, *args)`` calls ``module.name(*args)``: the encoders' modules are used
    through methods (``loss``, ``elbo_terms``), and DDP only synchronises what goes through
    ``forward``. State-dict keys gain a ``module.`` prefix, so the net keeps the plain module
    as ``module_`` and this wrapper (under DDP) apart, as ``ddp_module_``."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, name, *args, **kwargs):
        return getattr(self.module, name)(*args, **kwargs)


class RankView:
    """The module as one process of a data-parallel fit sees it.

    Attributes (submodules, buffers, plain values) are the module's own; a method call
    ``view.loss(x, t, ...)`` runs ``module.loss`` through the DDP wrapper ``ddp`` on this
    process's ``rows`` of every tensor argument whose first dimension is the batch size
    ``n``. Only the module's own methods are routed: a loss hook that called a submodule's
    method (``view.encoder(x)``) would bypass DDP, and its gradients would not be averaged.

    Parameters
    ----------
    ddp : callable
        ``ddp(name, *args, **kwargs)`` runs ``module.name(*args, **kwargs)`` (a DDP-wrapped
        ``_MethodCall``).
    module : torch.nn.Module
        The plain module.
    rows : slice
        This process's rows of the batch.
    n : int
        Batch size.

    Examples
    --------
    >>> import torch
    >>> lin = torch.nn.Linear(2, 1)
    >>> view = RankView(_MethodCall(lin), lin, slice(0, 1), 3)
    >>> view(torch.ones(3, 2)).shape, view.in_features
    (torch.Size([1, 1]), 2)
    """

    def __init__(self, ddp, module, rows, n):
        self._ddp, self._module, self._rows, self._n = ddp, module, rows, n

    def _cut(self, value):
        if torch.is_tensor(value) and value.ndim > 0 and len(value) == self._n:
            return value[self._rows]
        return value

    def _call(self, name, *args, **kwargs):
        args = [self._cut(a) for a in args]
        kwargs = {k: self._cut(v) for k, v in kwargs.items()}
        return self._ddp(name, *args, **kwargs)

    def __call__(self, *args, **kwargs):
        return self._call("forward", *args, **kwargs)

    def __getattr__(self, name):
        value = getattr(self._module, name)
        if callable(value) and not isinstance(value, nn.Module):
            return lambda *args, **kwargs: self._call(name, *args, **kwargs)
        return value


def _silent(*args, **kwargs):
    """A print sink that prints nothing."""


class _ReducedValidLoss(Callback):
    """``valid_loss``: the batch-size-weighted mean of the validation batches of all
    processes (each process scores every ``w``-th batch)."""

    def on_epoch_end(self, net, dataset_valid=None, **kwargs):
        if dataset_valid is None:
            return
        batches = [b for b in net.history[-1, "batches"] if "valid_loss" in b]
        local = torch.tensor(
            [sum(b["valid_loss"] * b["valid_batch_size"] for b in batches),
             sum(b["valid_batch_size"] for b in batches)],
            dtype=torch.float64, device=net.accelerator.device,
        )
        total = net.accelerator.reduce(local, "sum")
        net.history.record("valid_loss", float(total[0] / total[1].clamp_min(1)))


class AcceleratedImageNet(AccelerateMixin, ImageNet):
    """:class:`~minuet_sk._training.net.ImageNet` trained data-parallel by ``accelerate``.

    ``module_`` stays the plain module (for callbacks, checkpoints, ``transform`` and
    ``save``); ``ddp_module_`` is the prepared (DDP) wrapper that training goes through and
    ``optimizer_`` the prepared optimizer. See the module docstring for how batches are
    shared. Use ``device=None`` (``accelerator`` places everything) and
    ``unwrap_after_train=False`` (``partial_fit`` and ``warm_start`` go on training).

    Examples
    --------
    >>> import numpy as np
    >>> from accelerate import Accelerator
    >>> from minuet_sk import VAEEncoder
    >>> X = np.random.default_rng(0).random((8, 1, 8, 8), dtype=np.float32)
    >>> vae = VAEEncoder(2, image_shape=None, channels=(4,), max_epochs=1, batch_size=4,
    ...                  accelerator=Accelerator(cpu=True), random_state=0).fit(X)
    >>> type(vae.net_).__name__, vae.transform(X).shape
    ('AcceleratedImageNet', (8, 2))
    """

    @property
    def _default_callbacks(self):
        main = self.accelerator.is_main_process
        callbacks = []
        for name, callback in super()._default_callbacks:
            if name == "valid_loss":
                callback = _ReducedValidLoss()
            if name != "progress_bar" or main:
                callbacks.append((name, callback))
        return callbacks

    def _initialize_callbacks(self):
        # skorch's PrintLog prints whenever its sink is not ``print``: honour verbose=0.
        if self.callbacks__print_log__sink == "auto" and not self.verbose:
            self.callbacks__print_log__sink = _silent
        return super()._initialize_callbacks()

    def _initialize_accelerator(self):
        if self._wrapped_with_accelerator:
            return self
        with self._current_init_context("module"):
            self.ddp_module_ = self.accelerator.prepare(_MethodCall(self.module_))
        with self._current_init_context("optimizer"):
            self.optimizer_ = self.accelerator.prepare(self.optimizer_)
        self._wrapped_with_accelerator = True
        return self

    def _unwrap_accelerator(self):
        # ``module_`` was never replaced by its wrapper: nothing to undo.
        return

    def _autocast(self):
        return self.accelerator.autocast()

    def _to_device(self, batch):
        return [t.to(self.accelerator.device, non_blocking=True) for t in batch]

    def _rows(self, n):
        w, r = self.accelerator.num_processes, self.accelerator.process_index
        return slice(n * r // w, n * (r + 1) // w)

    def get_iterator(self, dataset, training=False):
        if training:
            return dataset
        return NumberedBatches(
            dataset, self.accelerator.process_index, self.accelerator.num_processes
        )

    def train_step(self, batch, **fit_params):
        with self.accelerator.accumulate(self.ddp_module_):
            return super(AccelerateMixin, self).train_step(batch, **fit_params)

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        x, weight, *reference = self._to_device(batch)
        n, rows = len(x), self._rows(len(x))
        share = (rows.stop - rows.start) * self.accelerator.num_processes / n
        if share == 0:
            # a last batch smaller than the number of processes: DDP needs every process
            # in the backward pass, so this one computes one row and gives it weight 0
            rows = slice(0, 1)
        view = RankView(self.ddp_module_, self.module_, rows, n)
        with self._autocast():
            loss = self.criterion_(view, x, weight, self.loss_generator, True, *reference)
        local = loss.float() * share
        self.accelerator.backward(local)
        return {"loss": self.accelerator.reduce(local.detach(), "mean"), "y_pred": None}

