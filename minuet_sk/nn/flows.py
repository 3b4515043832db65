"""Conditional neural spline flows built from nflows parts (pure torch, no scikit-learn).

A flow maps targets ``y`` (standardised, shape ``(n, k)``) to standard-normal noise ``u``
through ``n_transforms`` masked autoregressive rational-quadratic spline transforms
(Durkan et al. 2019) with linear tails outside ``[-tail_bound, tail_bound]``, separated by
feature reversals, all conditioned on a context vector (the standardised features).

References
----------
C. Durkan, A. Bekasov, I. Murray & G. Papamakarios, "Neural Spline Flows", NeurIPS 2019,
arXiv:1906.04032.
"""

from __future__ import annotations

import math

import torch
from nflows.distributions.normal import StandardNormal
from nflows.flows.base import Flow
from nflows.transforms.autoregressive import (
    MaskedPiecewiseRationalQuadraticAutoregressiveTransform,
)
from nflows.transforms.base import CompositeTransform, InverseTransform
from nflows.transforms.permutations import ReversePermutation
from nflows.transforms.splines.rational_quadratic import rational_quadratic_spline

__all__ = ["build_spline_flow", "flow_sample"]


def build_spline_flow(
    n_targets,
    n_context,
    *,
    n_transforms=5,
    hidden_features=64,
    n_bins=8,
    tail_bound=3.0,
    num_blocks=2,
):
    """Build a conditional masked autoregressive rational-quadratic spline flow.

    Parameters
    ----------
    n_targets : int
        Dimension ``k`` of the targets.
    n_context : int
        Dimension of the conditioning vector.
    n_transforms : int, default=5
        Number of spline transforms; a feature reversal sits between consecutive ones.
    hidden_features : int, default=64
        Width of each transform's MADE conditioner.
    n_bins : int, default=8
        Spline bins on ``[-tail_bound, tail_bound]``.
    tail_bound : float, default=3.0
        Half width of the spline interval; outside it each transform is the identity
        (linear tails), so standardised targets far in the tails stay invertible.
    num_blocks : int, default=2
        Residual blocks per conditioner.

    Returns
    -------
    nflows.flows.base.Flow
        ``flow.log_prob(y, context=x)`` gives the log density of standardised ``y``.

    Examples
    --------
    >>> import torch
    >>> flow = build_spline_flow(2, 3, n_transforms=2, hidden_features=8)
    >>> flow.log_prob(torch.zeros(4, 2), context=torch.zeros(4, 3)).shape
    torch.Size([4])
    """
    transforms = []
    for i in range(n_transforms):
        if i > 0:
            transforms.append(ReversePermutation(features=n_targets))
        transforms.append(
            MaskedPiecewiseRationalQuadraticAutoregressiveTransform(
                features=n_targets,
                hidden_features=hidden_features,
                context_features=n_context,
                num_bins=n_bins,
                tails="linear",
                tail_bound=tail_bound,
                num_blocks=num_blocks,
            )
        )
    # nflows' autoregressive transforms run y -> u in one pass and u -> y in k passes. We
    # want the fast direction for sampling (1,000 draws per galaxy), so the composite is
    # inverted: sampling costs one conditioner pass per transform, density k passes.
    return Flow(InverseTransform(CompositeTransform(transforms)), StandardNormal([n_targets]))


def flow_sample(flow, context, noise, *, return_log_prob=False):
    """Turn base noise into samples of the flow, one block of draws per context row.

    The caller supplies the standard-normal ``noise`` (nflows' own ``Flow.sample`` draws it
    from the global torch RNG), so draws are reproducible and free of side effects.

    This is nflows' own pass (the forward direction of each autoregressive transform, see
    :func:`build_spline_flow`) rearranged for many draws per context, with the same
    numbers (to float32 rounding, checked in the tests):

    - the conditioners see the draws as ``(n, n_samples, k)`` and the context as
      ``(n, 1, c)``, so each context projection is computed once per row, not once per draw
      (nflows' MADE adds the context terms, which broadcast);
    - each spline runs nflows' :func:`~nflows.transforms.splines.rational_quadratic_spline`
      on every element, with inputs clamped into ``[-tail_bound, tail_bound]`` and the
      identity tails put back with ``torch.where``, instead of boolean-mask gathers and
      scatters.

    Parameters
    ----------
    flow : nflows.flows.base.Flow
        A flow from :func:`build_spline_flow`.
    context : torch.Tensor of shape (n, c)
        Conditioning vectors.
    noise : torch.Tensor of shape (n, n_samples, k)
        Standard-normal draws, ``n_samples`` per context row.
    return_log_prob : bool, default=False
        Also return the flow's log density of each draw (at no extra flow passes).

    Returns
    -------
    samples : torch.Tensor of shape (n, n_samples, k)
    log_prob : torch.Tensor of shape (n, n_samples)
        Only when ``return_log_prob`` is True.

    Examples
    --------
    >>> import torch
    >>> flow = build_spline_flow(2, 1, n_transforms=1, hidden_features=4)
    >>> noise = torch.randn(3, 5, 2, generator=torch.Generator().manual_seed(0))
    >>> flow_sample(flow, torch.zeros(3, 1), noise).shape
    torch.Size([3, 5, 2])
    """
    x = noise
    context = context[:, None, :]
    logabsdet = torch.zeros(noise.shape[:2], dtype=noise.dtype, device=noise.device)
    for transform in flow._transform._transform._transforms:
        if isinstance(transform, ReversePermutation):
            x = x.flip(-1)
            continue
        params = transform.autoregressive_net(x, context)
        x, lad = _spline_forward(transform, x, params)
        logabsdet = logabsdet + lad
    if not return_log_prob:
        return x
    return x, flow._distribution.log_prob(noise.reshape(-1, noise.shape[-1])).reshape(
        noise.shape[:2]
    ) - logabsdet


def _spline_forward(transform, x, params):
    """The forward spline of one nflows rational-quadratic autoregressive transform, on
    ``x`` of shape ``(..., k)``; returns ``(y, log|dy/dx|`` summed over ``k``)."""
    bins, bound = transform.num_bins, transform.tail_bound
    params = params.reshape(*x.shape, 3 * bins - 1)
    # (nflows scales widths and heights by 1/sqrt(hidden) only for conditioners with a
    # ``hidden_features`` attribute, which its MADE lacks, so they are used as they are.)
    widths, heights = params[..., :bins], params[..., bins : 2 * bins]
    # nflows' linear tails: boundary derivatives whose softplus plus min_derivative is 1.
    edge = torch.full_like(params[..., :1], math.log(math.expm1(1 - transform.min_derivative)))
    derivatives = torch.cat([edge, params[..., 2 * bins :], edge], dim=-1)
    inside = (x >= -bound) & (x <= bound)
    y, lad = rational_quadratic_spline(
        x.clamp(-bound, bound).reshape(-1),
        widths.reshape(-1, bins),
        heights.reshape(-1, bins),
        derivatives.reshape(-1, bins + 1),
        left=-bound, right=bound, bottom=-bound, top=bound,
        min_bin_width=transform.min_bin_width,
        min_bin_height=transform.min_bin_height,
        min_derivative=transform.min_derivative,
    )
    y = torch.where(inside, y.reshape(x.shape), x)
    lad = torch.where(inside, lad.reshape(x.shape), 0.0)
    return y, lad.sum(-1)
