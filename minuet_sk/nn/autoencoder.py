"""Diffusion autoencoder: a Perceiver encoder, a conditional denoiser and a diffusion.

``loss`` trains both networks end to end: the encoder turns an image into latents ``z``
and the denoiser must remove the noise from (possibly another view of) the image given
``z``, so ``z`` has to carry what the noise hides. ``decode`` runs DDIM from ``z``.

Both networks work on ``band_mixing @ image`` (per pixel, across bands; the identity unless
set). With the band-whitening matrix of the data, the achromatic brightness and the colours
become separate unit-variance channels, so the colours weigh as much in the denoising loss
as the brightness does instead of 20-40 times less (their share of the pixel variance in
asinh-stretched grz cutouts), and the latents must carry them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .augment import canonical_orientation_matrices, centre_window, orient
from .denoiser import ConditionalDenoiser
from .diffusion import GaussianDiffusion
from .perceiver import PerceiverEncoder

__all__ = ["DiffusionAutoencoder", "band_whitening"]


def band_whitening(correlation, strength=1.0, floor=1e-6):
    """PCA-whitening matrix ``W`` of a band correlation (or covariance) matrix.

    ``W @ pixel`` has uncorrelated components, ordered from the largest eigenvalue (for
    galaxy images: the brightness common to all bands) to the smallest (the colours). With
    ``strength=1`` each has unit variance; with ``0 < strength < 1`` component ``k`` keeps
    variance ``lambda_k ** (1 - strength)`` (rescaled to a mean of 1), a partial whitening;
    ``strength=0`` only rotates. Eigenvalues below ``floor`` times the largest are raised to
    it, so that (nearly) duplicated bands do not blow up; each eigenvector's sign is fixed by
    making its largest component positive.

    Examples
    --------
    >>> import numpy as np
    >>> corr = np.array([[1.0, 0.9], [0.9, 1.0]])
    >>> w = band_whitening(corr)
    >>> np.allclose(w @ corr @ w.T, np.eye(2))
    True
    >>> half = band_whitening(corr, strength=0.5)
    >>> np.round(np.diag(half @ corr @ half.T), 2).tolist()  # variances 1.9 : 0.1 -> 1.63 : 0.37
    [1.63, 0.37]
    """
    correlation = np.asarray(correlation, np.float64)
    values, vectors = np.linalg.eigh(correlation)
    values, vectors = values[::-1], vectors[:, ::-1]
    vectors = vectors * np.sign(vectors[np.abs(vectors).argmax(0), np.arange(len(values))])
    values = np.maximum(values, floor * values[0])
    kept = values ** (1.0 - strength)
    return (vectors / np.sqrt(values) * np.sqrt(kept / kept.mean())).T


class DiffusionAutoencoder(nn.Module):
    """Encoder + conditional denoiser + Gaussian diffusion (Minuet's model).

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``.
    n_latents : int
        Number of latent scalars.
    patch_size, width, n_heads : int
        Shared by the encoder and the denoiser.
    encoder_depth, decoder_depth : int
        Blocks in the encoder and the denoiser.
    diffusion_steps : int
    noise_schedule : {"linear", "cosine"}
    prediction : {"epsilon", "v"}
    conditioning : {"tokens", "adaln"}
    refiner_channels : int
    band_mixing : array-like of shape (C, C) or None
        Invertible map applied across the bands of every pixel before both networks (and
        undone by :meth:`decode`); None for the identity. See :func:`band_whitening`.
    encoder_ff_width, decoder_ff_width : int or None
        Hidden units of the encoder's and the denoiser's feed-forward layers (None:
        ``4 * width``).
    dropout : float
        Dropout of attention weights and feed-forward outputs of both networks, in training.
    encoder_frame : {"random", "canonical"}
        ``"canonical"``: :meth:`encode` first turns each image into its canonical frame (the
        second-moment major axis of its light, within :func:`~minuet_sk.nn.augment.
        centre_window`, along x), so that the latents of a galaxy do not depend on its
        orientation by construction, up to the four flips that keep the major axis on x
        (which training with random quarter turns and mirrors averages out); ``"random"``:
        the image as it comes.

    Examples
    --------
    >>> import torch
    >>> model = DiffusionAutoencoder((1, 8, 8), n_latents=2, patch_size=4, width=16,
    ...                              encoder_depth=1, decoder_depth=1, n_heads=2,
    ...                              diffusion_steps=10)
    >>> x = torch.randn(3, 1, 8, 8)
    >>> model.encode(x).shape
    torch.Size([3, 2])
    >>> loss = model.loss(x, x, torch.tensor([0, 5, 9]), torch.randn_like(x))
    >>> model.decode(model.encode(x), sampling_steps=3).shape
    torch.Size([3, 1, 8, 8])
    """

    def __init__(self, image_shape, n_latents=5, *, patch_size=6, width=128, encoder_depth=4,
                 decoder_depth=4, n_heads=4, diffusion_steps=1000, noise_schedule="cosine",
                 prediction="epsilon", conditioning="tokens", refiner_channels=0,
                 band_mixing=None, encoder_ff_width=None, decoder_ff_width=None, dropout=0.0,
                 encoder_frame="random"):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        if encoder_frame not in ("random", "canonical"):
            raise ValueError(
                f"encoder_frame must be 'random' or 'canonical'; got {encoder_frame!r}."
            )
        self.encoder_frame = encoder_frame
        self.register_buffer("frame_window", centre_window(*self.image_shape[1:]),
                             persistent=False)
        channels = self.image_shape[0]
        mixing = (torch.eye(channels) if band_mixing is None
                  else torch.as_tensor(band_mixing, dtype=torch.float32).reshape(channels, channels))
        self.register_buffer("band_mixing", mixing)
        self.register_buffer("band_unmixing", torch.linalg.inv(mixing.double()).float())
        self.mixes_bands = band_mixing is not None
        self.encoder = PerceiverEncoder(image_shape, n_latents, patch_size=patch_size,
                                        width=width, depth=encoder_depth, n_heads=n_heads,
                                        ff_width=encoder_ff_width, dropout=dropout)
        self.denoiser = ConditionalDenoiser(
            image_shape, n_latents, patch_size=patch_size, width=width, depth=decoder_depth,
            n_heads=n_heads, conditioning=conditioning, refiner_channels=refiner_channels,
            ff_width=decoder_ff_width, dropout=dropout,
        )
        self.diffusion = GaussianDiffusion(diffusion_steps, noise_schedule, prediction)
        # largest |pixel| trained on: DDIM clamps its clean-image estimates to it
        self.register_buffer("data_bound", torch.zeros(()))

    def _mix(self, matrix, images):
        if not self.mixes_bands:
            return images
        return torch.einsum("dc,bchw->bdhw", matrix.to(images.dtype), images)

    def mixed_weights(self, weights, shape):
        """Pixel weights of the mixed bands: a pixel's least weight over the input bands,
        ``(B, 1, H, W)`` (``weights`` as they are without a ``band_mixing``)."""
        if not self.mixes_bands:
            return weights
        return torch.broadcast_to(weights, shape).amin(1, keepdim=True)

    def frame_matrices(self, images):
        """``(B, 2, 3)`` matrices (for :func:`~minuet_sk.nn.augment.orient`) that turn
        standardised ``images`` into their canonical frame."""
        return canonical_orientation_matrices(images, self.frame_window)

    def canonical_frame(self, images):
        """``images`` turned into their canonical frame (see ``encoder_frame``)."""
        return orient(images, self.frame_matrices(images))

    def encode(self, images):
        """Latents ``(B, n_latents)`` of standardised, imputed images."""
        if self.encoder_frame == "canonical":
            images = self.canonical_frame(images)
        return self.encoder(self._mix(self.band_mixing, images))

    forward = encode

    def loss(self, encoder_images, target_images, t, noise, weights=None, reduction="mean"):
        """Denoising loss of ``target_images`` given the latents of ``encoder_images``.

        The loss is taken on the mixed bands; a pixel missing in one band (weight 0) gets
        weight 0 in all of them, since each mixed band depends on every band.
        """
        target_images = self._mix(self.band_mixing, target_images)
        if weights is not None:
            weights = self.mixed_weights(weights, target_images.shape)
        if self.training:
            bound = target_images.detach().abs().max().float()
            self.data_bound.copy_(torch.maximum(self.data_bound, bound))
        z = self.encode(encoder_images)
        return self.diffusion.loss(lambda x_t, t_: self.denoiser(x_t, t_, z), target_images, t,
                                   noise, weights, reduction)

    def decode(self, z, *, sampling_steps=50, eta=0.0, generator=None):
        """DDIM images ``(B, C, H, W)`` from latents ``z``."""
        bound = float(self.data_bound)
        mixed = self.diffusion.sample(
            lambda x_t, t: self.denoiser(x_t, t, z), (z.shape[0],) + self.image_shape,
            sampling_steps=sampling_steps, eta=eta, generator=generator, device=z.device,
            clip_x0=bound if bound > 0 else None,
        )
        return self._mix(self.band_unmixing, mixed)
