"""What :class:`~minuet_sk.minuet.MinuetEncoder` gives the training layer: its network (a
:class:`~minuet_sk.nn.autoencoder.DiffusionAutoencoder` built from its parameters), its loss
and moving average, the masked loss's pixel weights, and how it encodes."""

from __future__ import annotations

from ._training.losses import DenoisingLoss
from ._training.masks import central_mask_weights
from ._training.streaming import ImageBatches
from .nn.autoencoder import DiffusionAutoencoder, band_whitening

__all__ = ["MinuetNetworkMixin"]


class MinuetNetworkMixin:
    """The hooks of :class:`~minuet_sk._encoder_base.BaseImageEncoder` for Minuet."""

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
            "denoiser": self.denoiser,
            "unet_channels": self.unet_channels,
            "unet_pixel_fold": self.unet_pixel_fold,
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
                "snr_gamma": self.snr_gamma, "target_frame": self.target_frame}

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
