"""The rational-quadratic spline of nflows, forward and inverse, laid out for many draws.

nflows' :func:`~nflows.transforms.splines.rational_quadratic_spline` keeps each element's
``K`` bin parameters on the last axis, where softmax, cumulative sums and comparisons over
``K = 8`` values run one short row at a time (on a CPU, its softmax alone took 57% of a
sampling pass). Here the parameters are transposed once to ``(3K - 1, N)``, so every
reduction over bins runs along contiguous rows of ``N`` elements, and only the two knots
and derivatives around each element's bin are gathered (the softplus of the derivatives
runs on those two, not on all ``K + 1``). The arithmetic is nflows' own, in the same order,
so the results agree with it to float32 rounding (checked in the tests).

The inverse solves each element's quadratic as nflows does, with one difference: nflows
asserts that every discriminant is non-negative and fails the whole batch when rounding
makes one slightly negative (nflows issue 87). For a monotone spline the discriminant is
never negative in exact arithmetic, so here it is clipped at zero, which gives the root at
the bin edge that rounding hid, and the root is kept in its bin ([0, 1], where exact
arithmetic puts it), so that its log-determinant stays finite; an element whose parameters
are not finite comes out NaN alone, without failing its batch.

References
----------
C. Durkan, A. Bekasov, I. Murray & G. Papamakarios, "Neural Spline Flows", NeurIPS 2019,
arXiv:1906.04032 (the spline, eqs. 4-5 and its derivative).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["rq_spline_forward", "rq_spline_inverse", "spline_layer_forward",
           "spline_layer_inverse"]

_BLOCK = 64


def _knots(unnormalized, low, high, min_size):
    """Knot positions ``(K + 1, N)`` from unnormalised bin sizes ``(K, N)`` (nflows' rule)."""
    n_bins = unnormalized.shape[0]
    sizes = torch.softmax(unnormalized, dim=0)
    sizes = min_size + (1 - min_size * n_bins) * sizes
    knots = F.pad((high - low) * torch.cumsum(sizes, dim=0) + low, (0, 0, 1, 0), value=low)
    knots[-1] = high
    return knots


def _bins(values, params, tail_bound, min_bin_width, min_bin_height, min_derivative, *,
          inverse):
    """What both directions need of each element's bin: ``inside`` (within the spline),
    the values clamped to it, the bin's left knot and width, bottom knot and height, and
    the derivatives at its two ends. The bin is found among the heights' knots for the
    inverse, the widths' for the forward."""
    n_bins = (params.shape[0] + 1) // 3
    inside = (values >= -tail_bound) & (values <= tail_bound)
    clamped = values.clamp(-tail_bound, tail_bound)
    widths = _knots(params[:n_bins], -tail_bound, tail_bound, min_bin_width)
    heights = _knots(params[n_bins : 2 * n_bins], -tail_bound, tail_bound, min_bin_height)
    # the bin of each element: nflows counts knots <= value with the last knot nudged up by
    # 1e-6, which for a value in [left, right] is the count of interior knots <= value
    knots = heights if inverse else widths
    index = (clamped >= knots[1:n_bins]).sum(dim=0, keepdim=True)
    after = index + 1
    x0 = widths.gather(0, index)[0]
    bin_width = widths.gather(0, after)[0] - x0
    y0 = heights.gather(0, index)[0]
    bin_height = heights.gather(0, after)[0] - y0
    # boundary derivatives whose softplus plus min_derivative is 1 (nflows' linear tails)
    edge = math.log(math.expm1(1 - min_derivative))
    raw = F.pad(params[2 * n_bins :], (0, 0, 1, 1), value=edge)
    d0 = min_derivative + F.softplus(raw.gather(0, index)[0])
    d1 = min_derivative + F.softplus(raw.gather(0, after)[0])
    return inside, clamped, x0, bin_width, y0, bin_height, d0, d1


def rq_spline_forward(x, params, *, tail_bound, min_bin_width, min_bin_height,
                      min_derivative):
    """Monotone rational-quadratic spline on ``[-tail_bound, tail_bound]``, identity outside.

    The forward map of nflows' spline transforms with ``tails="linear"``, for one set of
    spline parameters per element of ``x``, with the parameters' axis first.

    Parameters
    ----------
    x : torch.Tensor of shape (n,)
    params : torch.Tensor of shape (3 * K - 1, n), contiguous
        Per element (column): ``K`` unnormalised widths, ``K`` unnormalised heights and
        ``K - 1`` unnormalised interior derivatives (nflows' order).
    tail_bound : float
    min_bin_width, min_bin_height, min_derivative : float
        nflows' floors on the bin sizes and derivatives.

    Returns
    -------
    y : torch.Tensor of shape (n,)
    logabsdet : torch.Tensor of shape (n,)
        ``log |dy/dx|`` of each element (0 in the identity tails).

    Examples
    --------
    >>> import torch
    >>> y, lad = rq_spline_forward(torch.tensor([-5.0, 0.0, 1.5]), torch.zeros(23, 3),
    ...                            tail_bound=3.0, min_bin_width=1e-3, min_bin_height=1e-3,
    ...                            min_derivative=1e-3)
    >>> y.tolist(), lad[0].item()  # identity outside; equal bins keep the knots in place
    ([-5.0, 0.0, 1.5], 0.0)
    """
    inside, xc, x0, bin_width, y0, bin_height, d0, d1 = _bins(
        x, params, tail_bound, min_bin_width, min_bin_height, min_derivative, inverse=False)

    delta = bin_height / bin_width
    theta = (xc - x0) / bin_width
    theta_one_minus_theta = theta * (1 - theta)
    numerator = bin_height * (delta * theta.pow(2) + d0 * theta_one_minus_theta)
    denominator = delta + (d0 + d1 - 2 * delta) * theta_one_minus_theta
    y = y0 + numerator / denominator
    derivative_numerator = delta.pow(2) * (
        d1 * theta.pow(2) + 2 * delta * theta_one_minus_theta + d0 * (1 - theta).pow(2)
    )
    logabsdet = torch.log(derivative_numerator) - 2 * torch.log(denominator)
    return torch.where(inside, y, x), torch.where(inside, logabsdet, 0.0)


def rq_spline_inverse(y, params, *, tail_bound, min_bin_width, min_bin_height,
                      min_derivative):
    """The inverse of :func:`rq_spline_forward`, with the same parameters and layout.

    nflows' inverse arithmetic (the root of each element's quadratic, its ``2c / (-b -
    sqrt(disc))`` form), with the discriminant clipped at zero instead of asserted (see the
    module's notes).

    Parameters
    ----------
    y : torch.Tensor of shape (n,)
    params : torch.Tensor of shape (3 * K - 1, n), contiguous
    tail_bound, min_bin_width, min_bin_height, min_derivative : float
        As for :func:`rq_spline_forward`.

    Returns
    -------
    x : torch.Tensor of shape (n,)
    logabsdet : torch.Tensor of shape (n,)
        ``log |dx/dy|`` of each element (minus the forward one; 0 in the identity tails).

    Examples
    --------
    >>> import torch
    >>> options = dict(tail_bound=3.0, min_bin_width=1e-3, min_bin_height=1e-3,
    ...                min_derivative=1e-3)
    >>> params = torch.randn(23, 4, generator=torch.Generator().manual_seed(0))
    >>> x = torch.tensor([-5.0, -1.0, 0.5, 2.9])
    >>> y, lad = rq_spline_forward(x, params, **options)
    >>> back, back_lad = rq_spline_inverse(y, params, **options)
    >>> torch.allclose(back, x, atol=1e-5), torch.allclose(back_lad, -lad, atol=1e-5)
    (True, True)
    """
    inside, yc, x0, bin_width, y0, bin_height, d0, d1 = _bins(
        y, params, tail_bound, min_bin_width, min_bin_height, min_derivative, inverse=True)

    delta = bin_height / bin_width
    above = yc - y0
    slope_sum = d0 + d1 - 2 * delta
    a = above * slope_sum + bin_height * (delta - d0)
    b = bin_height * d0 - above * slope_sum
    c = -delta * above
    discriminant = (b.pow(2) - 4 * a * c).clamp(min=0.0)
    # in exact arithmetic the root lies in [0, 1]; rounding in very steep bins can push it
    # (and nflows' result) just outside, where the derivative below would turn negative
    root = ((2 * c) / (-b - torch.sqrt(discriminant))).clamp(0.0, 1.0)
    x = root * bin_width + x0
    theta_one_minus_theta = root * (1 - root)
    denominator = delta + slope_sum * theta_one_minus_theta
    derivative_numerator = delta.pow(2) * (
        d1 * root.pow(2) + 2 * delta * theta_one_minus_theta + d0 * (1 - root).pow(2)
    )
    logabsdet = torch.log(derivative_numerator) - 2 * torch.log(denominator)
    return torch.where(inside, x, y), torch.where(inside, -logabsdet, 0.0)


def spline_layer_forward(x, hidden, weight, bias, **spline):
    """A linear layer that makes each element's spline parameters, then the splines.

    ``params = hidden @ weight.T + bias`` holds, per row, ``k`` blocks of ``3K - 1``
    parameters (nflows' layout for its MADE and coupling conditioners). They are computed
    directly with the parameters' axis first, ``weight @ hidden.T``, so no transposition is
    needed, and each of the ``k`` columns of ``x`` is padded to whole SIMD blocks (torch's
    vector kernels and their scalar loops for a last partial block may round ``exp`` and
    ``log`` differently, and an element's result must not depend on where it falls in a
    batch).

    Parameters
    ----------
    x : torch.Tensor of shape (m, k)
    hidden : torch.Tensor of shape (m, h)
    weight : torch.Tensor of shape (k * (3K - 1), h)
    bias : torch.Tensor of shape (k * (3K - 1),)
    **spline
        ``tail_bound``, ``min_bin_width``, ``min_bin_height``, ``min_derivative``.

    Returns
    -------
    y : torch.Tensor of shape (m, k)
    logabsdet : torch.Tensor of shape (m,)
        Summed over the ``k`` columns.

    Examples
    --------
    >>> import torch
    >>> x, hidden = torch.randn(5, 2), torch.randn(5, 4)
    >>> y, lad = spline_layer_forward(x, hidden, torch.zeros(2 * 23, 4), torch.zeros(2 * 23),
    ...                               tail_bound=3.0, min_bin_width=1e-3,
    ...                               min_bin_height=1e-3, min_derivative=1e-3)
    >>> y.shape, lad.shape
    (torch.Size([5, 2]), torch.Size([5]))
    """
    return _spline_layer(rq_spline_forward, x, hidden, weight, bias, spline)


def spline_layer_inverse(y, hidden, weight, bias, **spline):
    """:func:`spline_layer_forward` with the inverse splines (:func:`rq_spline_inverse`):
    ``x`` of shape (m, k) and ``log |dx/dy|`` of shape (m,), summed over the columns.

    Examples
    --------
    >>> import torch
    >>> options = dict(tail_bound=3.0, min_bin_width=1e-3, min_bin_height=1e-3,
    ...                min_derivative=1e-3)
    >>> gen = torch.Generator().manual_seed(0)
    >>> x, hidden = torch.randn(5, 2, generator=gen), torch.randn(5, 4, generator=gen)
    >>> weight = 0.5 * torch.randn(2 * 23, 4, generator=gen)
    >>> y, lad = spline_layer_forward(x, hidden, weight, torch.zeros(2 * 23), **options)
    >>> back, back_lad = spline_layer_inverse(y, hidden, weight, torch.zeros(2 * 23),
    ...                                       **options)
    >>> torch.allclose(back, x, atol=1e-4), torch.allclose(back_lad, -lad, atol=1e-4)
    (True, True)
    """
    return _spline_layer(rq_spline_inverse, y, hidden, weight, bias, spline)


def _spline_layer(splines, x, hidden, weight, bias, spline):
    m, k = x.shape
    n_params = weight.shape[0] // k
    pad = -m % _BLOCK
    if pad:
        hidden = F.pad(hidden, (0, 0, 0, pad))
    # the weight's rows reordered parameter-major, so that the product comes out in the
    # splines' layout (n_params, k, m + pad) without a strided copy
    weight = weight.view(k, n_params, -1).transpose(0, 1).reshape(n_params * k, -1)
    bias = bias.view(k, n_params).T.reshape(-1, 1)
    params = torch.addmm(bias, weight, hidden.T).view(n_params, -1)
    columns = F.pad(x.T, (0, pad)).reshape(-1)
    y, logabsdet = splines(columns, params, **spline)
    return y.view(k, m + pad)[:, :m].T, logabsdet.view(k, m + pad)[:, :m].sum(0)
