"""FlowPropertyRegressor: calibrated posteriors of galaxy properties with a conditional
neural spline flow."""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from .._allocator import keep_freed_memory
from .._persistence import (
    SavedModelMixin,
    check_tensor_shapes,
    load_pretrained,
    take_pretrained,
)
from .._training.flow_loop import ROWS_PER_BATCH, train_flow
from .._training.params import TRAINING_CONSTRAINTS, resolve_device
from .._validation import iter_batches
from ..encoders._latent_features import LATENT_ID, latent_fingerprint
from ..nn.flows import build_spline_flow, flow_log_prob, flow_sample
from ._bounds import check_bounds, from_unbounded, log_abs_det, to_unbounded
from ._checkpoint import FlowCheckpoint
from ._posterior import PropertyPosterior

__all__ = ["FlowPropertyRegressor"]

_SEED_MAX = 2**31 - 1
DRAWS_PER_THREAD = 2**14  # per sampling batch (benchmarks/notes/flow_speed.md)


def _row_seed(row):
    """A 64-bit seed from the bytes of one feature row (same row, same draws), taken at
    float32 precision: latents are float32, and a row written to a CSV file and read back
    as float64 (``minuet predict``) must draw what the float32 row draws in Python."""
    row = np.asarray(row, dtype=np.float32).astype(np.float64)
    return int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest(), "little")


def _target_names(y):
    """Column names of a DataFrame, the name of a Series, or None."""
    if hasattr(y, "columns"):
        return [str(c) for c in y.columns]
    if getattr(y, "name", None) is not None:
        return [str(y.name)]
    return None


def _check_fit_targets(X, y, estimator_name):
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


def _check_scored_targets(y, n, names, n_outputs):
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


def _mean_and_scale(a):
    """Column means and standard deviations (1 where a column is constant)."""
    mean = a.mean(axis=0)
    scale = a.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)


class FlowPropertyRegressor(SavedModelMixin, RegressorMixin, BaseEstimator):
    """Posterior distributions of physical properties from features, with a spline flow.

    A conditional neural spline flow (Durkan et al. 2019) built with nflows models
    ``p(y | x)`` for ``k`` targets (e.g. redshift, log stellar mass, log SFR) given any 2-D
    features ``x`` (Minuet latents, PCA components, photometry): ``n_transforms``
    rational-quadratic spline transforms with linear tails (coupling transforms for
    several targets, autoregressive for one), a standard-normal base, every transform
    conditioned on an embedding of the standardised ``x`` computed once per galaxy. The
    default architecture was chosen by ``benchmarks/screen_flow_speed.py``: as calibrated
    and as sharp (CRPS) as the larger flow it replaced, for a fraction of the cost of a
    draw. ``x`` and ``y`` are standardised inside :meth:`fit` (splines live on
    ``[-tail_bound, tail_bound]``); every density this estimator returns is in the original
    units of ``y`` (the standardisation Jacobian included).

    Training maximises the likelihood with Adam, with learning-rate annealing and early
    stopping on a held-out validation split; a moving average of the weights is validated,
    and that of the best validation epoch is kept.

    Draws are reproducible per galaxy: the base noise of a galaxy is seeded by the fit's
    ``random_state`` and a hash of its feature row, so a galaxy's posterior does not depend
    on which other galaxies are in the batch (predictions are invariant to batching and
    order, to float32 rounding: matrix products over batches of other sizes may round the
    last bit differently), while different galaxies get independent draws.

    Parameters
    ----------
    n_transforms : int, default=4
        Number of spline transforms. With ``k >= 2`` targets use at least 2 (a coupling
        transform changes only half of the targets; inside one autoregressive transform the
        first target's parameters see no context).
    hidden_features : int, default=32
        Width of each transform's conditioner network.
    n_blocks : int, default=1
        Residual blocks per conditioner.
    flow_type : {"auto", "coupling", "autoregressive"}, default="auto"
        "coupling": rational-quadratic coupling transforms that alternately transform the
        even and the odd targets given the others (one conditioner pass per transform
        both ways, so training is as fast as sampling; needs ``k >= 2``).
        "autoregressive": masked autoregressive transforms (a MADE conditioner, feature
        reversals in between; a draw costs one pass per transform, a density ``k``).
        "auto": coupling for ``k >= 2`` targets, autoregressive for one.
    embedding_features : int or None, default=32
        Width of a context embedding (two linear layers, a ReLU between) of the
        standardised features, computed once per galaxy and shared by every transform's
        conditioner. None: the conditioners see the standardised features themselves.
    n_bins : int, default=8
        Spline bins per transform.
    tail_bound : float, default=3.0
        Half width, in standard deviations of the standardised targets, of the spline
        interval; beyond it the transforms are linear.
    max_epochs : int, default=200
        Maximum passes over the training data.
    batch_size : int, default=256
    lr : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=0.0
        Adam (L2) weight decay.
    validation_fraction : float in [0, 1), default=0.1
        Fraction of the training rows held out for early stopping (0: none held out, and
        training runs for ``max_epochs``).
    early_stopping : bool, default=True
        Monitor the loss on the validation split and keep the weights of the best epoch.
        When it has not improved for ``patience`` epochs the learning rate is divided by 5;
        the third time, training stops. False trains on every row for ``max_epochs``.
    patience : int, default=10
    target_bounds : dict, sequence of (low, high) or None, default=None
        The support of each target: ``{"redshift": (0, None)}`` (by name, as ``y``'s
        columns are named) or one ``(low, high)`` pair per target, None on an open side.
        A bounded target is modelled through an unbounded transform of it (``low +
        softplus(u)``, ``high - softplus(u)``, or a scaled sigmoid between two bounds), so
        that no draw falls outside its support, and every density includes the transform's
        exact Jacobian. Training targets on or beyond a bound are an error. None: every
        target unbounded.
    n_samples : int, default=1000
        Posterior draws per galaxy for :meth:`predict` and :meth:`predict_dist`.
    point_estimate : {"median", "mean", "mode"}, default="median"
        What :meth:`predict` returns, from the ``n_samples`` draws: the marginal median or
        mean of each target, or "mode": the draw with the highest flow density (a joint
        mode estimate, exact density, no kernel smoothing; its precision is limited by the
        number of draws).
    device : str, default="auto"
        Torch device; "auto" is "cuda" when available, else "cpu".
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the validation split, the mini-batch order and the draws.
        Fitting does not touch torch's or NumPy's global random state.
    checkpoint_dir : str, path-like or None, default=None
        Save the training state there after every epoch (``flow_checkpoint.pt``); a
        ``fit`` with the same data and parameters resumes from it (``max_epochs``,
        ``verbose`` and ``device`` may change), so a long fit can be stopped and continued.
    pretrained : str, path-like or None, default=None
        Shipped weights (``"sim-grz-72-v4-flow"``) or a folder written by :meth:`save`, that
        :meth:`fit` loads instead of training (``y`` is then not used). Build such a flow
        with :meth:`from_pretrained`, whose parameters are the weights'; ``clone``,
        ``cross_val_score`` and ``GridSearchCV`` then keep the weights.
    verbose : int, default=0
        Show a progress bar over the epochs, with the losses, when > 0.

    Attributes
    ----------
    flow_ : nflows.flows.base.Flow
        The trained flow, on standardised variables.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
    target_names_ : list of str
        Column names of ``y`` (``target0, ...`` when ``y`` had none).
    n_outputs_ : int
        Number of targets ``k``.
    flow_type_ : {"coupling", "autoregressive"}
        The transforms used (``flow_type`` with "auto" resolved).
    x_mean_, x_scale_ : ndarray of shape (n_features,)
    y_mean_, y_scale_ : ndarray of shape (n_targets,)
        Standardisation of features and targets.
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``valid_loss`` (mean negative log density
        per galaxy, in the original units of ``y``; ``valid_loss`` is None without a
        validation split) and ``dur`` (seconds).
    n_iter_ : int
        Epochs run.
    best_epoch_ : int
        Epoch whose weights were kept.
    device_ : str
        Device the flow lives on.
    features_id_ : str or None
        The ``latent_id_`` of the encoder whose latents the flow was trained on, when the
        features were a DataFrame of latents that carry it (``set_output(transform=
        "pandas")``, ``minuet encode`` files); latents of another encoder are then refused.

    See Also
    --------
    minuet_sk.PropertyPosterior : the result of :meth:`predict_dist`.
    minuet_sk.metrics : CRPS, PIT, coverage and photo-z metrics.

    References
    ----------
    C. Durkan, A. Bekasov, I. Murray & G. Papamakarios, "Neural Spline Flows",
    NeurIPS 2019, arXiv:1906.04032. G. Papamakarios, T. Pavlakou & I. Murray, "Masked
    Autoregressive Flow for Density Estimation", NeurIPS 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet_sk import FlowPropertyRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, (300, 2))
    >>> y = 2 * X[:, 0] + 0.1 * rng.standard_normal(300)
    >>> reg = FlowPropertyRegressor(n_transforms=1, hidden_features=8, max_epochs=20,
    ...                             lr=1e-2, n_samples=100, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape, reg.sample(X[:3], 10).shape
    ((3,), (3, 10, 1))
    >>> post = reg.predict_dist(X[:3])
    >>> post.samples.shape, post.log_prob(y[:3]).shape
    ((3, 100, 1), (3,))
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_transforms": [Interval(Integral, 1, None, closed="left")],
        "hidden_features": [Interval(Integral, 1, None, closed="left")],
        "n_blocks": [Interval(Integral, 0, None, closed="left")],
        "flow_type": [StrOptions({"auto", "autoregressive", "coupling"})],
        "embedding_features": [Interval(Integral, 1, None, closed="left"), None],
        "n_bins": [Interval(Integral, 2, None, closed="left")],
        "tail_bound": [Interval(Real, 0, None, closed="neither")],
        **TRAINING_CONSTRAINTS,
        "target_bounds": [dict, "array-like", None],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "point_estimate": [StrOptions({"median", "mean", "mode"})],
        "checkpoint_dir": [str, os.PathLike, None],
        "pretrained": [str, os.PathLike, None],
    }

    def __init__(
        self,
        *,
        n_transforms=4,
        hidden_features=32,
        n_blocks=1,
        flow_type="auto",
        embedding_features=32,
        n_bins=8,
        tail_bound=3.0,
        max_epochs=200,
        batch_size=256,
        lr=1e-3,
        weight_decay=0.0,
        validation_fraction=0.1,
        early_stopping=True,
        patience=10,
        target_bounds=None,
        n_samples=1000,
        point_estimate="median",
        device="auto",
        random_state=None,
        checkpoint_dir=None,
        pretrained=None,
        verbose=0,
    ):
        self.n_transforms = n_transforms
        self.hidden_features = hidden_features
        self.n_blocks = n_blocks
        self.flow_type = flow_type
        self.embedding_features = embedding_features
        self.n_bins = n_bins
        self.tail_bound = tail_bound
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.target_bounds = target_bounds
        self.n_samples = n_samples
        self.point_estimate = point_estimate
        self.device = device
        self.random_state = random_state
        self.checkpoint_dir = checkpoint_dir
        self.pretrained = pretrained
        self.verbose = verbose

    #: The parameters that say how a flow is used, not what it is: all that may differ from
    #: the weights ``pretrained`` names.
    _USAGE_PARAMS = frozenset({
        "n_samples", "point_estimate", "device", "random_state", "checkpoint_dir", "verbose",
        "max_epochs", "lr", "weight_decay", "batch_size", "validation_fraction",
        "early_stopping", "patience",
    })

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the flow to features ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features; NaN is an error.
        y : array-like or DataFrame of shape (n_samples,) or (n_samples, k)
            Targets. Rows with a NaN target are dropped with a warning. DataFrame column
            names become ``target_names_``.

        Returns
        -------
        self
        """
        if self.pretrained is not None:  # the weights, as they are
            take_pretrained(self, self._USAGE_PARAMS)
            self._validate_x(X)  # X must be what the weights take, as in predict
            return self
        names = _target_names(y)
        self.features_id_ = X.attrs.get(LATENT_ID) if isinstance(X, pd.DataFrame) else None
        X = validate_data(self, X, dtype=np.float64)
        X, y, self._single_output = _check_fit_targets(X, y, type(self).__name__)
        self.n_outputs_ = y.shape[1]
        self.target_names_ = names or [f"target{i}" for i in range(y.shape[1])]
        self.flow_type_ = self._resolved_flow_type()

        if self.n_outputs_ > 1 and self.n_transforms == 1:
            warnings.warn(
                "With several targets and n_transforms=1 the first target does not depend on "
                "X: nflows' MADE feeds the context only to hidden units that the first "
                "feature cannot see. Use n_transforms >= 2 (the reversals between "
                "transforms give every target the context)." if self.flow_type_ ==
                "autoregressive" else "With several targets and n_transforms=1 a coupling "
                "flow leaves the odd targets untransformed (standard normal, independent of "
                "X). Use n_transforms >= 2.",
                UserWarning,
                stacklevel=2,
            )
        rng = check_random_state(self.random_state)
        init_seed, split_seed, batch_seed, self._sample_seed = (
            int(s) for s in rng.randint(0, _SEED_MAX, size=4)
        )
        self.target_low_, self.target_high_ = check_bounds(self.target_bounds,
                                                           self.target_names_)
        y = to_unbounded(y, self.target_low_, self.target_high_)
        outside = np.isnan(y).any(axis=1)
        if outside.any():
            raise ValueError(
                f"{int(outside.sum())} training target row(s) lie on or outside target_bounds "
                f"(first: {np.flatnonzero(outside)[:5].tolist()}); a bounded target's density "
                "is 0 there."
            )
        bound_jacobian = log_abs_det(y, self.target_low_, self.target_high_)
        self.x_mean_, self.x_scale_ = _mean_and_scale(X)
        self.y_mean_, self.y_scale_ = _mean_and_scale(y)
        self.device_ = resolve_device(self.device)
        # Weight initialisation draws from torch's global RNG: fork it so fitting leaves the
        # caller's random state untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            self.flow_ = self._build_flow().to(self.device_)

        x_std = self._standardise_x(X)
        y_std = torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        n_valid = round(self.validation_fraction * len(X)) if self.early_stopping else 0
        if n_valid < 1 or n_valid >= len(X):
            n_valid = 0
        order = torch.randperm(len(X), generator=torch.Generator().manual_seed(split_seed))
        valid, train = order[:n_valid], order[n_valid:]
        self._train(
            (x_std[train], y_std[train]),
            (x_std[valid], y_std[valid]) if n_valid else None,
            torch.Generator().manual_seed(batch_seed),
            # the losses in y's units: the bounds' Jacobian, averaged over each split
            (float(bound_jacobian[train.numpy()].mean()),
             float(bound_jacobian[valid.numpy()].mean()) if n_valid else 0.0),
        )
        return self

    def _build_flow(self):
        return build_spline_flow(
            self.n_outputs_,
            self.n_features_in_,
            n_transforms=self.n_transforms,
            hidden_features=self.hidden_features,
            n_bins=self.n_bins,
            tail_bound=self.tail_bound,
            num_blocks=self.n_blocks,
            transform=self.flow_type_,
            embedding_features=self.embedding_features,
        )

    def _resolved_flow_type(self):
        if self.flow_type != "auto":
            return self.flow_type
        return "coupling" if self.n_outputs_ >= 2 else "autoregressive"

    def _train(self, train, valid, generator, bound_jacobians=(0.0, 0.0)):
        # losses are reported in the original units of y: add the log Jacobians
        scale = float(np.log(self.y_scale_).sum())
        checkpoint = (None if self.checkpoint_dir is None
                      else FlowCheckpoint(self, self.checkpoint_dir))
        self.history_, self.best_epoch_, self.n_iter_ = train_flow(
            self.flow_, train, valid, generator, device=self.device_, lr=self.lr,
            weight_decay=self.weight_decay, batch_size=self.batch_size,
            max_epochs=self.max_epochs, patience=self.patience,
            log_jacobian=scale + bound_jacobians[0],
            valid_log_jacobian=scale + bound_jacobians[1], verbose=self.verbose,
            state=None if checkpoint is None else checkpoint.load(),
            save=None if checkpoint is None else checkpoint.save,
        )

    # ------------------------------------------------------------------ helpers
    def _standardise_x(self, X):
        return torch.as_tensor((X - self.x_mean_) / self.x_scale_, dtype=torch.float32)

    def _validate_x(self, X):
        check_is_fitted(self)
        made_by = X.attrs.get(LATENT_ID) if isinstance(X, pd.DataFrame) else None
        trained_on = getattr(self, "features_id_", None)
        if made_by and trained_on and \
                latent_fingerprint(made_by) != latent_fingerprint(trained_on):
            raise ValueError(
                f"These latents were made by {made_by}, but this flow was trained on the "
                f"latents of {trained_on}: another encoder's latents mean other things, and "
                "its posteriors would be wrong. Encode with the flow's own encoder, or train "
                "a flow on these latents."
            )
        with warnings.catch_warnings():  # latents as plain arrays are the common case
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            return validate_data(self, X, dtype=np.float64, reset=False)

    # ------------------------------------------------------------------ public API
    def sample(self, X, n_samples=None, random_state=None):
        """Draw from the posterior of each galaxy.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        n_samples : int, optional
            Draws per galaxy; default ``self.n_samples``.
        random_state : int, RandomState instance or None
            None gives the estimator's own reproducible draws (the ones :meth:`predict` and
            :meth:`predict_dist` use); an int gives another reproducible set.

        Returns
        -------
        ndarray of shape (n, n_samples, k), float32
            Draws in the original units of ``y``.
        """
        return self._draw(self._validate_x(X), n_samples, random_state)

    def log_prob(self, X, y):
        """Exact log density ``log p(y | x)`` of each row, in the original units of ``y``.

        Computed by :func:`~minuet_sk.nn.flows.flow_log_prob` (nflows' density pass with
        splines that never fail a batch on rounding): -inf where ``y`` lies outside its
        bounds (``target_bounds``), NaN only for a row whose own terms are not finite,
        whatever the other rows of its batch.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        y : array-like of shape (n,) or (n, k)

        Returns
        -------
        ndarray of shape (n,)
        """
        X = self._validate_x(X)
        y = _check_scored_targets(y, len(X), self.target_names_, self.n_outputs_)
        return self._log_prob_validated(X, y)

    def predict_dist(self, X, n_samples=None):
        """Posterior of every galaxy as a :class:`~minuet_sk.PropertyPosterior`.

        Streams over galaxies in batches of about ``2**14 / n_samples`` per torch thread,
        so the only large allocation is the returned float32 array: 1,000 draws of 3
        targets for 10,000 galaxies take 120 MB (and about 9 s on two cores). On Linux, the
        first call sets glibc's malloc to keep the memory a batch frees for the next (see
        the user guide, "Cost"), unless ``MALLOC_MMAP_THRESHOLD_`` or
        ``MALLOC_TRIM_THRESHOLD_`` is set in the environment.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
            A DataFrame's index becomes the posterior's ``index`` (the galaxies'
            identifiers in its summaries, scores and files).
        n_samples : int, optional
            Draws per galaxy; default ``self.n_samples``.

        Returns
        -------
        PropertyPosterior
            Samples of shape (n, n_samples, k), ``names = target_names_``, ``index`` the
            index of a DataFrame ``X`` (else ``0 .. n-1``), and the exact flow density
            behind ``log_prob``.
        """
        index = X.index if isinstance(X, pd.DataFrame) else None
        X = self._validate_x(X)
        return PropertyPosterior(
            self._draw(X, n_samples),
            self.target_names_,
            index=index,
            log_prob_fn=functools.partial(self._log_prob_validated, X),
        )

    def predict(self, X):
        """Point estimate (``point_estimate``) from ``n_samples`` posterior draws.

        Parameters
        ----------
        X : array-like of shape (n, n_features)

        Returns
        -------
        ndarray of shape (n,) or (n, k)
            Shaped like the ``y`` given to :meth:`fit`.
        """
        X = self._validate_x(X)
        if self.point_estimate == "mode":
            samples, log_prob = self._draw(X, None, return_log_prob=True)
            best = log_prob.argmax(axis=1)
            estimate = samples[np.arange(len(X)), best].astype(np.float64)
        elif self.point_estimate == "mean":
            estimate = self._draw(X, None).mean(axis=1, dtype=np.float64)
        else:
            estimate = np.median(self._draw(X, None), axis=1).astype(np.float64)
        return estimate[:, 0] if self._single_output else estimate

    # ------------------------------------------------------------------ persistence
    # flows saved before these parameters existed had this architecture
    _SAVED_BEFORE: ClassVar[dict] = {"n_blocks": 2, "flow_type": "autoregressive",
                                     "embedding_features": None}
    _FITTED_CONFIG = (
        "n_features_in_",
        "target_names_",
        "n_outputs_",
        "history_",
        "n_iter_",
        "best_epoch_",
        "_single_output",
        "_sample_seed",
        "features_id_",
    )
    _FITTED_ARRAYS = ("x_mean_", "x_scale_", "y_mean_", "y_scale_", "target_low_",
                      "target_high_")

    def _saved_state(self):
        fitted = {name: getattr(self, name) for name in self._FITTED_CONFIG}
        state = {f"flow.{k}": v for k, v in self.flow_.state_dict().items()}
        state.update({name: torch.from_numpy(getattr(self, name)) for name in self._FITTED_ARRAYS})
        return fitted, state

    def _restore(self, fitted, state, device):
        for name in self._FITTED_CONFIG:
            # saved before features_id_ existed: which encoder is not known
            setattr(self, name, fitted.get(name) if name == "features_id_" else fitted[name])
        for name in self._FITTED_ARRAYS:
            setattr(self, name, state[name].numpy() if name in state else None)
        if self.target_low_ is None:  # saved before target_bounds: unbounded
            self.target_low_ = np.full(self.n_outputs_, -np.inf)
            self.target_high_ = np.full(self.n_outputs_, np.inf)
        self.n_features_in_, self.n_outputs_ = int(self.n_features_in_), int(self.n_outputs_)
        sizes = {"x_mean_": self.n_features_in_, "x_scale_": self.n_features_in_,
                 "y_mean_": self.n_outputs_, "y_scale_": self.n_outputs_,
                 "target_low_": self.n_outputs_, "target_high_": self.n_outputs_}
        wrong = [f"{k} holds {np.size(getattr(self, k))} values, not {n}"
                 for k, n in sizes.items() if np.shape(getattr(self, k)) != (n,)]
        if len(self.target_names_) != self.n_outputs_:
            wrong.append(f"{len(self.target_names_)} target names for {self.n_outputs_} targets")
        if wrong:
            raise ValueError("the fitted state is inconsistent: " + "; ".join(wrong))
        weights = {k[5:]: v for k, v in state.items() if k.startswith("flow.")}
        # nflows' transforms cannot be built on the meta device: bound the sizes first, so
        # that a damaged config cannot make the build below allocate without limit
        saved, needed = sum(v.numel() for v in weights.values()), self._parameter_floor()
        if needed > saved:
            raise ValueError(f"a flow of the config's sizes holds at least {needed:,} weights; "
                             f"the weights file holds {saved:,}")
        self.device_ = resolve_device(device or self.device)
        self.flow_type_ = self._resolved_flow_type()
        self.flow_ = self._build_flow()
        check_tensor_shapes({k: tuple(v.shape) for k, v in self.flow_.state_dict().items()},
                            weights)
        self.flow_.load_state_dict(weights)
        self.flow_.to(self.device_).eval()

    def _parameter_floor(self):
        """A lower bound on the weights of a flow of this estimator's sizes: each transform's
        conditioner maps its inputs (at least the context) through ``n_blocks`` pairs of
        hidden layers to at least ``3 n_bins - 1`` spline parameters, and the embedding maps
        the features to ``embedding_features`` twice. Every size enters it at least
        linearly, so an honest config never exceeds the weights it was saved with."""
        hidden = self.hidden_features
        context = self.embedding_features or self.n_features_in_
        per_transform = hidden * (context + 3 * self.n_bins - 1 + 2 * self.n_blocks * hidden)
        embedding = (self.embedding_features * (self.n_features_in_ + self.embedding_features)
                     if self.embedding_features else 0)
        return self.n_transforms * (per_transform + self.n_outputs_) + embedding

    @classmethod
    def from_pretrained(cls, name="sim-grz-72-v4-flow", *, device="auto"):
        """A trained flow: one shipped with the package, or a folder written by :meth:`save`.

        ``"sim-grz-72-v4-flow"`` (the default) gives posteriors of redshift, log stellar
        mass and log SFR from the five latents of the default shipped encoder,
        ``MinuetEncoder.from_pretrained("sim-grz-72-v4")``; ``"sim-grz-72-v3-flow"``,
        ``"sim-grz-72-v2-flow"`` and ``"sim-grz-72-flow"`` do the same for
        ``"sim-grz-72-v3"``'s, ``"sim-grz-72-v2"``'s and ``"sim-grz-72"``'s latents (use each
        flow with its own encoder). They were
        trained by ``scripts/train_pretrained_flow.py`` on **simulated** galaxies only (each
        folder's ``training.json`` records the data, settings, and calibration on other
        simulated galaxies): for real galaxies its posteriors are
        as good as the simulator's likeness to them. Check them on galaxies with known
        redshifts before relying on them.

        Its parameters are those the weights were trained with, and ``pretrained=name``:
        :meth:`fit` (of the flow or of a clone, as in ``cross_val_score``) loads the same
        weights instead of training; train afresh with
        ``set_params(pretrained=None).fit(X, y)``.

        Parameters
        ----------
        name : str or path-like, default="sim-grz-72-v4-flow"
            Shipped weights, or the path of a folder written by :meth:`save`.
        device : str or None, default="auto"
            ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``; None: as saved.

        Returns
        -------
        FlowPropertyRegressor
            Fitted, with ``feature_names_in_`` ``minuet0`` ... ``minuet4``.

        Examples
        --------
        >>> flow = FlowPropertyRegressor.from_pretrained(device="cpu")
        >>> list(flow.feature_names_in_), flow.target_names_
        (['minuet0', 'minuet1', 'minuet2', 'minuet3', 'minuet4'], ['redshift', 'log_mstar', 'log_sfr'])
        """
        return load_pretrained(name, cls, device=device)

    # ------------------------------------------------------------------ draws

    def _noise(self, X, n_samples, random_state):
        """Base noise (n, n_samples, k): seeded per galaxy by its feature row."""
        base = self._sample_seed
        if random_state is not None:
            base = [base, int(check_random_state(random_state).randint(0, _SEED_MAX))]
        base = list(np.atleast_1d(base))
        noise = np.empty((len(X), n_samples, self.n_outputs_), dtype=np.float32)
        for i, row in enumerate(X):
            rng = np.random.default_rng(base + [_row_seed(row)])
            noise[i] = rng.standard_normal((n_samples, self.n_outputs_), dtype=np.float32)
        return noise

    @torch.no_grad()
    def _draw(self, X, n_samples, random_state=None, return_log_prob=False):
        """Samples (n, s, k) in original units, float32; optionally their log densities."""
        n_samples = self.n_samples if n_samples is None else int(n_samples)
        if n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples}.")
        samples = np.empty((len(X), n_samples, self.n_outputs_), dtype=np.float32)
        log_prob = np.empty((len(X), n_samples), dtype=np.float32) if return_log_prob else None
        scale = torch.as_tensor(self.y_scale_, dtype=torch.float32, device=self.device_)
        mean = torch.as_tensor(self.y_mean_, dtype=torch.float32, device=self.device_)
        log_jacobian = float(np.log(self.y_scale_).sum())
        self.flow_.eval()
        # batches of 2**14 draws per thread: fewer, longer elementwise passes; their
        # tensors (up to ~6 MiB) come back from the heap when glibc keeps freed memory
        keep_freed_memory()
        draws_per_batch = DRAWS_PER_THREAD * max(1, torch.get_num_threads())
        for start, stop in iter_batches(X, max(1, draws_per_batch // n_samples)):
            context = self._standardise_x(X[start:stop]).to(self.device_)
            noise = torch.from_numpy(self._noise(X[start:stop], n_samples, random_state))
            out = flow_sample(
                self.flow_, context, noise.to(self.device_), return_log_prob=return_log_prob
            )
            draws = out[0] if return_log_prob else out
            u = (draws * scale + mean).cpu().numpy()
            samples[start:stop] = from_unbounded(u, self.target_low_, self.target_high_)
            if return_log_prob:
                log_prob[start:stop] = (out[1] - log_jacobian).cpu().numpy() - log_abs_det(
                    u, self.target_low_, self.target_high_)
        return (samples, log_prob) if return_log_prob else samples

    def _log_prob_validated(self, X, y):
        """Exact log density in y's units; -inf where ``y`` lies outside its support, NaN
        for a row whose terms are not finite."""
        u = to_unbounded(y, self.target_low_, self.target_high_)
        outside = np.isnan(u).any(axis=1)
        u[outside] = 0.0
        x_std = self._standardise_x(X)
        y_std = torch.as_tensor((u - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        out = np.empty(len(X), dtype=np.float64)
        self.flow_.eval()
        with torch.no_grad():
            for start, stop in iter_batches(X, ROWS_PER_BATCH):
                out[start:stop] = flow_log_prob(
                    self.flow_, y_std[start:stop].to(self.device_),
                    x_std[start:stop].to(self.device_)).cpu().numpy()
        out = out - np.log(self.y_scale_).sum() - log_abs_det(u, self.target_low_,
                                                             self.target_high_)
        out[outside] = -np.inf
        return out
