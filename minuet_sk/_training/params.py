"""The training parameters that every torch estimator shares (the image encoders and the
flow): their constraints, and the device they name."""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval

__all__ = ["TRAINING_CONSTRAINTS", "resolve_device"]


#: Constraints of the training parameters that every torch estimator shares (the image
#: encoders and the flow): one definition, so that they cannot disagree.
TRAINING_CONSTRAINTS = {
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="left")],
    "early_stopping": ["boolean"],
    "patience": [Interval(Integral, 1, None, closed="left")],
    "device": [str],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; other names are kept.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        import torch  # here, not at the top: PCA and the CLI import this module without it

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)
