"""Diffusion autoencoder: a Perceiver encoder, a conditional denoiser and a diffusion.

``loss`` trains both networks end to end: the encoder turns an image into latents ``z``
and the denoiser must remove the noise from (possibly another view of) the image given
``z``, so ``z`` has to carry what the noise hides. ``decode`` runs DDIM from ``z``.
"""

from __future__ import annotations

import torch
from torch import nn

from .denoiser import ConditionalDenoiser
from .diffusion import GaussianDiffusion
from .perceiver import PerceiverEncoder

__all__ = ["DiffusionAutoencoder"]


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
                 prediction="epsilon", conditioning="tokens", refiner_channels=0):
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        self.encoder = PerceiverEncoder(image_shape, n_latents, patch_size=patch_size,
                                        width=width, depth=encoder_depth, n_heads=n_heads)
        self.denoiser = ConditionalDenoiser(
            image_shape, n_latents, patch_size=patch_size, width=width, depth=decoder_depth,
            n_heads=n_heads, conditioning=conditioning, refiner_channels=refiner_channels,
        )
        self.diffusion = GaussianDiffusion(diffusion_steps, noise_schedule, prediction)
        # largest |pixel| trained on: DDIM clamps its clean-image estimates to it
        self.register_buffer("data_bound", torch.zeros(()))

    def encode(self, images):
        """Latents ``(B, n_latents)`` of standardised, imputed images."""
        return self.encoder(images)

    forward = encode

    def loss(self, encoder_images, target_images, t, noise, weights=None, reduction="mean"):
        """Denoising loss of ``target_images`` given the latents of ``encoder_images``."""
        if self.training:
            bound = target_images.detach().abs().max().float()
            self.data_bound.copy_(torch.maximum(self.data_bound, bound))
        z = self.encoder(encoder_images)
        return self.diffusion.loss(lambda x_t, t_: self.denoiser(x_t, t_, z), target_images, t,
                                   noise, weights, reduction)

    def decode(self, z, *, sampling_steps=50, eta=0.0, generator=None):
        """DDIM images ``(B, C, H, W)`` from latents ``z``."""
        bound = float(self.data_bound)
        return self.diffusion.sample(
            lambda x_t, t: self.denoiser(x_t, t, z), (z.shape[0],) + self.image_shape,
            sampling_steps=sampling_steps, eta=eta, generator=generator, device=z.device,
            clip_x0=bound if bound > 0 else None,
        )
