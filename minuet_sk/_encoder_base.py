"""The scikit-learn face of the image encoders (VAE, Minuet), over the training layer.

:class:`BaseImageEncoder` holds the scikit-learn side (parameters, validation, ``fit``,
``partial_fit``, ``warm_start``, feature names, tags, ``save``/``load``) and trains a torch
module through :class:`~minuet_sk._training.net.ImageNet`, whose batches are
``(standardised images, pixel weights)`` (:mod:`minuet_sk._training.streaming`) and whose
criterion is the estimator's loss (:mod:`minuet_sk._training.losses`); checkpoints are :mod:`minuet_sk._training.checkpoint`.
"""

from __future__ import annotations

import os
from functools import partial
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping

from ._base import (
    TRAINING_CONSTRAINTS,
    LatentFeaturesMixin,
    check_not_pretrained,
    resolve_device,
)
from ._encoder_inference import EncoderInferenceMixin
from ._encoder_state import EncoderStateMixin
from ._persistence import (
    SavedModelMixin,
)
from ._training.checkpoint import EpochCheckpoint, resume, write_checkpoint
from ._training.net import ImageNet, epoch_records
from ._training.sources import ImageSource, is_out_of_core
from ._training.streaming import (
    ImageBatches,
    band_statistics,
    check_pixel_weight,
    split_blocks,
)
from ._validation import resolve_image_shape, validate_images
from .preprocessing import AsinhStretch

__all__ = ["BaseImageEncoder"]


class BaseImageEncoder(EncoderInferenceMixin, EncoderStateMixin, SavedModelMixin,
                       LatentFeaturesMixin, TransformerMixin, BaseEstimator):
    """Base class of the torch image encoders (not used directly).

    Fitting standardises each band with a robust per-band median and scale (learned in
    ``fit`` from up to 2048 images), imputes missing (NaN) pixels with 0 after
    standardisation, passes weights (0 at missing pixels) to the loss, and trains the
    module with AdamW through skorch. Inputs may be NumPy arrays or out-of-core arrays
    (``np.memmap``, ``h5py.Dataset``, anything with ``shape`` and slicing), read in
    contiguous chunks and never copied whole into memory.

    Subclasses set ``_feature_prefix`` (``"vae"`` gives ``vae0, vae1, ...``), have an
    ``n_components`` parameter, list the shared parameters below in their ``__init__``, and
    implement five hooks:

    - ``_module_class()`` -> the torch module class (pure torch, from ``minuet_sk.nn``);
    - ``_module_kwargs()`` -> its keyword arguments, from ``self.image_shape_`` and params;
    - ``_criterion_class()`` and ``_criterion_kwargs()`` -> the loss, a skorch criterion
      (:mod:`minuet_sk._training.losses`) called as ``(module, x, weight, generator,
      training)`` -> scalar loss tensor, where ``x`` holds standardised images
      ``(n, C, H, W)``, ``weight`` the pixel weights (same shape), ``generator`` a
      ``torch.Generator`` on the module's device for all randomness (noise, augmentations),
      ``training`` says whether gradients will follow;
    - ``_encode(module, x, weight)`` -> latents ``(n, n_components)`` for ``transform``;

    and may override ``_training_weights(source, blocks, pixel_weight)``, the pixel weights
    of the training images ``blocks`` of ``source`` (an
    :class:`~minuet_sk._training.sources.ImageSource`; the result is an array-like indexed by
    image, read like ``pixel_weight``).

    Helpers for the subclass's own methods: ``_predict_batches(fn, X)`` applies
    ``fn(module, x, weight)`` to standardised image batches without gradients (in memory or
    streamed; returns NumPy), ``_map_latents(fn, Z)`` does the same for ``fn(module, z)``
    over latent rows, ``_destandardise(images)`` returns to input units. Extra fitted
    state goes into ``save``/``load`` and checkpoints by extending ``_fitted_config()`` and
    ``_set_fitted_config(state)`` (JSON-able values; call ``super()``); module buffers and
    parameters are saved with the module's ``state_dict``.

    Shared parameters
    -----------------
    n_components : int
        Number of latents (output features).
    image_shape : tuple of int or None
        ``(C, H, W)``; None takes it from 4-D input (2-D input is read as ``(1, 1, n)``).
    stretch : AsinhStretch or None
        Applied to the input inside the model and saved with it (``stretch_``, fitted to
        ``image_shape_``); decoded images are unstretched back to the input units.
    flux_unit, pixel_scale : str or None, float or None
        What the input pixels are: their flux unit (an astropy unit name) and arcsec per
        pixel. Nothing is computed from them; they are saved with the model, so that
        readers of FITS cutouts (``minuet encode``) convert and check files to match.
    max_epochs : int
        Epochs per ``fit`` (``partial_fit`` trains one).
    batch_size : int
    lr, weight_decay : float
        AdamW settings.
    validation_fraction : float
        Share of the images held out to compute ``valid_loss`` (0 for none).
    early_stopping : bool
        Stop when ``valid_loss`` has not improved for ``patience`` epochs (and restore the
        best weights); needs ``validation_fraction > 0``.
    patience : int
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``,
        ``"cuda"``, ``"cuda:1"``... On CUDA, batches are copied from page-locked (pinned)
        host memory without blocking. Ignored when ``accelerator`` is given.
    compile : bool or dict
        Compile the module's parts with :func:`torch.compile` (True: its defaults; a dict:
        its keyword arguments, e.g. ``{"mode": "max-autotune"}``). Worth it on a GPU for
        long fits and large transforms; the first batches are slow while it compiles.
    mixed_precision : {"auto", "bf16", "no"}
        bf16 autocast on CUDA: ``"auto"`` where the GPU computes bf16 (Ampere and newer),
        ``"bf16"`` always, ``"no"`` never (float32; for GPUs before Ampere, or to compare).
        The CPU always computes in float32. With ``accelerator``, the accelerator's own
        ``mixed_precision`` applies instead.
    accelerator : accelerate.Accelerator or None
        Train data-parallel over the processes of an ``accelerate launch`` (DDP, one
        process per GPU, or CPU processes with gloo): ``batch_size`` is the global batch,
        every process reads it and computes the loss of its share of the rows, and the
        result is the model one process would train (same random draws). The accelerator
        chooses the device and mixed precision (``Accelerator(mixed_precision="bf16")``);
        only its main process prints, checkpoints and saves. Not saved with the model
        (a loaded model has ``accelerator=None``). See ``minuet_sk._training.distributed``.
    random_state : int, RandomState instance or None
        Seeds the ``torch.Generator`` objects used for initialisation, shuffling and noise;
        the same integer gives bit-identical fits on CPU. The global RNGs are not touched.
    verbose : int
        0 silent; 1 or more: per-epoch table and progress bars.
    warm_start : bool
        ``fit`` continues training the fitted module (for ``max_epochs`` more epochs) with
        the fitted standardisation.
    checkpoint_dir : str, path-like or None
        When given, the training state is saved there (atomically) after every epoch, and a
        ``fit`` with the same directory resumes from it (up to ``max_epochs`` epochs in
        all). Delete the directory to start afresh. The early-stopping counter restarts on
        resumption.

    Common fitted attributes: ``image_shape_``, ``n_features_in_``, ``feature_names_in_``
    (in-memory DataFrame input only), ``band_median_``, ``band_scale_``,
    ``band_correlation_`` (of the standardised bands), ``device_``, ``history_`` (one dict
    per epoch: ``epoch``, ``train_loss``, ``valid_loss``, ``dur`` seconds,
    ``images_per_s``), ``n_iter_`` (epochs trained), ``net_`` (the skorch net;
    ``net_.module_`` is the torch module).
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "image_shape": [tuple, list, None],
        "stretch": [AsinhStretch, None],
        "flux_unit": [str, None],
        "pixel_scale": [Interval(Real, 0, None, closed="neither"), None],
        **TRAINING_CONSTRAINTS,
        "warm_start": ["boolean"],
        "checkpoint_dir": [str, os.PathLike, None],
        "compile": ["boolean", dict],
        "mixed_precision": [StrOptions({"auto", "bf16", "no"})],
        "accelerator": [None, HasMethods(["prepare", "backward", "reduce"])],
    }
    _feature_prefix = "encoder"

    # ---- subclass hooks -------------------------------------------------------------
    def _module_class(self):
        raise NotImplementedError

    def _module_kwargs(self):
        raise NotImplementedError

    def _criterion_class(self):
        raise NotImplementedError

    def _criterion_kwargs(self):
        raise NotImplementedError

    def _ema_decay(self):
        """Decay of the moving average of the weights used for inference (None: none)."""
        return

    def _training_weights(self, source, blocks, pixel_weight):
        """The pixel weights of the training images, the ``(start, stop)`` rows ``blocks``
        (not of validation): by default the user's ``pixel_weight`` (or None). Called once
        per ``fit``/``partial_fit``."""
        return pixel_weight

    def _encode(self, module, x, weight):
        raise NotImplementedError

    # ---- sklearn API ----------------------------------------------------------------
    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = False
        tags.transformer_tags.preserves_dtype = ["float32"]  # torch computes in float32
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, pixel_weight=None):
        """Fit the encoder (or continue training it, see ``warm_start``/``checkpoint_dir``).

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
            Images; NaN pixels are missing data. NumPy, ``np.memmap``, ``h5py.Dataset``
            or any array-like with ``shape`` and slicing (read in chunks).
        y : None
            Ignored.
        pixel_weight : array-like of the shape of X, or None
            Non-negative per-pixel loss weights (e.g. 0.9 on the central galaxy's
            segmentation mask and 0.1 elsewhere); in memory or out of core like ``X``.
            Missing pixels always weigh 0.

        Returns
        -------
        self
        """
        check_not_pretrained(self)
        continuing = self.warm_start and hasattr(self, "net_")
        return self._fit(
            X, pixel_weight, epochs=self.max_epochs, continuing=continuing, validate=True
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, pixel_weight=None):
        """Train one epoch on ``X`` (initialising the encoder on the first call).

        No validation split and no early stopping: every image of ``X`` is used.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
        y : None
            Ignored.
        pixel_weight : array-like of the shape of X, or None
            Per-pixel loss weights, as in :meth:`fit`.

        Returns
        -------
        self
        """
        return self._fit(
            X, pixel_weight, epochs=1, continuing=hasattr(self, "net_"), validate=False
        )

    def transform(self, X):
        """Encode images into latents.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        return self._predict_batches(self._encode, X)

    # ---- fitting --------------------------------------------------------------------
    def _input_source(self, X, *, reset):
        """``X`` as an :class:`ImageSource` through the model's ``stretch`` (fixed here when
        ``reset``): in-memory input validated at once, out-of-core input as it is read."""
        if not is_out_of_core(X):
            images, _ = validate_images(self, X, reset=reset)
            source = ImageSource(images, images.shape[1:], in_memory=True)
        else:
            shape = resolve_image_shape(
                X.shape, self.image_shape if reset else self.image_shape_
            )
            if X.shape[0] < 1:
                raise ValueError(f"Found array with 0 sample(s) (shape={tuple(X.shape)}).")
            if reset:
                self.n_features_in_ = int(np.prod(shape))
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            source = ImageSource(X, tuple(shape), in_memory=False)
        if reset:
            self._fit_stretch(source.image_shape)
        return self._stretched(source)

    def _fit(self, X, pixel_weight, *, epochs, continuing, validate):
        source = self._input_source(X, reset=not continuing)
        n, shape = len(source), source.image_shape
        pixel_weight = check_pixel_weight(pixel_weight, n, shape)
        if continuing and tuple(shape) != tuple(self.image_shape_):
            raise ValueError(f"X holds images of shape {shape}; fitted on {self.image_shape_}.")
        stopped_early = False
        if not continuing:
            if self.checkpoint_dir is not None and resume(self, shape):
                stopped_early = self._stopped_early
                epochs = 0 if stopped_early else max(0, self.max_epochs - len(self.history_))
            else:
                self._initialize(source)
        net = self.net_
        if continuing:  # the settings of this call, not those the net was built with
            net.set_params(lr=self.lr, optimizer__weight_decay=self.weight_decay,
                           verbose=self.verbose)
        rng = np.random.default_rng(self._seeds[1])
        fraction = self.validation_fraction if validate else 0.0
        train_blocks, valid_blocks = split_blocks(n, fraction, not source.in_memory, rng)
        common = {
            "source": source, "batch_size": self.batch_size, "median": self.band_median_,
            "scale": self.band_scale_, "pin_memory": self._pin_memory(),
        }
        train_weight = (self._training_weights(source, train_blocks, pixel_weight)
                        if epochs > 0 else pixel_weight)
        train = ImageBatches(blocks=train_blocks, generator=net.shuffle_generator,
                             pixel_weight=train_weight, **common)
        valid = (ImageBatches(blocks=valid_blocks, pixel_weight=pixel_weight, **common)
                 if len(valid_blocks) else None)
        if epochs > 0:
            net.callbacks = self._callbacks(valid is not None)
            net.initialize_callbacks()
            before = len(net.history)
            net.partial_fit((train, valid), epochs=epochs)
            stopped_early = len(net.history) - before < epochs
        self.history_ = epoch_records(net.history)
        self.n_iter_ = len(self.history_)
        self._stopped_early = stopped_early
        if self.checkpoint_dir is not None:
            write_checkpoint(self, net)
        return self

    def _initialize(self, source):
        seeds = check_random_state(self.random_state).randint(0, 2**31 - 1, size=3)
        self._seeds = [int(s) for s in seeds]
        if self.accelerator is not None and self.accelerator.num_processes > 1:
            # one fit, one set of seeds (random_state=None draws differently per process)
            from accelerate.utils import broadcast_object_list

            self._seeds = broadcast_object_list([self._seeds])[0]
        self.image_shape_ = tuple(int(s) for s in source.image_shape)
        self.band_median_, self.band_scale_, self.band_correlation_ = band_statistics(source)
        self.device_ = self._resolve_device()
        self.net_ = self._make_net()

    def _resolve_device(self):
        if self.accelerator is not None:
            return str(self.accelerator.device)
        return resolve_device(self.device)

    def _pin_memory(self):
        """Page-locked batches speed up (non-blocking) host-to-GPU copies; CUDA only."""
        return self.device_.startswith("cuda") and torch.cuda.is_available()

    def _is_main_process(self):
        return self.accelerator is None or self.accelerator.is_main_process

    def _make_net(self):
        """Build and initialise the skorch net from the fitted state and ``_seeds``."""
        net_kwargs = {f"module__{k}": v for k, v in self._module_kwargs().items()}
        net_kwargs.update({f"criterion__{k}": v for k, v in self._criterion_kwargs().items()})
        compile_kwargs = self.compile if isinstance(self.compile, dict) else {}
        net_kwargs.update({f"compile__{k}": v for k, v in compile_kwargs.items()})
        if self.accelerator is None:
            net_class, placement = ImageNet, {"device": self.device_}
        else:
            from ._training.distributed import AcceleratedImageNet

            net_class = AcceleratedImageNet
            placement = {"accelerator": self.accelerator, "device": None,
                         "unwrap_after_train": False}
        net = net_class(
            self._module_class(),
            criterion=self._criterion_class(),
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None,
            verbose=self.verbose,
            compile=bool(self.compile),
            mixed_precision=self.mixed_precision,
            ema_decay=self._ema_decay(),
            **placement,
            **net_kwargs,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self._seeds[0])
            net.initialize()
        net.shuffle_generator = torch.Generator().manual_seed(self._seeds[1])
        net.loss_generator = torch.Generator(device=self.device_).manual_seed(self._seeds[2])
        net.valid_seed = self._seeds[2] + 1
        return net

    def _callbacks(self, has_validation):
        callbacks = []
        if self.checkpoint_dir is not None:
            callbacks.append(("checkpoint", EpochCheckpoint(partial(write_checkpoint, self))))
        if self.early_stopping and has_validation:
            callbacks.append(
                ("early_stopping", EarlyStopping(patience=self.patience, load_best=True))
            )
        return callbacks
