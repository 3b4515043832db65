"""Posteriors of physical properties from latents: :class:`FlowPropertyRegressor` (a
conditional neural spline flow) and the :class:`PropertyPosterior` it returns, with their
private parts: bounded targets (``_bounds``), resumable fits (``_checkpoint``) and
posteriors in files (``_files``)."""

from ._posterior import PropertyPosterior
from ._regressor import FlowPropertyRegressor

__all__ = ["FlowPropertyRegressor", "PropertyPosterior"]
