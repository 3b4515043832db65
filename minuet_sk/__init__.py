"""minuet_sk: diffusion-autoencoder latents and calibrated physical posteriors for galaxy
images, the scikit-learn way."""

__version__ = "0.1.0"

from .minuet import MinuetEncoder
from .vae import VAEEncoder

__all__ = ["MinuetEncoder", "VAEEncoder"]
