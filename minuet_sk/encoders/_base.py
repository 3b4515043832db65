"""BaseImageEncoder: the scikit-learn face of the torch image encoders (VAE, Minuet), whole.

It holds the parameters, validation, ``fit``/``partial_fit``/``warm_start``/``transform``,
feature names and tags; the inference helpers its subclasses decode and score with; and its
fitted state for ``save``/``load`` and checkpoints. It trains a torch module through
:class:`~minuet_sk._training.net.ImageNet`, whose batches are ``(standardised images, pixel
weights)`` (:mod:`minuet_sk._training.streaming`) and whose criterion is the subclass's loss
(:mod:`minuet_sk._training.losses`); checkpoints are :mod:`minuet_sk._training.checkpoint`.
"""

from __future__ import annotations

import os
from functools import partial
from numbers import Integral, Real
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted
from skorch.callbacks import EarlyStopping
from skorch.history import History
from tqdm.auto import tqdm

from .._persistence import (
    SavedModelMixin,
    check_tensor_shapes,
    module_shapes,
    take_pretrained,
)
from .._training.checkpoint import EpochCheckpoint, resume, write_checkpoint
from .._training.net import ImageNet, autocast, epoch_records
from .._training.params import TRAINING_CONSTRAINTS, resolve_device
from .._training.sources import ImageSource, is_out_of_core, read_rows
from .._training.streaming import (
    ImageBatches,
    band_statistics,
    check_pixel_weight,
    split_blocks,
)
from .._validation import resolve_image_shape, validate_images
from ..preprocessing import AsinhStretch
from ._latent_features import LatentFeaturesMixin

__all__ = ["BaseImageEncoder"]


class BaseImageEncoder(SavedModelMixin, LatentFeaturesMixin, TransformerMixin, BaseEstimator):
    """Base class of the torch image encoders (not used directly).

    Fitting standardises each band with a robust per-band median and scale (learned in
    ``fit`` from up to 2048 images), fills missing (NaN) pixels with the image's own sky
    (:func:`~minuet_sk._training.streaming.fill_missing`), passes weights (0 at missing
    pixels) to the loss, and trains the
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
        all; a fine-tuning of ``pretrained`` weights with ``warm_start=True``: up to
        ``max_epochs`` epochs of fine-tuning in all). Delete the directory to start afresh.
        The early-stopping counter restarts on resumption.
    pretrained : str, path-like or None
        (Optional for a subclass.) Weights to start from: the name of shipped weights or a folder written by
        :meth:`save`. ``fit`` then loads them instead of training (the weights fix every
        parameter but those of ``_USAGE_PARAMS``, which must equal theirs: build the model
        with ``from_pretrained``), so that ``clone``, ``cross_val_score`` and
        ``GridSearchCV`` keep the weights; with ``warm_start=True`` it loads them and
        fine-tunes them for ``max_epochs`` epochs. None: train from scratch.

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
        "pretrained": [str, os.PathLike, None],
        "compile": ["boolean", dict],
        "mixed_precision": [StrOptions({"auto", "bf16", "no"})],
        "accelerator": [None, HasMethods(["prepare", "backward", "reduce"])],
    }
    _feature_prefix = "encoder"
    #: The parameters that say how a model is used or fine-tuned, not what it is: all that
    #: may differ from the weights ``pretrained`` names.
    _USAGE_PARAMS = frozenset({
        "sampling_steps", "eta", "batch_size", "device", "verbose", "max_epochs", "lr",
        "weight_decay", "validation_fraction", "early_stopping", "patience", "random_state",
        "warm_start", "checkpoint_dir", "compile", "mixed_precision", "accelerator",
    })

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
    def fit(self, X, y=None, pixel_weight=None, reference=None):
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
        reference : array-like of the shape of X, or None
            What the decoder learns to rebuild from the latents of each image of ``X``, in
            the same units and row order: the same galaxies at fixed reference conditions
            (for simulated galaxies, :func:`~minuet_sk.datasets.reobserve` with
            ``noiseless=True`` and a fixed ``seeing``). The latents then need not carry the
            depth, seeing and noise of ``X``: what describes them is the galaxy. None (real
            cutouts, which have no such version): ``X`` itself. In memory or out of core
            like ``X``; a pixel missing in either weighs 0.

        Returns
        -------
        self
        """
        continuing = self.warm_start and hasattr(self, "net_")
        epochs = self.max_epochs
        if getattr(self, "pretrained", None) is not None and not continuing:
            take_pretrained(self, self._USAGE_PARAMS)
            if not self.warm_start:  # use the weights as they are
                self._input_source(X, reset=False)  # X must be what they take
                return self
            continuing = True  # fine-tune them
            shipped_epochs = len(self.history_)
            if self.checkpoint_dir is not None and resume(self, self.image_shape_):
                # a fine-tuning of these weights stopped part-way: go on from where it was
                tuned = len(self.history_) - shipped_epochs
                epochs = 0 if self._stopped_early else max(0, epochs - tuned)
        return self._fit(
            X, pixel_weight, reference, epochs=epochs, continuing=continuing, validate=True,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, pixel_weight=None, reference=None):
        """Train one epoch on ``X`` (initialising the encoder on the first call).

        No validation split and no early stopping: every image of ``X`` is used.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
        y : None
            Ignored.
        pixel_weight : array-like of the shape of X, or None
            Per-pixel loss weights, as in :meth:`fit`.
        reference : array-like of the shape of X, or None
            What the decoder rebuilds, as in :meth:`fit`.

        Returns
        -------
        self
        """
        if getattr(self, "pretrained", None) is not None and not hasattr(self, "net_"):
            take_pretrained(self, self._USAGE_PARAMS)
        return self._fit(
            X, pixel_weight, reference, epochs=1, continuing=hasattr(self, "net_"),
            validate=False,
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
        return self._latent_frame(self._predict_batches(self._encode, X), X)

    def _fitted_arrays(self):
        return self.net_.inference_module().state_dict()

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

    def _fit(self, X, pixel_weight, reference, *, epochs, continuing, validate):
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
        if reference is not None:
            if source.in_memory and is_out_of_core(reference):
                reference = read_rows(reference, 0, n)  # X is in memory: so is its reference
            try:
                reference = self._input_source(reference, reset=False)
            except ValueError as error:
                raise ValueError(f"reference: {error}") from error
            if len(reference) != n:
                raise ValueError(f"reference holds {len(reference)} images; X holds {n}.")
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
            "reference": reference,
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
            from .._training.distributed import AcceleratedImageNet

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

    # ---- inference: batches through the network, latents through it, back to input units

    def _fit_stretch(self, shape):
        """``stretch_``: the ``stretch`` parameter fitted to images of ``shape`` (an
        ``AsinhStretch`` takes its per-band scales from ``bands``, not from the pixels)."""
        self.stretch_ = None
        if self.stretch is not None:
            self.stretch_ = clone(self.stretch).set_params(image_shape=tuple(shape))
            self.stretch_.fit(np.zeros((1, *shape), np.float32))

    def _stretched(self, source):
        """The :class:`~minuet_sk._training.sources.ImageSource` ``source`` through
        ``stretch_``: at once in memory, slice by slice out of core (each slice checked as it
        is read, so the stretch does not check it again)."""
        return source if self.stretch_ is None else source.map(self.stretch_._stretch)

    def _predict_batches(self, fn, X):
        """Apply ``fn(module, x, weight)`` batch by batch without gradients.

        ``x`` are standardised images (missing pixels 0), ``weight`` the pixel weights.
        ``fn`` returns a tensor or a tuple of tensors; the result is the matching array (or
        tuple of arrays), concatenated over batches, as float32 NumPy.
        """
        source = self._input_source(X, reset=False)
        batches = ImageBatches(source, [(0, len(source))], self.batch_size, self.band_median_,
                               self.band_scale_, pin_memory=self._pin_memory())
        return self._collect(
            fn, (self.net_._to_device(b) for b in batches), batches.n_batches()
        )

    def _map_latents(self, fn, Z):
        """Apply ``fn(module, z)`` to latent rows of ``Z`` batch by batch (no gradients)."""
        Z = check_array(Z, dtype=np.float32)
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} columns but the encoder has "
                f"n_components={self.n_components}."
            )
        Zt = torch.from_numpy(Z)
        starts = range(0, len(Z), self.batch_size)
        batches = ([Zt[s : s + self.batch_size].to(self.device_)] for s in starts)
        return self._collect(fn, batches, len(starts))

    def _collect(self, fn, batches, total):
        module = self.net_.inference_module()
        module.eval()
        outputs = []
        with torch.no_grad(), autocast(self.device_, self.mixed_precision):
            for batch in tqdm(batches, total=total, disable=not self.verbose, leave=False):
                out = fn(module, *batch)
                out = out if isinstance(out, tuple) else (out,)
                outputs.append([o.float().cpu().numpy() for o in out])
        result = tuple(np.concatenate(parts) for parts in zip(*outputs))
        for part in result:
            self._check_finite_output(part)
        return result if len(result) > 1 else result[0]

    def _check_finite_output(self, values):
        """Refuse to return NaN or inf: float32 overflow inside the network, never silent."""
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad).tolist()
            shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
            raise ValueError(
                f"{type(self).__name__} computed non-finite values for {len(rows)} row(s) "
                f"({shown}): their values are so far from what the model was fitted on "
                f"(per-band pixel median {np.round(self.band_median_, 4).tolist()}, scale "
                f"{np.round(self.band_scale_, 4).tolist()}) that float32 arithmetic "
                "overflows. Check the units and the preprocessing (e.g. AsinhStretch), or "
                "replace flag values with NaN to treat those pixels as missing."
            )

    def _sampling_seed(self, random_state):
        """Seed of a sampling call: the fit's own for None (reproducible, and NumPy's global
        generator is never drawn from), else one drawn from ``random_state``."""
        if random_state is None:
            return self._seeds[2]
        return int(check_random_state(random_state).randint(0, 2**31 - 1))

    def _destandardise(self, images):
        """Standardised ``(n, C, H, W)`` images back to the input units (unstretched)."""
        images = images * self.band_scale_.reshape(1, -1, 1, 1) + self.band_median_.reshape(
            1, -1, 1, 1
        )
        if self.stretch_ is None:
            return images
        return self.stretch_.inverse_transform(images).reshape(images.shape)

    # ---- persistence: the fitted state to JSON and back (save/load and checkpoints)

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
        """Set the fitted state that :meth:`_fitted_config` gave, checked for consistency (a
        damaged or edited file fails here); the caller fits ``stretch_`` to
        ``image_shape_`` once the sizes are checked against the weights."""
        self.image_shape_ = tuple(int(s) for s in state["image_shape_"])
        self.n_features_in_ = int(state["n_features_in_"])
        self.band_median_ = np.asarray(state["band_median_"], np.float32)
        self.band_scale_ = np.asarray(state["band_scale_"], np.float32)
        self.band_correlation_ = np.asarray(state["band_correlation_"], np.float64)
        self.history_ = list(state["history_"])
        self.n_iter_ = int(state["n_iter_"])
        self._seeds = [int(s) for s in state["seeds"]]
        self._stopped_early = bool(state["stopped_early"])
        n_bands = self.image_shape_[0] if len(self.image_shape_) == 3 else -1
        if (min(self.image_shape_, default=0) < 1
                or int(np.prod(self.image_shape_)) != self.n_features_in_
                or self.band_median_.shape != (n_bands,) or self.band_scale_.shape != (n_bands,)
                or self.band_correlation_.shape != (n_bands, n_bands)):
            raise ValueError(
                f"the fitted state is inconsistent: image_shape_ {self.image_shape_}, "
                f"n_features_in_ {self.n_features_in_}, {self.band_median_.size} band medians, "
                f"{self.band_scale_.size} band scales, band_correlation_ of shape "
                f"{self.band_correlation_.shape}"
            )
        if self.image_shape_ != tuple(self.image_shape or self.image_shape_):
            raise ValueError(f"the fitted image_shape_ {self.image_shape_} is not the "
                             f"image_shape parameter {tuple(self.image_shape)}")
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
        # the config's sizes against the weights, on the meta device (nothing allocated)
        check_tensor_shapes(module_shapes(lambda: self._module_class()(**self._module_kwargs())),
                            tensors)
        self._fit_stretch(self.image_shape_)
        self.net_ = self._make_net()
        self.net_.module_.load_state_dict(tensors)
        # the epochs trained so far: continued training (fine-tuning) numbers its epochs
        # after them, and history_ and n_iter_ keep them
        self.net_.history = History([dict(h, batches=[]) for h in self.history_])
