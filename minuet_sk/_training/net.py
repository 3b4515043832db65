"""The skorch layer of the image encoders: the net, its callbacks, autocast and devices.

:class:`ImageNet` trains a pure torch module of ``minuet_sk.nn`` on
:class:`~minuet_sk._training.streaming.ImageBatches`; the loss comes from the estimator that
owns the net. Nothing here knows sklearn.
"""

from __future__ import annotations

import contextlib
import itertools
import time

import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EpochTimer,
    PassthroughScoring,
    PrintLog,
    ProgressBar,
)

from .moving_average import MovingAverage

__all__ = ["ImageNet", "NumberedBatches", "autocast", "epoch_records"]


class _Throughput(Callback):
    """Records ``images_per_s``: training images per second of the training part of the
    epoch (reading, standardising and optimising; the validation pass is left out)."""

    def on_epoch_begin(self, net, **kwargs):
        self.start_, self.stop_, self.n_images_ = time.perf_counter(), None, 0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training and self.stop_ is None:
            self.stop_ = time.perf_counter()

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.n_images_ += len(batch[0])

    def on_epoch_end(self, net, **kwargs):
        stop = self.stop_ if self.stop_ is not None else time.perf_counter()
        net.history.record("images_per_s", self.n_images_ / max(stop - self.start_, 1e-9))


class ImageNet(NeuralNet):
    """skorch net for image encoders: batches ``(x, weight)``, a criterion that sees the module.

    ``fit``/``partial_fit`` take ``X=(train_dataset, valid_dataset)``, two
    :class:`~minuet_sk._training.streaming.ImageBatches` (the validation one may be None): the split
    is made by the estimator, which knows the storage layout. The criterion is built the skorch
    way (``criterion=DenoisingLoss``, ``criterion__*``; :mod:`minuet_sk._training.losses`) and
    called as ``criterion_(module, x, weight, loss_generator, training)``: unlike a plain
    skorch criterion it needs the module (the diffusion loss runs the denoiser at a random
    time), the pixel weights and a generator. ``shuffle_generator`` and
    ``loss_generator`` are the ``torch.Generator`` objects that drive shuffling and noise;
    validation batch ``i`` draws its noise from a generator seeded ``valid_seed + i``.
    On CUDA the loss runs under bf16 autocast as ``mixed_precision`` (``"auto"``, ``"bf16"``,
    ``"no"``) says.

    ``ema_decay`` keeps an exponential moving average of the weights (``ema_``, a
    :class:`MovingAverage` updated after every optimiser step), which
    :meth:`inference_module` returns for encoding and decoding: the standard for diffusion
    models, whose weights at any one step are noisier than their average.

    ``compile=True`` (with ``compile__*`` keyword arguments for :func:`torch.compile`)
    compiles each child module of the module in place (:meth:`torch.nn.Module.compile`):
    the estimators call their module through methods (``encode``, ``loss``), which
    skorch's default, ``torch.compile(module)``, would leave uncompiled (it compiles only
    ``forward``), and it would prefix the state-dict keys with ``_orig_mod.``.
    """

    def __init__(self, module, *args, mixed_precision="auto", ema_decay=None, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.mixed_precision = mixed_precision
        self.ema_decay = ema_decay
        self.ema_ = None

    def inference_module(self):
        """The weights that encode and decode: the moving average with ``ema_decay`` once
        training has begun, else the trained module."""
        return self.module_ if self.ema_ is None else self.ema_.model.module

    def train_step(self, batch, **fit_params):
        step = super().train_step(batch, **fit_params)
        if self.ema_decay is not None:
            if self.ema_ is None:
                self.ema_ = MovingAverage(self.module_, self.ema_decay)
            else:
                self.ema_.update(self.module_)
        return step

    @property
    def _default_callbacks(self):
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("throughput", _Throughput()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
        ]
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks + [("print_log", PrintLog())]

    def get_split_datasets(self, X, y=None, **fit_params):
        return X

    def get_iterator(self, dataset, training=False):
        return dataset if training else NumberedBatches(dataset)

    def torch_compile(self, module, name):
        if self.compile:
            for child in module.children():
                child.compile(**self.get_params_for("compile"))
        return module

    def _autocast(self):
        return autocast(self.device, self.mixed_precision)

    def get_loss(self, x, weight, reference=None, *, training=False, generator=None):
        """The criterion's loss of a batch; ``reference`` (images the decoder rebuilds
        instead of ``x``) is passed on only when given."""
        generator = self.loss_generator if generator is None else generator
        extra = () if reference is None else (reference,)
        with self._autocast():
            return self.criterion_(self.module_, x, weight, generator, training, *extra)

    def _to_device(self, batch):
        return [t.to(self.device, non_blocking=True) for t in batch]

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        loss = self.get_loss(*self._to_device(batch), training=True)
        loss.backward()
        return {"loss": loss, "y_pred": None}

    def _validation_generator(self, index):
        """The generator of validation batch ``index``: seeded by the fit and the index, so
        that each batch gets the same noise in every epoch, whichever process scores it."""
        device = self.loss_generator.device
        return torch.Generator(device=device).manual_seed(self.valid_seed + int(index))

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        *tensors, index = batch
        with torch.no_grad():
            loss = self.get_loss(*self._to_device(tensors), training=False,
                                 generator=self._validation_generator(index))
        return {"loss": loss, "y_pred": None}


class NumberedBatches:
    """Re-iterable validation batches with their index, ``(x, weight[, reference], index)``:
    every ``step``-th batch of ``dataset`` from the ``start``-th.

    Examples
    --------
    >>> [b[2] for b in NumberedBatches([(0, 0), (1, 1), (2, 2)], start=1, step=2)]
    [1]
    """

    def __init__(self, dataset, start=0, step=1):
        self.dataset, self.start, self.step = dataset, start, step

    def __iter__(self):
        numbered = itertools.islice(enumerate(self.dataset), self.start, None, self.step)
        for index, batch in numbered:
            yield *batch, index


def autocast(device, mixed_precision="auto"):
    """bf16 autocast on CUDA as ``mixed_precision`` says; a no-op context on CPU.

    ``"auto"``: bf16 where the GPU computes it (Ampere and newer), float32 elsewhere;
    ``"bf16"``: always on CUDA; ``"no"``: float32 everywhere.

    Examples
    --------
    >>> autocast("cpu", "bf16")  # doctest: +ELLIPSIS
    <contextlib.nullcontext object at ...>
    """
    if not str(device).startswith("cuda") or mixed_precision == "no":
        return contextlib.nullcontext()
    if mixed_precision == "auto" and not torch.cuda.is_bf16_supported():
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16)


def epoch_records(history):
    """The history of a skorch net as one dict per epoch (the estimators' ``history_``)."""
    keys = ("train_loss", "valid_loss", "dur", "images_per_s")
    return [
        {"epoch": int(h["epoch"]), **{k: float(h[k]) for k in keys if k in h}} for h in history
    ]
