"""Conditional neural spline flows built from nflows parts (pure torch, no scikit-learn).

A flow maps targets ``y`` (standardised, shape ``(n, k)``) to standard-normal noise ``u``
through ``n_transforms`` rational-quadratic spline transforms (Durkan et al. 2019) with
linear tails outside ``[-tail_bound, tail_bound]``, all conditioned on a context vector (the
standardised features, or an embedding of them computed once per galaxy). The transforms
are masked autoregressive (MAF, feature reversals in between) or coupling transforms
(alternating halves of the targets).

References
----------
C. Durkan, A. Bekasov, I. Murray & G. Papamakarios, "Neural Spline Flows", NeurIPS 2019,
arXiv:1906.04032.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from nflows.distributions.normal import StandardNormal
from nflows.flows.base import Flow
from nflows.nn.nets import ResidualNet
from nflows.transforms.autoregressive import (
    MaskedPiecewiseRationalQuadraticAutoregressiveTransform,
)
from nflows.transforms.base import CompositeTransform, InverseTransform
from nflows.transforms.coupling import PiecewiseRationalQuadraticCouplingTransform
from nflows.transforms.permutations import ReversePermutation
from torch import nn

from .splines import spline_layer_forward, spline_layer_inverse

__all__ = ["build_spline_flow", "flow_log_prob", "flow_sample"]

TRANSFORMS = ("autoregressive", "coupling")


def build_spline_flow(
    n_targets,
    n_context,
    *,
    n_transforms=5,
    hidden_features=64,
    n_bins=8,
    tail_bound=3.0,
    num_blocks=2,
    transform="autoregressive",
    embedding_features=None,
):
    """Build a conditional rational-quadratic spline flow.

    Parameters
    ----------
    n_targets : int
        Dimension ``k`` of the targets.
    n_context : int
        Dimension of the conditioning vector.
    n_transforms : int, default=5
        Number of spline transforms.
    hidden_features : int, default=64
        Width of each transform's conditioner network.
    n_bins : int, default=8
        Spline bins on ``[-tail_bound, tail_bound]``.
    tail_bound : float, default=3.0
        Half width of the spline interval; outside it each transform is the identity
        (linear tails), so standardised targets far in the tails stay invertible.
    num_blocks : int, default=2
        Residual blocks per conditioner.
    transform : {"autoregressive", "coupling"}, default="autoregressive"
        "autoregressive": nflows' masked autoregressive spline transforms (a MADE
        conditioner), a feature reversal between consecutive ones. "coupling": nflows'
        coupling spline transforms, which alternately transform the even and the odd
        targets given the others (a residual-network conditioner); needs ``k >= 2``.
    embedding_features : int or None, default=None
        Width of a context embedding (two linear layers with a ReLU between) computed once
        per context row and shared by every transform's conditioner. None: the
        conditioners see the context itself.

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
    >>> flow = build_spline_flow(2, 3, transform="coupling", embedding_features=16)
    >>> flow.log_prob(torch.zeros(4, 2), context=torch.zeros(4, 3)).shape
    torch.Size([4])
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}; got {transform!r}.")
    if transform == "coupling" and n_targets < 2:
        raise ValueError("A coupling flow needs at least 2 targets (one conditions the "
                         "other); use transform='autoregressive' for one target.")
    embedding = None
    if embedding_features:
        embedding = nn.Sequential(
            nn.Linear(n_context, embedding_features),
            nn.ReLU(),
            nn.Linear(embedding_features, embedding_features),
        )
        n_context = embedding_features
    spline = {"num_bins": n_bins, "tails": "linear", "tail_bound": tail_bound}
    transforms = []
    for i in range(n_transforms):
        if transform == "coupling":
            mask = (torch.arange(n_targets) + i) % 2 * 2 - 1  # alternate halves
            transforms.append(PiecewiseRationalQuadraticCouplingTransform(
                mask,
                lambda n_in, n_out: ResidualNet(n_in, n_out, hidden_features,
                                                context_features=n_context,
                                                num_blocks=num_blocks),
                **spline,
            ))
            continue
        if i > 0:
            transforms.append(ReversePermutation(features=n_targets))
        transforms.append(MaskedPiecewiseRationalQuadraticAutoregressiveTransform(
            features=n_targets, hidden_features=hidden_features,
            context_features=n_context, num_blocks=num_blocks, **spline,
        ))
    # nflows' autoregressive transforms run y -> u in one pass and u -> y in k passes. We
    # want the fast direction for sampling (1,000 draws per galaxy), so the composite is
    # inverted: sampling costs one conditioner pass per transform, density k passes.
    # (Coupling transforms cost one pass either way.)
    return Flow(InverseTransform(CompositeTransform(transforms)), StandardNormal([n_targets]),
                embedding_net=embedding)


def flow_sample(flow, context, noise, *, return_log_prob=False):
    """Turn base noise into samples of the flow, one block of draws per context row.

    The caller supplies the standard-normal ``noise`` (nflows' own ``Flow.sample`` draws it
    from the global torch RNG), so draws are reproducible and free of side effects.

    This is nflows' own pass (the forward direction of each transform, see
    :func:`build_spline_flow`) rearranged for many draws per context, with the same
    numbers (to float32 rounding, checked in the tests):

    - the context embedding runs once per row, and the conditioners see the draws as
      ``(n, n_samples, k)`` and the context as ``(n, 1, c)``, so each context projection is
      computed once per row, not once per draw;
    - each conditioner's final layer and the splines run
      :func:`~minuet_sk.nn.splines.spline_layer_forward`: nflows' arithmetic with the
      spline parameters' axis first (several times faster on a CPU than nflows'
      boolean-mask gathers and per-element softmax over the last axis).

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
    n, n_samples, k = noise.shape
    context = _embed(flow, context)[:, None, :]
    logabsdet = torch.zeros(n * n_samples, dtype=noise.dtype, device=noise.device)
    for transform in flow._transform._transform._transforms:
        if isinstance(transform, ReversePermutation):
            x = x.flip(-1)
            continue
        if isinstance(transform, PiecewiseRationalQuadraticCouplingTransform):
            x, lad = _coupling_pass(transform, x, context, spline_layer_forward)
        else:
            made = transform.autoregressive_net
            final = made.final_layer
            y, lad = spline_layer_forward(
                x.reshape(-1, k), _made_hidden(made, x, context).reshape(n * n_samples, -1),
                final.weight * final.mask, final.bias, **_spline_options(transform))
            x = y.reshape(noise.shape)
        logabsdet = logabsdet + lad
    if not return_log_prob:
        return x
    base = flow._distribution.log_prob(noise.reshape(-1, k))
    return x, (base - logabsdet).reshape(n, n_samples)


def flow_log_prob(flow, y, context):
    """The flow's log density of ``y`` given ``context``: ``flow.log_prob(y, context=context)``
    with this module's splines.

    nflows' density pass (each transform's inverse, in reverse order; ``k`` conditioner
    passes per autoregressive transform, one per coupling transform), with the splines of
    :func:`~minuet_sk.nn.splines.spline_layer_inverse`: the same numbers to float32
    rounding (checked in the tests), and where rounding makes a quadratic's discriminant
    slightly negative, the root at the bin edge instead of nflows' assertion error for the
    whole batch (nflows issue 87). Rows whose terms are not finite come out NaN alone.

    Parameters
    ----------
    flow : nflows.flows.base.Flow
        A flow from :func:`build_spline_flow`.
    y : torch.Tensor of shape (n, k)
    context : torch.Tensor of shape (n, c)

    Returns
    -------
    torch.Tensor of shape (n,)

    Examples
    --------
    >>> import torch
    >>> flow = build_spline_flow(2, 3, n_transforms=2, hidden_features=8)
    >>> y, context = torch.randn(4, 2), torch.randn(4, 3)
    >>> torch.allclose(flow_log_prob(flow, y, context), flow.log_prob(y, context=context),
    ...                atol=1e-5)
    True
    """
    n, k = y.shape
    context = _embed(flow, context)[:, None, :]
    x = y[:, None, :]
    logabsdet = torch.zeros(n, dtype=y.dtype, device=y.device)
    for transform in reversed(flow._transform._transform._transforms):
        if isinstance(transform, ReversePermutation):
            x = x.flip(-1)
            continue
        if isinstance(transform, PiecewiseRationalQuadraticCouplingTransform):
            x, lad = _coupling_pass(transform, x, context, spline_layer_inverse)
        else:  # nflows' autoregressive inverse: k passes, each fixing one more feature
            made = transform.autoregressive_net
            final = made.final_layer
            inputs, x = x.reshape(n, k), torch.zeros_like(x)
            for _ in range(k):
                out, lad = spline_layer_inverse(
                    inputs, _made_hidden(made, x, context).reshape(n, -1),
                    final.weight * final.mask, final.bias, **_spline_options(transform))
                x = out.reshape(n, 1, k)
        logabsdet = logabsdet + lad
    return flow._distribution.log_prob(x.reshape(n, k)) + logabsdet


def _embed(flow, context):
    """The flow's context embedding of each row (see :func:`_per_row`)."""
    net = flow._embedding_net
    if not isinstance(net, nn.Sequential):  # no embedding (nflows' identity)
        return net(context)
    x = context
    for layer in net:
        x = _per_row(layer, x) if isinstance(layer, nn.Linear) else layer(x)
    return x


def _per_row(layer, context, weight=None, bias=True):
    """``layer`` (or its ``weight`` columns, with or without its bias) on per-galaxy rows,
    computed in float64 and rounded back, so that a galaxy's terms do not depend on how
    many galaxies share the matrix product (float32 products over 1 and over 20 rows may
    round the last bit differently)."""
    weight = layer.weight if weight is None else weight
    bias = layer.bias.double() if bias and layer.bias is not None else None
    return F.linear(context.double(), weight.double(), bias).to(context.dtype)


def _spline_options(transform):
    return {"tail_bound": transform.tail_bound, "min_bin_width": transform.min_bin_width,
            "min_bin_height": transform.min_bin_height,
            "min_derivative": transform.min_derivative}


def _made_hidden(made, x, context):
    """nflows' MADE forward up to its final layer (ReLU, no batch norm or dropout), with
    the context terms computed once per galaxy and broadcast over its draws."""
    temps = made.initial_layer(x) + made.activation(_per_row(made.context_layer, context))
    if not made.use_residual_blocks:
        temps = made.activation(temps)
    for block in made.blocks:
        t = block.linear_layers[0](block.activation(temps))
        t = t + _per_row(block.context_layer, context)
        t = block.linear_layers[1](block.activation(t))
        temps = temps + t
    return temps


def _coupling_pass(transform, x, context, spline_layer):
    """nflows' coupling spline transform, forward or inverse (``spline_layer``), for ``x``
    of shape ``(n, s, k)`` and ``context`` of shape ``(n, 1, c)``: ``x`` with its transform
    features mapped, and the log |Jacobian| of shape ``(n * s,)``."""
    net = transform.transform_net
    n, n_samples, _ = x.shape
    hidden = _residual_hidden(net, x[..., transform.identity_features], context)
    # nflows divides the widths and heights of a conditioner with ``hidden_features`` by
    # its square root; here the final layer's rows are scaled instead
    n_params = net.final_layer.out_features // transform.num_transform_features
    scale = torch.ones(n_params, dtype=x.dtype, device=x.device)
    scale[: 2 * transform.num_bins] = 1 / math.sqrt(net.hidden_features)
    scale = scale.repeat(transform.num_transform_features)
    y, lad = spline_layer(
        x[..., transform.transform_features].reshape(n * n_samples, -1),
        hidden.reshape(n * n_samples, -1), net.final_layer.weight * scale[:, None],
        net.final_layer.bias * scale, **_spline_options(transform))
    out = x.clone()
    out[..., transform.transform_features] = y.reshape(n, n_samples, -1)
    return out, lad


def _residual_hidden(net, inputs, context):
    """nflows' ``ResidualNet`` (ReLU, no batch norm or dropout) up to its final layer, with
    the context terms broadcast: its initial layer splits into an input part and a context
    part, and each block's GLU gate ``glu([t, Wc]) = t * sigmoid(Wc)`` is computed once per
    row."""
    n_in = inputs.shape[-1]
    weight = net.initial_layer.weight
    temps = F.linear(inputs, weight[:, :n_in], net.initial_layer.bias)
    # in place where autograd keeps no copy of the overwritten value (a linear layer's
    # output), so that the large (n, s, hidden) tensors are not allocated again
    temps.add_(_per_row(net.initial_layer, context, weight[:, n_in:], bias=False))
    for block in net.blocks:
        t = block.linear_layers[0](F.relu(temps))
        t = block.linear_layers[1](F.relu(t, inplace=True))
        temps = torch.addcmul(temps, t, torch.sigmoid(_per_row(block.context_layer, context)))
    return temps
