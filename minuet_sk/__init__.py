"""minuet_sk: diffusion-autoencoder latents and calibrated physical posteriors for galaxy
images, the scikit-learn way."""

from .flow import FlowPropertyRegressor
from .posterior import PropertyPosterior

__version__ = "0.1.0"

__all__ = ["FlowPropertyRegressor", "PropertyPosterior"]
