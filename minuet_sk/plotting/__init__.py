"""Reading latent spaces, and the figures a paper shows.

``latent_traversal`` and ``correlation_table`` work with any encoder that has ``transform``
and ``inverse_transform`` (VAEEncoder, MinuetEncoder, EigengalaxyPCA) and return arrays and
DataFrames. The ``plot_*`` functions draw with matplotlib into the axes or figure they are
given (``ax=``, ``axes=``, ``fig=``; a new figure by default) and return the figure, so that
they compose into a user's own layouts; ``minuet report`` draws its figures with them.
"""

from ._images import (
    plot_image_grid,
    plot_neighbours,
    plot_power_spectra,
    plot_reconstructions,
    rgb_composite,
)
from ._latents import (
    correlation_table,
    latent_traversal,
    plot_latent_corner,
    plot_latent_traversals,
)
from ._posteriors import (
    plot_coverage,
    plot_pit,
    plot_posterior_corner,
    plot_posteriors,
    plot_predicted_vs_true,
    plot_tarp,
)
from ._roc import plot_roc

__all__ = [
    "correlation_table",
    "latent_traversal",
    "plot_coverage",
    "plot_image_grid",
    "plot_latent_corner",
    "plot_latent_traversals",
    "plot_neighbours",
    "plot_pit",
    "plot_posterior_corner",
    "plot_posteriors",
    "plot_power_spectra",
    "plot_predicted_vs_true",
    "plot_reconstructions",
    "plot_roc",
    "plot_tarp",
    "rgb_composite",
]
