"""Posteriors of physical properties from latents: :class:`FlowPropertyRegressor` (a
conditional neural spline flow), the :class:`PropertyPosterior` it returns and
:func:`write_posterior_catalogue` (a survey's posteriors to disk, chunk by chunk), with their
private parts: bounded targets (``_bounds``), resumable fits (``_checkpoint``) and
posteriors in files (``_files``)."""

from ._catalogue import write_posterior_catalogue
from ._posterior import PropertyPosterior
from ._regressor import FlowPropertyRegressor

__all__ = ["FlowPropertyRegressor", "PropertyPosterior", "write_posterior_catalogue"]
