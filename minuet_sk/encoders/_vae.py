"""VAEEncoder: the convolutional variational-autoencoder baseline."""

from __future__ import annotations

import math
from numbers import Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._training.losses import NegativeELBO
from ..nn.vae import ConvVAE
from ._base import BaseImageEncoder

__all__ = ["VAEEncoder"]


class VAEEncoder(BaseImageEncoder):
    """Convolutional beta-VAE that compresses galaxy images into ``n_components`` latents.

    A conv encoder maps each (per-band standardised) image to a diagonal Gaussian posterior
    ``q(z | x)``; a conv decoder maps ``z`` to the mean of a Gaussian likelihood. Training
    minimises ``-(log p(x | z) - beta * KL(q(z | x) || N(0, I)))`` per pixel, with missing
    (NaN) pixels left out of the likelihood. Training, streaming from memmap/HDF5,
    checkpoints and persistence come from the shared encoder base (see
    ``minuet_sk.encoders.BaseImageEncoder`` for the shared parameters).

    Parameters
    ----------
    n_components : int, default=5
        Number of latents.
    image_shape : tuple of int or None, default=(3, 72, 72)
        ``(C, H, W)``; None takes it from 4-D input. Any H, W works (padded internally).
    stretch : AsinhStretch or None, default=None
        A stretch that is part of the model (applied inside, saved with it, undone in
        decoded images), as in :class:`MinuetEncoder`; None: the input as it comes.
    flux_unit, pixel_scale : str or None, float or None, default="nanomaggy", 0.262
        What the input pixels are, saved with the model, as in :class:`MinuetEncoder`.
    channels : tuple of int, default=(32, 64, 128)
        Feature maps per resolution level (each level halves H and W).
    beta : float, default=1.0
        Weight of the KL term (beta-VAE); 1 is the plain VAE.
    likelihood : {"gaussian"}, default="gaussian"
        Pixel likelihood in standardised units.
    sigma : "learned" or float, default="learned"
        Standard deviation of the Gaussian likelihood in standardised units. ``"learned"``
        estimates one per band in closed form: each training batch uses its maximum-
        likelihood value (the RMS residual; the "optimal sigma-VAE" of Rybkin et al. 2021),
        and a running average is kept for ``score`` and the validation loss. The data then
        set the balance of reconstruction and KL, which avoids the blurry or collapsed
        latents of a badly chosen fixed sigma. A float fixes it.
    max_epochs : int, default=30
    batch_size : int, default=128
    lr : float, default=1e-3
    weight_decay : float, default=0.0
    validation_fraction : float, default=0.1
    early_stopping : bool, default=True
    patience : int, default=5
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    warm_start : bool, default=False
    checkpoint_dir : str, path-like or None, default=None
    pretrained : str, path-like or None, default=None
        A folder written by :meth:`save` that ``fit`` loads instead of training (with
        ``warm_start=True``: loads, then fine-tunes), as in :class:`MinuetEncoder`.
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
        Correlation of the standardised bands over the pixels, learned in ``fit``.
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss`` (negative beta-ELBO per pixel),
        ``valid_loss``, ``dur``, ``images_per_s``.
    n_iter_ : int
        Epochs trained.
    device_ : str
    net_ : skorch net
        ``net_.module_`` is the :class:`minuet_sk.nn.vae.ConvVAE`.

    See Also
    --------
    minuet_sk.EigengalaxyPCA : the linear baseline.
    minuet_sk.MinuetEncoder : the diffusion autoencoder.

    References
    ----------
    Kingma & Welling (2014), Auto-Encoding Variational Bayes; Higgins et al. (2017),
    beta-VAE; Rybkin et al. (2021), Simple and Effective VAE Training with Calibrated
    Decoders (learned sigma).

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import VAEEncoder
    >>> X = np.random.default_rng(0).random((20, 1, 8, 8), dtype=np.float32)
    >>> vae = VAEEncoder(2, image_shape=None, channels=(4,), max_epochs=1, random_state=0)
    >>> vae.fit(X).transform(X).shape
    (20, 2)
    >>> vae.get_feature_names_out().tolist()
    ['vae0', 'vae1']
    >>> vae.sample(3, random_state=0).shape
    (3, 1, 8, 8)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseImageEncoder._parameter_constraints,
        "channels": [tuple, list],
        "beta": [Interval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions({"gaussian"})],
        "sigma": [StrOptions({"learned"}), Interval(Real, 0, None, closed="neither")],
    }
    _feature_prefix = "vae"

    def __init__(
        self,
        n_components=5,
        *,
        image_shape=(3, 72, 72),
        stretch=None,
        flux_unit="nanomaggy",
        pixel_scale=0.262,
        channels=(32, 64, 128),
        beta=1.0,
        likelihood="gaussian",
        sigma="learned",
        max_epochs=30,
        batch_size=128,
        lr=1e-3,
        weight_decay=0.0,
        validation_fraction=0.1,
        early_stopping=True,
        patience=5,
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
        self.channels = channels
        self.beta = beta
        self.likelihood = likelihood
        self.sigma = sigma
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

    # ---- hooks of the encoder base ----------------------------------------------------
    def _module_class(self):
        return ConvVAE

    def _module_kwargs(self):
        learned = self.sigma == "learned"
        return {
            "image_shape": self.image_shape_,
            "n_latents": self.n_components,
            "channels": tuple(self.channels),
            "log_sigma": 0.0 if learned else math.log(self.sigma),
            "learn_sigma": learned,
        }

    def _criterion_class(self):
        return NegativeELBO

    def _criterion_kwargs(self):
        return {"n_components": self.n_components, "beta": self.beta}

    def _encode(self, module, x, weight):
        return module.encode(x)[0]

    # ---- public API ---------------------------------------------------------------------
    def transform(self, X, return_std=False):
        """Posterior means (and standard deviations) of the latents.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
        return_std : bool, default=False
            Also return the posterior standard deviations.

        Returns
        -------
        mean : ndarray of shape (n_samples, n_components)
        std : ndarray of shape (n_samples, n_components)
            Only when ``return_std`` is True.
        """
        check_is_fitted(self)
        if not return_std:
            return self._latent_frame(self._predict_batches(self._encode, X), X)

        def mean_std(module, x, weight):
            mean, log_var = module.encode(x)
            return mean, torch.exp(0.5 * log_var)

        return self._predict_batches(mean_std, X)

    def inverse_transform(self, X):
        """Decode latents into images (the likelihood's mean), flattened, in input units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        ndarray of shape (n_samples, C*H*W)
        """
        check_is_fitted(self)
        images = self._destandardise(self._map_latents(lambda m, z: m.decode(z), X))
        return images.reshape(len(images), -1)

    def sample(self, n_samples=1, random_state=None):
        """Draw images from the prior: ``z ~ N(0, I)``, decoded to the likelihood's mean.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None
            Seeds the latent draws. None uses the fit's own seed: the same draws on every
            call, and NumPy's global generator is left alone.

        Returns
        -------
        ndarray of shape (n_samples, C, H, W)
        """
        check_is_fitted(self)
        generator = torch.Generator().manual_seed(self._sampling_seed(random_state))
        z = torch.randn((n_samples, self.n_components), generator=generator).numpy()
        return self._destandardise(self._map_latents(lambda m, z: m.decode(z), z))

    def score_samples(self, X):
        """ELBO of each image in input units (nats), decoding the posterior mean.

        Missing pixels are left out; the standardisation's Jacobian is included, so values
        are comparable between fits of the same data. With a ``stretch``, the input units
        are the stretched ones (the stretch's Jacobian is not included).

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        log_scale = torch.from_numpy(np.log(self.band_scale_)).reshape(1, -1, 1, 1)

        def elbo(module, x, weight):
            log_lik, kl = module.elbo_terms(x, weight)
            jacobian = (weight * log_scale.to(x.device)).flatten(1).sum(1)
            return log_lik - kl - jacobian

        return self._predict_batches(elbo, X)

    def score(self, X, y=None):
        """Mean ELBO per image (higher is better); see :meth:`score_samples`.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, C*H*W)
        y : None
            Ignored.

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X)))
