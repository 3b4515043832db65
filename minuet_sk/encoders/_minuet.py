"""MinuetEncoder: the diffusion autoencoder of Minuet as a scikit-learn transformer."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._training.losses import DenoisingLoss, fixed_noise_loss, residual_peak
from .._training.masks import central_mask_weights
from .._training.streaming import ImageBatches
from ..nn.augment import inverse_orientation, orient
from ..nn.autoencoder import DiffusionAutoencoder, band_whitening
from ._base import BaseImageEncoder

__all__ = ["PRESETS", "MinuetEncoder"]

#: Named configurations for :meth:`MinuetEncoder.from_preset`. ``"paper"`` is the authors'
#: setting (Gagliano, Shen & Villar 2025; their code: daep's ``HostImgTransceiverEncoder``
#: and ``HostImgTransceiverScore``): 3-pixel patches (576 tokens on 72x72 images), width 256,
#: 4 encoder and 4 decoder blocks, feed-forward widths 32 (encoder) and 128 (denoiser),
#: dropout 0.1, linear betas 1e-4..0.02 over 1000 steps, epsilon prediction, batch 128, 200
#: deterministic DDIM steps, unmasked loss, the encoder and the denoiser on randomly rotated
#: and mirrored copies, no moving average of the weights. It needs a GPU.
PRESETS = {
    "paper": {
        "patch_size": 3, "width": 256, "encoder_depth": 4, "decoder_depth": 4, "n_heads": 4,
        "encoder_ff_width": 32, "decoder_ff_width": 128, "dropout": 0.1,
        "refiner_channels": 0, "whiten_bands": False,
        "diffusion_steps": 1000, "noise_schedule": "linear", "prediction": "epsilon",
        "sampling_steps": 200, "eta": 0.0, "batch_size": 128, "lr": 1e-4,
        "masked_loss": False, "target_frame": "random", "encoder_frame": "random",
        "ema_decay": None,
    },
}

class MinuetEncoder(BaseImageEncoder):
    """Diffusion autoencoder: images -> ``n_components`` semantic latents (and back).

    A Perceiver encoder reads an image's patch tokens into a small learnable latent array
    (one token per component) and projects each token to a scalar: the latents. A
    transformer denoiser learns to remove Gaussian noise from the image given the latents
    (prepended as tokens, with a sinusoidal+MLP time embedding); both are trained together
    with the DDPM loss, so the latents carry what the noise hides. ``inverse_transform``
    and :meth:`sample` run DDIM from the latents. Training, streaming from memmap/HDF5,
    per-band standardisation, checkpoints and persistence come from the shared encoder
    base (``minuet_sk.encoders.BaseImageEncoder``).

    The defaults are a CPU configuration chosen by measurement (see
    ``benchmarks/notes/minuet.md``): useful latents of 72x72 images in minutes on a
    laptop. ``MinuetEncoder.from_preset("paper")`` gives the authors' configuration.

    Parameters
    ----------
    n_components : int, default=5
        Number of latents (latent tokens).
    image_shape : tuple of int or None, default=(3, 72, 72)
        ``(C, H, W)``; None takes it from 4-D input. Any H, W works (padded to a multiple of
        ``patch_size`` inside the networks).
    stretch : AsinhStretch or None, default=None
        The stretch that the model applies to its input, as part of the model: ``fit``,
        ``transform`` and friends take images in flux units (nanomaggies) and stretch them
        inside; ``inverse_transform``, ``sample`` and ``reconstruct`` return fluxes. It is
        saved with the model, so a saved or shipped model cannot be fed differently
        stretched images. None: the model takes its input as it comes (put any
        preprocessing in a Pipeline before it).
    flux_unit : str or None, default="nanomaggy"
        Unit of the input pixels (an astropy unit name), saved with the model: FITS cutouts
        read for it (``minuet encode``) are converted to it from their ``BUNIT``.
    pixel_scale : float or None, default=0.262
        Arcsec per pixel of the input (DECaLS), saved with the model: FITS cutouts read for
        it are checked against it.
    patch_size : int, default=8
        Side of the square patches (72x72 images: 81 tokens). 8 rather than 6 (144
        tokens): 1.35x the training speed for reconstructions as good after the same time
        (``benchmarks/notes/minuet.md``).
    width : int, default=64
        Token dimension of the encoder and the denoiser.
    encoder_depth : int, default=2
        Perceiver blocks (cross-attention to the patches, then self-attention).
    decoder_depth : int, default=2
        Transformer blocks of the denoiser.
    n_heads : int, default=4
        Attention heads; must divide ``width``.
    encoder_ff_width, decoder_ff_width : int or None, default=None
        Hidden units of the feed-forward layers of the encoder and of the denoiser (None:
        ``4 * width``, the transformer convention). The authors use 32 and 128 at width
        256 (the paper preset).
    dropout : float in [0, 1), default=0.0
        Dropout of attention weights and feed-forward outputs in both networks, in training
        (0.1 in the paper preset).
    refiner_channels : int, default=16
        Hidden channels of the denoiser's residual 3x3 convolution on the un-patched output
        and the noisy image (0: none). With patches of ``C * patch_size**2`` pixels wider
        than ``width`` (192 > 64 for the defaults) the transformer alone cannot touch part
        of each patch, and that part of DDIM's starting noise survives into the
        reconstructions (patch-shaped noise, 15x too much power at small scales); the
        refiner reaches every pixel. See ``benchmarks/notes/minuet.md``.
    whiten_bands : bool or float in [0, 1], default=True
        Train on PCA-whitened bands (:func:`~minuet_sk.nn.autoencoder.band_whitening` of
        ``band_correlation_``, per pixel, undone in reconstructions): the brightness shared
        by all bands and the colours become unit-variance channels. Without it the two
        colour components hold 2% and 5% of the pixel variance of asinh-stretched grz
        cutouts, weigh as little in the loss, and the latents mostly ignore colour (R^2 of
        g-r 0.01-0.34 over 13 epochs, against 0.31-0.84 whitened), but describe size better
        (0.62-0.66 against 0.36-0.54): five latents cannot hold everything. A float is a
        partial whitening strength (True is 1, False is 0). See
        ``benchmarks/notes/minuet.md``. False in the paper preset.
    diffusion_steps : int, default=1000
        Noise levels of the diffusion.
    noise_schedule : {"cosine", "linear"}, default="cosine"
        ``"linear"``: betas 1e-4..0.02 (DDPM, the paper); ``"cosine"``: Nichol & Dhariwal.
    prediction : {"v", "epsilon"}, default="v"
        What the denoiser predicts: ``v = sqrt(a) eps - sqrt(1 - a) x0`` or the noise.
        With ``"epsilon"`` DDIM's clean-image estimate ``(x_t - sqrt(1 - a) eps) / sqrt(a)``
        multiplies the network's error by up to ``1 / sqrt(a)`` (2e4 at the end of the
        cosine schedule, 157 for the linear one), and on unbounded standardised images no
        clipping rescues it: measured reconstructions of an epsilon model were noise
        (pixel MSE 205 vs 0.04 with ``"v"``, same budget; see
        ``benchmarks/notes/minuet.md``). The paper used epsilon with 200 steps.
    sampling_steps : int, default=50
        DDIM steps of ``inverse_transform``, ``sample`` and ``reconstruct``.
    eta : float, default=0.0
        DDIM stochasticity: 0 is deterministic given the starting noise.
    orientation_invariant : bool, default=True
        Every training image is rotated by a random angle and mirrored half the time; when
        True the encoder sees one random orientation and the denoiser is trained on
        another, so the latents cannot encode the position angle.
    masked_loss : bool, default=True
        Weight the loss 0.9 on the central galaxy's segmentation mask and 0.1 elsewhere
        (the paper's masked variant; False in the paper preset), so that the latents
        describe the central galaxy rather than its neighbours and the sky. Masks come from
        :func:`minuet_sk.preprocessing.central_source_masks` (the segmentation of
        :class:`~minuet_sk.SegmentationMasker`) of the standardised images, computed
        once at the start of each ``fit``/``partial_fit`` call (about 10 ms of CPU per
        72x72 image, a progress bar with ``verbose``) and kept as bits (``n H W / 8``
        bytes); ``pixel_weight`` multiplies them. The validation loss stays unmasked.
        True by measurement: after ``AsinhStretch()`` (softening 100), 20 minutes of CPU
        training on 5,000 simulated galaxies gave an R^2 of log half-light radius of
        0.58-0.74 over six seeds with it and 0.59-0.62 without it, of r magnitude
        0.85-0.93 with it and 0.73-0.76 without it. The reconstructions' surroundings are
        invented (set False to model the whole stamp). See the user guide and
        ``benchmarks/notes/minuet.md``.
    target_frame : {"canonical", "random"}, default="canonical"
        The orientation in which the denoiser learns to rebuild each training galaxy: the
        galaxy's canonical frame, its second-moment major axis along x, or a random rotation
        and mirror image (the paper's augmentation), while the encoder still sees a random
        orientation. Latents that cannot know the orientation make a random target a blur
        of orientations, whose best prediction is a round galaxy: measured at equal compute,
        the canonical target lifted the linear R^2 of the axis ratio from the latents from
        0.22 to 0.71, and reconstructions come out in the canonical frame
        (:meth:`reconstruct` turns them back). ``"random"`` in the paper preset.
    encoder_frame : {"canonical", "random"}, default="canonical"
        ``"canonical"``: the encoder turns every image into its canonical frame before it
        encodes it, in training and in :meth:`transform` (the second-moment major axis of
        the light within a Gaussian window about the centre, one eighth of the stamp wide,
        along x; :meth:`~minuet_sk.nn.autoencoder.DiffusionAutoencoder.canonical_frame`), and
        training varies the four flips that keep it there. The latents then do not depend on
        the orientation by construction (a quarter turn or a mirror image gives exactly the
        same latents), and the encoder need not learn to recognise an elongated galaxy at
        every angle. ``"random"``: the paper's way, the encoder sees a randomly rotated and
        mirrored copy and learns to ignore the orientation (the paper preset).
    ema_decay : float in (0, 1) or None, default=0.999
        Keep an exponential moving average of the weights, updated after every optimiser
        step, and encode, decode and save with it (the standard for diffusion models). The
        decay warms up, ``min(ema_decay, (1 + n) / (10 + n))`` after ``n`` steps, as
        diffusers' ``EMAModel``. None uses the trained weights as they are (the paper
        preset).
    max_epochs : int, default=20
    batch_size : int, default=128
    lr : float, default=1e-3
        AdamW learning rate (the paper's 1e-4..2e-4 is for its much longer runs).
    weight_decay : float, default=0.0
    validation_fraction : float, default=0.1
        Held out for ``valid_loss`` (denoising loss at fixed noise and times, as in
        :meth:`score`) and early stopping.
    early_stopping : bool, default=True
    patience : int, default=4
    device : str, default="auto"
        CUDA (with bf16 autocast) when present, else CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, noise and augmentations, and the starting noise of
        ``inverse_transform``; a fixed integer gives bit-identical fits on CPU.
    verbose : int, default=0
    warm_start : bool, default=False
    checkpoint_dir : str, path-like or None, default=None
    pretrained : str, path-like or None, default=None
        Shipped weights (``"sim-grz-72-v4"``) or a folder written by :meth:`save`, that
        ``fit`` loads instead of training; with ``warm_start=True`` it fine-tunes them.
        Build such a model with :meth:`from_pretrained` (its parameters are the weights');
        ``clone``, ``cross_val_score`` and ``GridSearchCV`` then keep the weights.
    compile : bool or dict, default=False
        :func:`torch.compile` the networks (a dict: its keyword arguments); for GPUs.
    mixed_precision : {"auto", "bf16", "no"}, default="auto"
        bf16 autocast on CUDA: ``"auto"`` where the GPU computes bf16 (Ampere and newer),
        ``"bf16"`` always, ``"no"`` never (float32, e.g. for older GPUs). CPU: float32.
    accelerator : accelerate.Accelerator or None, default=None
        Data-parallel training under ``accelerate launch`` (DDP); ``batch_size`` is the
        global batch. See the user guide, "Running at scale".

    Attributes
    ----------
    image_shape_ : tuple of int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only for DataFrame input.
    band_median_, band_scale_ : ndarray of shape (C,)
        Per-band standardisation learned in ``fit``.
    band_correlation_ : ndarray of shape (C, C)
        Correlation of the standardised bands over the pixels, learned in ``fit``. With
        ``whiten_bands=True`` its whitening matrix mixes the bands before both networks.
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``valid_loss``, ``dur``, ``images_per_s``.
    n_iter_ : int
        Epochs trained.
    device_ : str
    net_ : skorch net
        ``net_.module_`` is the :class:`minuet_sk.nn.autoencoder.DiffusionAutoencoder`.

    See Also
    --------
    minuet_sk.VAEEncoder : the variational-autoencoder baseline.
    minuet_sk.EigengalaxyPCA : the linear baseline.

    References
    ----------
    Gagliano, Shen & Villar (2025), arXiv:2512.04145 (Minuet); Preechakul et al. (2022),
    Diffusion Autoencoders; Jaegle et al. (2021), Perceiver; Ho et al. (2020), DDPM;
    Song et al. (2021), DDIM.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import MinuetEncoder
    >>> X = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
    >>> enc = MinuetEncoder(2, image_shape=None, patch_size=4, width=16, encoder_depth=1,
    ...                     decoder_depth=1, diffusion_steps=20, sampling_steps=4,
    ...                     max_epochs=1, random_state=0)
    >>> enc.fit(X).transform(X).shape
    (16, 2)
    >>> enc.get_feature_names_out().tolist()
    ['minuet0', 'minuet1']
    >>> enc.inverse_transform(enc.transform(X[:3])).shape
    (3, 64)
    >>> enc.sample(enc.transform(X[:2]), n_samples=3, random_state=0).shape
    (2, 3, 1, 8, 8)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseImageEncoder._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "patch_size": [Interval(Integral, 1, None, closed="left")],
        "width": [Interval(Integral, 1, None, closed="left")],
        "encoder_depth": [Interval(Integral, 1, None, closed="left")],
        "decoder_depth": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "encoder_ff_width": [Interval(Integral, 1, None, closed="left"), None],
        "decoder_ff_width": [Interval(Integral, 1, None, closed="left"), None],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "refiner_channels": [Interval(Integral, 0, None, closed="left")],
        "whiten_bands": ["boolean", Interval(Real, 0, 1, closed="both")],
        "diffusion_steps": [Interval(Integral, 2, None, closed="left")],
        "noise_schedule": [StrOptions({"cosine", "linear"})],
        "prediction": [StrOptions({"epsilon", "v"})],
        "sampling_steps": [Interval(Integral, 1, None, closed="left")],
        "eta": [Interval(Real, 0, None, closed="left")],
        "orientation_invariant": ["boolean"],
        "masked_loss": ["boolean"],
        "target_frame": [StrOptions({"random", "canonical"})],
        "encoder_frame": [StrOptions({"random", "canonical"})],
        "ema_decay": [Interval(Real, 0, 1, closed="neither"), None],
    }
    _feature_prefix = "minuet"
    # options that measurements rejected, removed: a saved model that used the value kept
    # here loads (the parameter is dropped), one that used another is refused; ``...``: any
    # value (the U-Net's sizes mean nothing without the U-Net)
    _REMOVED_PARAMS: ClassVar[dict] = {"denoiser": "transformer", "snr_gamma": None,
                                       "unet_channels": ..., "unet_pixel_fold": ...}

    def __init__(
        self,
        n_components=5,
        *,
        image_shape=(3, 72, 72),
        stretch=None,
        flux_unit="nanomaggy",
        pixel_scale=0.262,
        patch_size=8,
        width=64,
        encoder_depth=2,
        decoder_depth=2,
        n_heads=4,
        encoder_ff_width=None,
        decoder_ff_width=None,
        dropout=0.0,
        refiner_channels=16,
        whiten_bands=True,
        diffusion_steps=1000,
        noise_schedule="cosine",
        prediction="v",
        sampling_steps=50,
        eta=0.0,
        orientation_invariant=True,
        masked_loss=True,
        target_frame="canonical",
        encoder_frame="canonical",
        ema_decay=0.999,
        max_epochs=20,
        batch_size=128,
        lr=1e-3,
        weight_decay=0.0,
        validation_fraction=0.1,
        early_stopping=True,
        patience=4,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        checkpoint_dir=None,
        pretrained=None,
        compile=False,
        mixed_precision="auto",
        accelerator=None,
    ):
        self.n_components = n_components
        self.image_shape = image_shape
        self.stretch = stretch
        self.flux_unit = flux_unit
        self.pixel_scale = pixel_scale
        self.patch_size = patch_size
        self.width = width
        self.encoder_depth = encoder_depth
        self.decoder_depth = decoder_depth
        self.n_heads = n_heads
        self.encoder_ff_width = encoder_ff_width
        self.decoder_ff_width = decoder_ff_width
        self.dropout = dropout
        self.refiner_channels = refiner_channels
        self.whiten_bands = whiten_bands
        self.diffusion_steps = diffusion_steps
        self.noise_schedule = noise_schedule
        self.prediction = prediction
        self.sampling_steps = sampling_steps
        self.eta = eta
        self.orientation_invariant = orientation_invariant
        self.masked_loss = masked_loss
        self.target_frame = target_frame
        self.encoder_frame = encoder_frame
        self.ema_decay = ema_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.pretrained = pretrained
        self.compile = compile
        self.mixed_precision = mixed_precision
        self.accelerator = accelerator

    @classmethod
    def from_pretrained(cls, name="sim-grz-72-v4", *, device="auto"):
        """A trained model, ready for raw cutouts: weights shipped with the package, or a
        folder written by :meth:`save` (offline; nothing is downloaded).

        ``"sim-grz-72-v4"`` (the default) was trained by ``scripts/train_pretrained.py`` on
        20,000 simulated 72x72 grz galaxies (``make_galaxies(20000, random_state=2027)``,
        r < 19), with the masked loss, canonical encoder and target frames (its latents do
        not move when a galaxy is turned or mirrored, except for the few whose frame is
        ambiguous: nearly round, or too symmetric to tell a mirror image), a moving average
        of the weights, and a decoder that rebuilds each galaxy at reference conditions
        (``fit(X, reference=...)``: noiseless, at 1.28" seeing, centred), so that its
        reconstructions are the galaxy as the reference shows it. It is ``"sim-grz-72-v3"``
        (150 epochs of those galaxies as observed) fine-tuned for 20 epochs with the encoder
        seeing each galaxy on three other random nights
        (:func:`~minuet_sk.datasets.reobserve_pairs`: another depth and seeing, a sub-pixel
        shift, any angle), so that its latents describe the galaxy rather than the night:
        the same galaxy observed again finds itself among 1,000 others 87-98% of the time
        (v3: 71-94%). ``"sim-grz-72-v3"``, ``"sim-grz-72-v2"`` (the same recipe, its
        decoder rebuilding the cutouts as observed, with one latent that tracks the seeing
        and the sky noise) and
        ``"sim-grz-72"``, the first shipped weights (40 epochs on 5,000 galaxies, random
        frames), stay for latents made with them. Each folder's ``training.json`` records
        the data, settings, loss curve and held-out quality (summarised in the user
        guide's *Shipped weights*). None has seen real survey images. Each carries its
        preprocessing: ``stretch`` is the ``AsinhStretch()`` (softening 100) it was trained
        after, so it takes grz cutouts in nanomaggies at 0.262"/pixel, 72x72, as they
        come::

            latents = MinuetEncoder.from_pretrained().transform(cutouts)

        Its parameters are those the weights were trained with, and ``pretrained=name``:
        :meth:`fit` (of the model or of any clone, as in ``cross_val_score`` or
        ``GridSearchCV`` over a Pipeline) loads the same weights instead of training, so
        the obvious scikit-learn code uses them as they are. Fine-tune with
        ``set_params(warm_start=True).fit(X)`` (or :meth:`partial_fit`): training goes on
        from the weights; train afresh with ``set_params(pretrained=None).fit(X)``.

        Parameters
        ----------
        name : str or path-like, default="sim-grz-72-v4"
            A folder of ``minuet_sk/pretrained`` (shipped weights), or the path of a folder
            written by :meth:`save`.
        device : str or None, default="auto"
            Where the model runs: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``;
            None keeps the device saved with the model.

        Returns
        -------
        MinuetEncoder
            Fitted.

        Examples
        --------
        >>> model = MinuetEncoder.from_pretrained(device="cpu")
        >>> model.image_shape_, model.stretch_.softening, model.pretrained
        ((3, 72, 72), 100.0, 'sim-grz-72-v4')
        >>> from sklearn.base import clone
        >>> clone(model).fit(np.zeros((2, 3, 72, 72), np.float32)).n_iter_  # the weights, kept
        170
        """
        from .._persistence import load_pretrained

        return load_pretrained(name, cls, device=device)

    @classmethod
    def from_preset(cls, name, **params):
        """A ``MinuetEncoder`` with the parameters of a named preset (see :data:`PRESETS`).

        Parameters
        ----------
        name : {"paper"}
            ``"paper"``: patch 3, width 256, 4+4 blocks, linear betas, 200 DDIM steps.
        **params
            Any other parameters, which override the preset's.

        Returns
        -------
        MinuetEncoder

        Examples
        --------
        >>> MinuetEncoder.from_preset("paper", random_state=0).get_params()["width"]
        256
        """
        if name not in PRESETS:
            raise ValueError(f"Unknown preset {name!r}; choose from {sorted(PRESETS)}.")
        return cls(**{**PRESETS[name], **params})

    # ---- the hooks of BaseImageEncoder: network, loss, moving average, mask weights

    def _module_class(self):
        return DiffusionAutoencoder

    def _module_kwargs(self):
        if self.width % self.n_heads:
            raise ValueError(
                f"width={self.width} must be a multiple of n_heads={self.n_heads}."
            )
        if self.sampling_steps > self.diffusion_steps:
            raise ValueError(
                f"sampling_steps={self.sampling_steps} exceeds "
                f"diffusion_steps={self.diffusion_steps}."
            )
        return {
            "image_shape": self.image_shape_,
            "n_latents": self.n_components,
            "patch_size": self.patch_size,
            "width": self.width,
            "encoder_depth": self.encoder_depth,
            "decoder_depth": self.decoder_depth,
            "n_heads": self.n_heads,
            "encoder_ff_width": self.encoder_ff_width,
            "decoder_ff_width": self.decoder_ff_width,
            "dropout": self.dropout,
            "refiner_channels": self.refiner_channels,
            "encoder_frame": self.encoder_frame,
            "band_mixing": (band_whitening(self.band_correlation_,
                                           strength=float(self.whiten_bands)).tolist()
                            if self.whiten_bands else None),
            "diffusion_steps": self.diffusion_steps,
            "noise_schedule": self.noise_schedule,
            "prediction": self.prediction,
        }

    def _criterion_class(self):
        return DenoisingLoss

    def _criterion_kwargs(self):
        return {"orientation_invariant": self.orientation_invariant,
                "target_frame": self.target_frame}

    def _ema_decay(self):
        return self.ema_decay

    def _training_weights(self, source, blocks, pixel_weight):
        """With ``masked_loss``, the mask weights (times ``pixel_weight``) of the training
        images, computed once per fit (:func:`~minuet_sk._training.masks.central_mask_weights`)."""
        if not self.masked_loss:
            return pixel_weight
        batches = ImageBatches(source, blocks, self.batch_size, self.band_median_,
                               self.band_scale_)
        return central_mask_weights(batches, len(source), pixel_weight,
                                    self.verbose and self._is_main_process())

    def _encode(self, module, x, weight):
        return module.encode(x)

    # ---- decoding: DDIM images from latents, and the denoising scores

    def _decoder(self, generator):
        """``fn(module, z)`` -> DDIM images, for ``_map_latents``."""
        def decode(module, z):
            return module.decode(z, sampling_steps=self.sampling_steps, eta=self.eta,
                                 generator=generator)
        return decode

    def _generator(self, random_state):
        """A torch.Generator on the fitted device, seeded by :meth:`_sampling_seed`."""
        return torch.Generator(device=self.device_).manual_seed(
            self._sampling_seed(random_state)
        )

    def inverse_transform(self, X):
        """Decode latents into images by DDIM (``sampling_steps``, ``eta``), flattened.

        The starting noise comes from the fit's seed, so the same latents always give the
        same images (and an integer ``random_state`` makes them reproducible across fits).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latents.

        Returns
        -------
        ndarray of shape (n_samples, C*H*W)
            Images in the input units.
        """
        check_is_fitted(self)
        images = self._map_latents(self._decoder(self._generator(None)), X)
        images = self._destandardise(images)
        return images.reshape(len(images), -1)

    def sample(self, Z, n_samples=5, random_state=None):
        """Draw ``n_samples`` posterior reconstructions of each row of latents ``Z``.

        Each draw starts DDIM from its own Gaussian noise: the spread of the draws shows
        what the latents do not pin down (noise, position angle, fine structure).

        Parameters
        ----------
        Z : array-like of shape (n, n_components)
        n_samples : int, default=5
        random_state : int, RandomState instance or None, default=None
            Seeds the starting noise (and the DDIM noise when ``eta > 0``). None uses the
            fit's own seed: the same draws on every call, and NumPy's global generator is
            left alone; pass an int (or a ``RandomState``) for other draws.

        Returns
        -------
        ndarray of shape (n, n_samples, C, H, W)
            Images in the input units.
        """
        check_is_fitted(self)
        if not (isinstance(n_samples, Integral) and n_samples >= 1):
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        generator = self._generator(random_state)
        Z = np.asarray(Z, dtype=np.float32)
        repeated = np.repeat(Z, n_samples, axis=0) if Z.ndim == 2 else Z
        images = self._map_latents(self._decoder(generator), repeated)
        images = self._destandardise(images)
        return images.reshape((len(Z), n_samples) + tuple(self.image_shape_))

    def reconstruct(self, X, n_samples=1, random_state=None, frame="input"):
        """Encode and decode images: the mean of ``n_samples`` DDIM reconstructions.

        Parameters
        ----------
        X : array-like of shape (n, C, H, W) or (n, C*H*W)
        n_samples : int, default=1
            Draws averaged per image (more draws: a smoother posterior-mean image).
        random_state : int, RandomState instance or None, default=None
            Seeds the starting noise; None uses the fit's seed (reproducible).
        frame : {"input", "canonical"}, default="input"
            A model trained with ``target_frame="canonical"`` (the shipped ones since
            ``sim-grz-72-v2``) draws each galaxy in its canonical frame, the major axis
            along x. ``"input"`` turns the reconstructions back into the orientation of
            each input (:meth:`to_input_frame`), for residual maps and side-by-side
            figures; ``"canonical"``: as drawn. Either is as drawn for
            ``target_frame="random"``, whose latents do not keep the orientation.

        Returns
        -------
        ndarray of shape (n, C, H, W)
        """
        check_is_fitted(self)
        if frame not in ("input", "canonical"):
            raise ValueError(f"frame must be 'input' or 'canonical'; got {frame!r}.")
        Z = np.asarray(self.transform(X))
        images = self.sample(Z, n_samples, random_state).mean(axis=1)
        return self.to_input_frame(images, X) if frame == "input" else images

    def to_input_frame(self, images, X):
        """Images drawn in the canonical frame, turned into the orientation of the inputs
        ``X``: the inverse of the rotation and mirror image that the canonical frame takes
        away from each input (bilinear, reflecting at the edges). As they are when the
        model rebuilds galaxies in random orientations (``target_frame="random"``).

        Parameters
        ----------
        images : ndarray of shape (n, C, H, W) or (n, k, C, H, W)
            E.g. :meth:`inverse_transform` of ``transform(X)``, or :meth:`sample` draws.
        X : array-like of shape (n, C, H, W) or (n, C*H*W)
            The inputs whose orientation to take.

        Returns
        -------
        ndarray of the shape of ``images``

        Examples
        --------
        >>> from minuet_sk.datasets import make_galaxies
        >>> model = MinuetEncoder.from_pretrained(device="cpu").set_params(sampling_steps=5)
        >>> X = make_galaxies(2, random_state=0).images
        >>> drawn = model.inverse_transform(model.transform(X)).reshape(X.shape)
        >>> turned = model.to_input_frame(drawn, X)  # residuals: X - turned
        >>> turned.shape
        (2, 3, 72, 72)
        """
        check_is_fitted(self)
        images = np.asarray(images, dtype=np.float32)
        if self.target_frame != "canonical":
            return images
        theta = self._predict_batches(lambda module, x, weight: module.frame_matrices(x), X)
        flat = images.reshape((-1,) + tuple(self.image_shape_))
        per_image = len(flat) // len(theta)
        inverse = inverse_orientation(torch.from_numpy(theta)).repeat_interleave(per_image, 0)
        turned = orient(torch.from_numpy(np.ascontiguousarray(flat)), inverse)
        return turned.numpy().reshape(images.shape)

    def score_samples(self, X):
        """An anomaly score: minus the log of the brightest misfit left when the image is
        rebuilt from its latents alone (the lower, the more unusual the image is to the
        model).

        The denoiser's clean-image estimate at the last diffusion time, where the noisy
        image keeps nothing of the galaxy, is what the five latents alone say the galaxy
        looks like. A star, a companion, a spike or a satellite trail that they cannot
        describe leaves a bright, compact residual; the diffuse misfit of an ordinary
        galaxy does not. The score is minus the log of the mean of the largest 0.5% of the
        per-pixel squared residuals (summed over bands, in the model's standardised
        units; missing pixels left out). The noise is seeded: deterministic, and
        independent of the batch an image comes in. Costs one encoder and one denoiser
        pass per image.

        Measured in ``benchmarks/quality_anomalies.py`` (ROC AUC of ranking by minus the
        score; the default shipped weights ``sim-grz-72-v4``, in brackets ``sim-grz-72-v2``):
        simulated galaxies with an added r = 15-16 star 8-20 pixels from the centre 0.89
        (0.84; probabilistic PCA 0.82, the VAE's ELBO 0.84), simulated mergers 0.58 (0.57;
        PCA 0.63, VAE 0.62); a 12 x 12 block of missing pixels leaves the score as it was
        (0.51; the VAE's ELBO is fooled, 0.73-0.74). The denoising loss itself
        (:meth:`score`, averaged over times) ranks these *below* ordinary galaxies (0.44 for
        stars): a loss per pixel of stretched images is lowest in bright compact sources.

        Parameters
        ----------
        X : array-like of shape (n, C, H, W) or (n, C*H*W)

        Returns
        -------
        ndarray of shape (n,)

        Examples
        --------
        >>> from minuet_sk import MinuetEncoder
        >>> from minuet_sk.datasets import make_galaxies
        >>> model = MinuetEncoder.from_pretrained("sim-grz-72", device="cpu")
        >>> galaxies = make_galaxies(4, random_state=0).images
        >>> spoilt = galaxies.copy()
        >>> spoilt[:, :, 10:13, 10:13] += 30.0  # a bright, compact source in a corner
        >>> bool((model.score_samples(spoilt) < model.score_samples(galaxies)).all())
        True
        """
        check_is_fitted(self)
        return -np.log(self._predict_batches(residual_peak, X).astype(np.float64) + 1e-12)

    def score(self, X, y=None):
        """Minus the mean denoising loss per pixel at fixed noise and times (higher is better).

        Deterministic: the times are spread evenly over the diffusion and the noise is
        seeded; images are not rotated; missing pixels are left out.

        The target is ``X`` as observed. A model whose decoder learned to rebuild other
        images (``fit(X, reference=...)``, as ``sim-grz-72-v4``: each galaxy noiseless) is
        scored on what it was not trained to draw, the noise included, so its score is far
        lower than a model trained on the observed images (-10.4 against -0.94 on simulated
        galaxies): compare scores between models trained alike only.

        Parameters
        ----------
        X : array-like of shape (n, C, H, W) or (n, C*H*W)
        y : None
            Ignored.

        Returns
        -------
        float
        """
        check_is_fitted(self)

        def sums(module, x, weight):
            per_pixel, weight = fixed_noise_loss(module, x, weight)
            return per_pixel.flatten(1).sum(1), weight.flatten(1).sum(1)

        loss, weight = self._predict_batches(sums, X)
        return -float(loss.sum() / max(weight.sum(), 1e-12))
