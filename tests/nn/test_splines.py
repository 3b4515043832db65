"""The bins-first rational-quadratic splines against nflows' own, and where they differ."""

import pytest
import torch
from nflows.transforms.splines.rational_quadratic import (
    unconstrained_rational_quadratic_spline,
)

from minuet_sk.nn.splines import _knots, rq_spline_forward, rq_spline_inverse

OPTIONS = {"tail_bound": 3.0, "min_bin_width": 1e-3, "min_bin_height": 1e-3,
           "min_derivative": 1e-3}
K = 8


def nflows(inputs, params, inverse):
    """nflows' spline with the elements' parameters on the last axis."""
    return unconstrained_rational_quadratic_spline(
        inputs, params[:, :K], params[:, K : 2 * K], params[:, 2 * K :], inverse=inverse,
        tails="linear", tail_bound=OPTIONS["tail_bound"])


def random_case(n, dtype, seed=0, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    params = scale * torch.randn(n, 3 * K - 1, generator=gen, dtype=dtype)
    inputs = 2.5 * torch.randn(n, generator=gen, dtype=dtype)  # some in the linear tails
    return inputs, params


@pytest.mark.parametrize("ours, inverse", [(rq_spline_forward, False),
                                           (rq_spline_inverse, True)])
def test_the_splines_do_nflows_arithmetic(ours, inverse):
    inputs, params = random_case(5000, torch.float64)
    assert (inputs.abs() > 3).any()
    out, lad = ours(inputs, params.T.contiguous(), **OPTIONS)
    expected, expected_lad = nflows(inputs, params, inverse)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(lad, expected_lad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("ours, inverse", [(rq_spline_forward, False),
                                           (rq_spline_inverse, True)])
def test_in_float32_the_splines_are_as_close_to_float64_as_nflows(ours, inverse):
    # steep splines (parameters of scale 2) amplify rounding: nflows' own float32 results
    # are off by up to ~1e-5 there, and ours, summing the bins along another axis, by as much
    inputs, params = random_case(5000, torch.float32, seed=3, scale=2.0)
    exact = nflows(inputs.double(), params.double(), inverse)
    theirs = nflows(inputs, params, inverse)
    mine = ours(inputs, params.T.contiguous(), **OPTIONS)
    for m, t, e in zip(mine, theirs, exact, strict=True):
        assert (m.double() - e).abs().max() <= 2 * (t.double() - e).abs().max() + 1e-6


def test_the_inverse_undoes_the_forward_and_is_differentiable():
    inputs, params = random_case(500, torch.float64, seed=1)
    params.requires_grad_(True)
    y, lad = rq_spline_forward(inputs, params.T.contiguous(), **OPTIONS)
    back, back_lad = rq_spline_inverse(y, params.T.contiguous(), **OPTIONS)
    torch.testing.assert_close(back, inputs, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(back_lad, -lad, rtol=1e-8, atol=1e-8)
    back_lad.sum().backward()
    assert torch.isfinite(params.grad).all() and params.grad.abs().sum() > 0


def near_a_steep_bins_top(n, seed):
    """Values just below the top of a narrow, tall first bin whose end derivatives sit at
    the floor: there the discriminant is ~(bin height x derivative)^2, smaller than its
    float32 rounding."""
    params = torch.zeros(n, 3 * K - 1)
    params[:, 0], params[:, K], params[:, 2 * K :] = -4.0, 4.0, -20.0
    top = _knots(params[:, K : 2 * K].T.contiguous(), -3.0, 3.0, 1e-3)[1]
    return top - 1e-3 * torch.rand(n, generator=torch.Generator().manual_seed(seed)), params


def test_a_discriminant_that_rounding_makes_negative_fails_nothing():
    y, params = near_a_steep_bins_top(200_000, seed=0)
    with pytest.raises(AssertionError):  # nflows issue 87: the whole batch fails
        nflows(y, params, inverse=True)
    x, lad = rq_spline_inverse(y, params.T.contiguous(), **OPTIONS)
    assert torch.isfinite(x).all() and torch.isfinite(lad).all()
    # the roots are the float64 ones to float32 rounding of a steep bin
    exact, _ = nflows(y.double(), params.double(), inverse=True)
    torch.testing.assert_close(x.double(), exact, rtol=0, atol=1e-4)


def test_in_very_steep_bins_the_root_stays_in_its_bin():
    # parameters of scale 20 (the conditioners' output for features far outside the
    # training set): rounding pushes some of nflows' roots out of their bin, where the
    # derivative is negative and its log NaN; here the root is kept in [0, 1]
    inputs, params = random_case(200_000, torch.float32, seed=0, scale=20.0)
    inputs = inputs.clamp(-3.0, 3.0)
    _, theirs = nflows(inputs, params, inverse=True)
    assert not torch.isfinite(theirs).all()
    x, lad = rq_spline_inverse(inputs, params.T.contiguous(), **OPTIONS)
    assert torch.isfinite(x).all() and torch.isfinite(lad).all()
    assert (x.abs() <= 3.0 + 1e-5).all()  # inside the spline, to float32 rounding


def test_an_element_with_broken_parameters_is_nan_alone():
    y, params = random_case(64, torch.float32, seed=2)
    y = y.clamp(-2.9, 2.9)  # inside the spline, where the parameters are used
    params[5] = float("nan")
    x, lad = rq_spline_inverse(y, params.T.contiguous(), **OPTIONS)
    assert torch.isnan(x[5]) and torch.isnan(lad[5])
    others = torch.arange(64) != 5
    assert torch.isfinite(x[others]).all() and torch.isfinite(lad[others]).all()
