"""The targets ``y`` of FlowPropertyRegressor: their names, checks and standardisation."""

import warnings

import numpy as np
from sklearn.utils.validation import check_array, check_consistent_length


def target_names(y):
    """Column names of a DataFrame, the name of a Series, or None."""
    if hasattr(y, "columns"):
        return [str(c) for c in y.columns]
    if getattr(y, "name", None) is not None:
        return [str(y.name)]
    return None


def check_fit_targets(X, y, estimator_name):
    """``(X, y2d, single_output)`` with rows whose target holds NaN dropped (with a warning).

    ``y`` may be 1-D or 2-D; ``X`` must already be validated.
    """
    if y is None:
        raise ValueError(f"{estimator_name} requires y to be passed, but the target y is None.")
    y = check_array(
        y, ensure_2d=False, dtype=np.float64, ensure_all_finite="allow-nan", input_name="y"
    )
    check_consistent_length(X, y)
    if y.ndim > 2:
        raise ValueError(f"y must be 1-D or 2-D; got shape {y.shape}.")
    single_output = y.ndim == 1
    y = y.reshape(len(y), -1)
    keep = ~np.isnan(y).any(axis=1)
    if not keep.any():
        raise ValueError("Every row of y contains NaN; there is nothing to fit.")
    if not keep.all():
        warnings.warn(
            f"Dropped {int((~keep).sum())} of {len(y)} rows whose target contains NaN.",
            UserWarning,
            stacklevel=3,
        )
        X, y = X[keep], y[keep]
    return X, y, single_output


def check_scored_targets(y, n, names, n_outputs):
    """``y`` of shape ``(n, n_outputs)`` for scoring: DataFrame columns picked by ``names``."""
    if hasattr(y, "columns"):
        y = y[names]
    y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    y = y.reshape(len(y), -1)
    if y.shape != (n, n_outputs):
        raise ValueError(
            f"y has shape {y.shape}; expected ({n}, {n_outputs}) (or ({n},) for one target)."
        )
    return y


def mean_and_scale(a):
    """Column means and standard deviations (1 where a column is constant)."""
    mean = a.mean(axis=0)
    scale = a.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)
