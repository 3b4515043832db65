"""minuet_sk: diffusion-autoencoder latents and calibrated physical posteriors for galaxy
images, the scikit-learn way.

Estimators take images as ``(n, C, H, W)`` or flattened ``(n, C*H*W)`` float32 arrays in
nanomaggies; see ``minuet_sk.datasets.make_galaxies`` for the simulated default data.

The public names are imported when first used (PEP 562), so that ``import minuet_sk`` and the
``minuet`` command line start without importing torch.
"""

import importlib

from minuet_sk._version import __version__ as __version__

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

# public name -> the module that defines it
_PUBLIC = {
    "AsinhStretch": "minuet_sk.preprocessing",
    "EigengalaxyPCA": "minuet_sk.encoders",
    "FlowPropertyRegressor": "minuet_sk.flow",
    "MinuetEncoder": "minuet_sk.encoders",
    "Pipeline": "minuet_sk.pipeline",
    "PropertyPosterior": "minuet_sk.flow",
    "SegmentationMasker": "minuet_sk.preprocessing",
    "VAEEncoder": "minuet_sk.encoders",
    "make_pipeline": "minuet_sk.pipeline",
}



def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'minuet_sk' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
