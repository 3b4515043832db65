"""Bounded targets of :class:`~minuet_sk.flow.FlowPropertyRegressor`: the flow models an
unbounded transform of each bounded target, and densities carry its exact Jacobian.

A target bounded below by ``low`` is modelled as ``u`` with ``y = low + softplus(u)``
(nearly ``y - low`` far from the bound, a log near it); bounded above by ``high``,
``y = high - softplus(u)``; bounded on both sides, ``y = low + (high - low) sigmoid(u)``.
Every draw then lies inside the support, and ``log p(y) = log p(u) - log |dy/du|``.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

__all__ = ["check_bounds", "from_unbounded", "log_abs_det", "to_unbounded"]


def check_bounds(target_bounds, names):
    """``(low, high)`` float arrays of shape ``(k,)`` (``-inf``/``inf`` where a side is
    open) from ``target_bounds``: None, a dict ``{name: (low, high)}`` or a sequence of
    ``(low, high)`` pairs, one per target; None on a side leaves it open.

    Examples
    --------
    >>> check_bounds({"redshift": (0, None)}, ["redshift", "log_mstar"])
    (array([  0., -inf]), array([inf, inf]))
    """
    k = len(names)
    low, high = np.full(k, -np.inf), np.full(k, np.inf)
    if target_bounds is None:
        return low, high
    if isinstance(target_bounds, dict):
        unknown = sorted(set(map(str, target_bounds)) - set(names))
        if unknown:
            raise ValueError(f"target_bounds names {unknown} are not targets; targets: {names}.")
        pairs = [target_bounds.get(name, (None, None)) for name in names]
    else:
        pairs = list(target_bounds)
        if len(pairs) != k:
            raise ValueError(f"target_bounds has {len(pairs)} pairs for {k} targets.")
    for j, pair in enumerate(pairs):
        pair = (None, None) if pair is None else tuple(pair)
        if len(pair) != 2 or not all(b is None or isinstance(b, Real) for b in pair):
            raise ValueError(f"target_bounds[{names[j]!r}] must be (low, high); got {pair!r}.")
        low[j] = -np.inf if pair[0] is None else float(pair[0])
        high[j] = np.inf if pair[1] is None else float(pair[1])
        if not low[j] < high[j]:
            raise ValueError(f"target_bounds[{names[j]!r}] = {pair!r}: low must be < high.")
    return low, high


def _bounded(low, high):
    """Whether any target has a bound (else every transform is the identity)."""
    return bool(np.isfinite(low).any() or np.isfinite(high).any())


def _softplus(u):
    return np.logaddexp(0.0, u)


def to_unbounded(y, low, high):
    """``u`` of shape ``(n, k)`` with ``from_unbounded(u) == y``; NaN where ``y`` lies on or
    outside a bound."""
    y = np.array(y, dtype=np.float64)  # a copy: callers may write into it
    if not _bounded(low, high):
        return y
    u = y
    inside = (y > low) & (y < high)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        below, above = np.isfinite(low), np.isfinite(high)
        d = np.where(below & ~above, y - low, np.where(above & ~below, high - y, 1.0))
        # inverse softplus, stable: d + log(1 - exp(-d))
        inverse = d + np.log(-np.expm1(-d))
        u = np.where(below & ~above, inverse, u)
        u = np.where(above & ~below, -inverse, u)
        p = (y - low) / (high - low)
        u = np.where(below & above, np.log(p) - np.log1p(-p), u)
    return np.where(inside, u, np.nan)


def from_unbounded(u, low, high):
    """``y`` inside ``(low, high)`` from unbounded ``u`` (either shape ``(..., k)``)."""
    if not _bounded(low, high):  # the draws of a flow without bounds, as they are
        return u
    y = np.array(u, dtype=np.float64)
    with np.errstate(over="ignore"):
        for j in np.flatnonzero(np.isfinite(low) | np.isfinite(high)):  # bounded targets only
            if np.isfinite(low[j]) and np.isfinite(high[j]):
                y[..., j] = low[j] + (high[j] - low[j]) / (1.0 + np.exp(-y[..., j]))
            elif np.isfinite(low[j]):
                y[..., j] = low[j] + _softplus(y[..., j])
            else:
                y[..., j] = high[j] - _softplus(-y[..., j])
    return y


def log_abs_det(u, low, high):
    """``log |dy/du|`` summed over the targets (last axis) of ``u``."""
    u = np.asarray(u, dtype=np.float64)
    if not _bounded(low, high):
        return np.zeros(u.shape[:-1])
    below, above = np.isfinite(low), np.isfinite(high)
    span = np.where(below & above, high - low, 1.0)
    log_sigmoid = -_softplus(-u)  # log sigmoid(u)
    out = np.where(below & ~above, log_sigmoid, 0.0)
    out = np.where(above & ~below, -_softplus(u), out)  # log sigmoid(-u)
    out = np.where(below & above, np.log(span) + log_sigmoid - _softplus(u), out)
    return out.sum(axis=-1)
