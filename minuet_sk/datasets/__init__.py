"""Data: the GalSim simulator (the default data set) and readers for real survey files."""

from minuet_sk.datasets.simulate import make_galaxies
from minuet_sk.datasets.zoo import gz_binary_labels

__all__ = ["gz_binary_labels", "make_galaxies"]
