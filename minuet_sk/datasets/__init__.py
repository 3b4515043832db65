"""Data: the GalSim simulator (the default data set) and readers for real survey files."""

from minuet_sk.datasets import hubble
from minuet_sk.datasets.catalogs import read_gz_votes, read_sed_catalog
from minuet_sk.datasets.crossmatch import crossmatch
from minuet_sk.datasets.fits import load_fits_cutouts
from minuet_sk.datasets.galaxy10 import load_galaxy10_decals
from minuet_sk.datasets.hubble import load_hubble_deep_field
from minuet_sk.datasets.simulate import make_galaxies, reobserve, reobserve_pairs
from minuet_sk.datasets.survey import observe_as_survey
from minuet_sk.datasets.zoo import gz_binary_labels

#: g, r and z multipliers of the Hubble Deep Field picture's blue, green and red channels
#: for ``load_hubble_deep_field(as_survey=..., band_gains=XDF_BAND_GAINS)``: they give its
#: isolated galaxies (``isolate=True, source_pixel_scale=0.45``) the median g - r (0.66) and
#: r - z (0.51) of :func:`make_galaxies`' galaxies, where the picture's display balance
#: gives -0.22 and 0.18.
XDF_BAND_GAINS = hubble.XDF_BAND_GAINS

__all__ = [
    "XDF_BAND_GAINS",
    "crossmatch",
    "gz_binary_labels",
    "load_fits_cutouts",
    "load_galaxy10_decals",
    "load_hubble_deep_field",
    "make_galaxies",
    "observe_as_survey",
    "read_gz_votes",
    "read_sed_catalog",
    "reobserve",
    "reobserve_pairs",
]
