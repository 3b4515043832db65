"""minuet_sk: diffusion-autoencoder latents and calibrated physical posteriors for galaxy
images, the scikit-learn way.

Estimators take images as ``(n, C, H, W)`` or flattened ``(n, C*H*W)`` float32 arrays in
nanomaggies; see ``minuet_sk.datasets.make_galaxies`` for the simulated default data.
"""

from minuet_sk._version import __version__ as __version__
from minuet_sk.flow import FlowPropertyRegressor
from minuet_sk.minuet import MinuetEncoder
from minuet_sk.pca import EigengalaxyPCA
from minuet_sk.pipeline import Pipeline, make_pipeline
from minuet_sk.posterior import PropertyPosterior
from minuet_sk.preprocessing import AsinhStretch, SegmentationMasker
from minuet_sk.vae import VAEEncoder

__all__ = [
    "AsinhStretch",
    "EigengalaxyPCA",
    "FlowPropertyRegressor",
    "MinuetEncoder",
    "Pipeline",
    "PropertyPosterior",
    "SegmentationMasker",
    "VAEEncoder",
    "make_pipeline",
]
