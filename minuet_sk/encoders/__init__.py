"""The image encoders: :class:`MinuetEncoder` (the diffusion autoencoder), the baselines
:class:`VAEEncoder` and :class:`EigengalaxyPCA`, and :class:`BaseImageEncoder`, the
scikit-learn face of the two torch encoders. One public class per private module."""

from ._base import BaseImageEncoder
from ._minuet import PRESETS, MinuetEncoder
from ._pca import EigengalaxyPCA
from ._vae import VAEEncoder

__all__ = ["PRESETS", "BaseImageEncoder", "EigengalaxyPCA", "MinuetEncoder", "VAEEncoder"]
