"""Saving fitted estimators without pickle: tensors as safetensors, the rest as JSON.

A saved estimator is a directory with ``model.safetensors`` (named tensors, e.g. a torch
module's ``state_dict``) and ``config.json`` (everything else: class name, ``get_params()``,
fitted non-tensor state, package version). Each file is written to a temporary name and
moved into place with ``os.replace``, so a crash never leaves a half-written file; the
config is written last and so marks a complete save.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import os
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "SavedModelMixin",
    "atomic_write_bytes",
    "check_resumable",
    "check_saved_class",
    "check_tensor_shapes",
    "estimator_config",
    "estimator_from_params",
    "json_params",
    "load_estimator",
    "load_pretrained",
    "load_state",
    "module_shapes",
    "pretrained_folder",
    "save_state",
    "saved_class",
    "shipped_models",
    "take_pretrained",
    "to_jsonable",
]

CONFIG_NAME = "config.json"
TENSORS_NAME = "model.safetensors"


def to_jsonable(value):
    """Convert NumPy scalars/arrays, tuples and paths to plain JSON types (recursively).

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": np.float32(1.5), "b": (1, 2), "c": np.arange(2)})
    {'a': 1.5, 'b': [1, 2], 'c': [0, 1]}
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"Cannot store a value of type {type(value).__name__} in a JSON config.")


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> atomic_write_bytes(os.path.join(d, "x.txt"), b"hi")
    >>> open(os.path.join(d, "x.txt"), "rb").read()
    b'hi'
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_state(path, config, tensors):
    """Save a JSON config and named tensors into the directory ``path``.

    Parameters
    ----------
    path : str or path-like
        Directory (created if needed).
    config : dict
        JSON-serialisable after :func:`to_jsonable` (NumPy values and tuples are converted).
    tensors : dict of str to torch.Tensor
        Saved with safetensors (contiguous CPU copies are made).

    Examples
    --------
    >>> import tempfile, torch
    >>> d = tempfile.mkdtemp()
    >>> save_state(d, {"name": "x"}, {"w": torch.ones(2)})
    >>> config, tensors = load_state(d)
    >>> config["name"], tensors["w"].tolist()
    ('x', [1.0, 1.0])
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    tmp = path / (TENSORS_NAME + ".tmp")
    save_file(cpu, str(tmp))
    os.replace(tmp, path / TENSORS_NAME)
    text = json.dumps(to_jsonable(config), indent=2, sort_keys=True)
    atomic_write_bytes(path / CONFIG_NAME, text.encode("utf-8"))


def _read_config(path):
    """The checked ``config.json`` of a saved model: a JSON object with the class name, the
    parameters and the fitted state; a model saved by a newer version warns."""
    config_path = Path(path) / CONFIG_NAME
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{path} is not a saved minuet_sk model (no {CONFIG_NAME}); pass a folder "
            "written by save()."
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_path} is not valid JSON ({error}): the file is damaged; "
                         "save the model again.") from error
    if not isinstance(config, dict):  # a damaged file: its content is the bad value
        raise ValueError(  # noqa: TRY004
            f"{config_path} holds a JSON {type(config).__name__}, not an object: it is not a "
            "minuet_sk config; save the model again.")
    _warn_if_newer(config.get("version"), config_path)
    return config


def _check_model_config(config, path):
    """Refuse a config without the class name, parameters and fitted state of a model."""
    expected = {"class": str, "params": dict, "fitted": dict}
    wrong = [k for k, kind in expected.items() if not isinstance(config.get(k), kind)]
    if wrong:
        raise ValueError(
            f"{Path(path) / CONFIG_NAME} is not a saved model's config: {wrong} missing or "
            "of the wrong type ('class' a string, 'params' and 'fitted' objects); save the "
            "model again."
        )


def _release(version):
    """The leading numbers of a version string (``"0.2.0.dev0"`` -> ``(0, 2, 0)``)."""
    numbers = []
    for part in str(version).split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def _warn_if_newer(version, config_path):
    from minuet_sk._version import __version__

    if version is not None and _release(version) > _release(__version__):
        warnings.warn(
            f"{config_path} was saved by minuet_sk {version}, newer than this {__version__}: "
            "it may hold what this version does not understand; upgrade minuet_sk.",
            UserWarning, stacklevel=4,
        )


def load_state(path, device="cpu"):
    """Load what :func:`save_state` wrote: ``(config, tensors)``.

    Parameters
    ----------
    path : str or path-like
        Directory written by :func:`save_state`.
    device : str
        Device the tensors are loaded to.

    Returns
    -------
    config : dict
    tensors : dict of str to torch.Tensor

    Examples
    --------
    >>> import tempfile, torch
    >>> d = tempfile.mkdtemp()
    >>> save_state(d, {}, {"b": torch.zeros(1)})
    >>> sorted(load_state(d)[1])
    ['b']
    """
    config = _read_config(path)
    tensors_path = Path(path) / TENSORS_NAME
    if not tensors_path.is_file():
        raise FileNotFoundError(f"{path} holds {CONFIG_NAME} but not {TENSORS_NAME}, the "
                                "model's weights; copy the whole folder.")
    try:  # safetensors checks the header against the file's size before it allocates
        tensors = load_file(str(tensors_path), device=str(torch.device(device)))
    except Exception as error:  # SafetensorError (not exported as a class), OSError
        raise OSError(f"{tensors_path} is not a readable safetensors file (cut short, "
                      f"overwritten or damaged: {error}); copy or save the model "
                      "again.") from error
    return config, tensors


def check_tensor_shapes(expected, tensors, what="the weights"):
    """Refuse ``tensors`` (name -> tensor) whose names or shapes differ from ``expected``
    (name -> shape): what a model of the config's sizes holds.

    Examples
    --------
    >>> import torch
    >>> check_tensor_shapes({"w": (2, 3)}, {"w": torch.zeros(2, 3)})
    >>> check_tensor_shapes({"w": (2, 3)}, {"w": torch.zeros(3, 3)})
    Traceback (most recent call last):
    ...
    ValueError: the weights do not match the sizes of the config: w has shape (3, 3), the config's (2, 3)
    """
    saved = {k: tuple(v.shape) for k, v in tensors.items()}
    expected = {k: tuple(v) for k, v in expected.items()}
    problems = [f"{k} is missing" for k in sorted(set(expected) - set(saved))]
    problems += [f"{k} is not part of such a model" for k in sorted(set(saved) - set(expected))]
    problems += [f"{k} has shape {saved[k]}, the config's {expected[k]}"
                 for k in sorted(set(saved) & set(expected)) if saved[k] != expected[k]]
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise ValueError(f"{what} do not match the sizes of the config: {shown}")


def module_shapes(build):
    """The state's names and shapes of the module ``build()`` makes, built on PyTorch's
    ``meta`` device: no memory is allocated, whatever sizes a config asks for."""
    with torch.device("meta"):
        module = build()
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def json_params(estimator):
    """``get_params(deep=False)`` in JSON types; a RandomState instance becomes None (it
    cannot be stored, and an int or None seed is what reproduces a fit), and so does an
    ``accelerator`` (a live ``accelerate.Accelerator``: a saved model loads without it).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> json_params(PCA(random_state=np.random.RandomState(0)))["random_state"] is None
    True
    """
    params = estimator.get_params(deep=False)
    if not (params.get("random_state") is None or isinstance(params["random_state"], Integral)):
        params["random_state"] = None
    if "accelerator" in params:
        params["accelerator"] = None
    for key, value in params.items():
        if isinstance(value, BaseEstimator):  # a nested estimator, e.g. a model's stretch
            params[key] = {_NESTED_KEY: type(value).__name__, "params": json_params(value)}
    return to_jsonable(params)


_NESTED_KEY = "__estimator__"

#: The classes a saved config may name, and their modules: a config names no other code.
SAVED_CLASSES = {
    "AsinhStretch": "minuet_sk.preprocessing",
    "EigengalaxyPCA": "minuet_sk.encoders",
    "FlowPropertyRegressor": "minuet_sk.flow",
    "MinuetEncoder": "minuet_sk.encoders",
    "VAEEncoder": "minuet_sk.encoders",
}


def saved_class(name, path="a saved config"):
    """The class that a saved config names, from :data:`SAVED_CLASSES` only.

    Examples
    --------
    >>> saved_class("EigengalaxyPCA").__name__
    'EigengalaxyPCA'
    """
    if name not in SAVED_CLASSES:
        raise ValueError(f"{path} names the class {name!r}, which minuet_sk does not load "
                         f"(it loads {sorted(SAVED_CLASSES)}).")
    return getattr(importlib.import_module(SAVED_CLASSES[name]), name)


def _nested_estimator(spec):
    """The estimator that :func:`json_params` stored as ``{"__estimator__": name, ...}``."""
    return estimator_from_params(saved_class(spec[_NESTED_KEY]), spec["params"])


def check_resumable(path, mine, saved, resumable):
    """Refuse to resume the checkpoint at ``path`` when a parameter other than those in
    ``resumable`` differs between ``mine`` and ``saved`` (JSON parameter dicts).

    Examples
    --------
    >>> check_resumable("ckpt", {"lr": 0.1, "max_epochs": 9}, {"lr": 0.1, "max_epochs": 3},
    ...                 {"max_epochs"})
    """
    changed = sorted(k for k in mine if k not in resumable and mine[k] != saved.get(k))
    if changed:
        raise ValueError(
            f"{path} holds a fit with other values of {changed}; use another checkpoint_dir "
            "or delete it to start afresh."
        )


def estimator_config(estimator, fitted):
    """The ``config.json`` of a saved estimator: class, package version, parameters, and its
    fitted non-tensor state ``fitted`` (plus ``feature_names_in_`` when the estimator has
    it; :func:`restore_feature_names` reads it back).

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> sorted(estimator_config(PCA(), {"n_samples_": 3}))
    ['class', 'fitted', 'params', 'version']
    """
    from minuet_sk._version import __version__

    if hasattr(estimator, "feature_names_in_"):
        fitted = {**fitted, "feature_names_in_": list(estimator.feature_names_in_)}
    return {"class": type(estimator).__name__, "version": __version__,
            "params": json_params(estimator), "fitted": to_jsonable(fitted)}


def restore_feature_names(estimator, fitted):
    """Set ``feature_names_in_`` (an object array, as scikit-learn keeps it) from the
    ``fitted`` part of a config written by :func:`estimator_config`, when it is there.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> pca = PCA()
    >>> restore_feature_names(pca, {"feature_names_in_": ["a", "b"]})
    >>> pca.feature_names_in_.dtype
    dtype('O')
    """
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)


def shipped_models():
    """Names of the models shipped inside the package (``minuet_sk/pretrained``).

    Examples
    --------
    >>> "sim-grz-72" in shipped_models()
    True
    """
    return sorted(p.name for p in pretrained_folder().iterdir() if p.is_dir())


def pretrained_folder():
    from importlib import resources

    return resources.files("minuet_sk") / "pretrained"


def load_pretrained(name, cls=None, **load_kwargs):
    """Shipped weights by name, or a folder written by ``save``, loaded by ``cls.load``
    (None: whatever class the folder holds), with ``pretrained = name`` (so that ``fit``,
    and the ``fit`` of a clone, load the same weights) and ``pretrained_ = name``."""
    from importlib import resources

    load = load_estimator if cls is None else cls.load
    available = shipped_models()
    if str(name) in available:
        with resources.as_file(pretrained_folder() / str(name)) as path:
            model = load(path, **load_kwargs)
    elif Path(name).is_dir():
        model = load(name, **load_kwargs)
    else:
        loader = "load_estimator" if cls is None else f"{cls.__name__}.load"
        raise ValueError(
            f"{name!r} is neither shipped weights (available: {available}) nor a folder "
            f"written by save(); {loader}(path) reads such a folder."
        )
    if "pretrained" in model.get_params(deep=False):
        model.set_params(pretrained=str(name))
    model.pretrained_ = str(name)
    return model


def check_saved_class(config, cls, path):
    """Refuse a folder that holds another class than ``cls``.

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> check_saved_class({"class": "PCA"}, PCA, "model/")
    """
    name = config.get("class")
    if name != cls.__name__:
        raise ValueError(
            f"{path} holds a {name}, not a {cls.__name__}; load it with {name}.load()."
        )


def estimator_from_params(cls, params):
    """``cls(**params)`` from a saved config, with the tuples JSON turned into lists restored
    (parameters whose default is a tuple, e.g. ``image_shape``).

    Examples
    --------
    >>> from minuet_sk import EigengalaxyPCA
    >>> estimator_from_params(EigengalaxyPCA, {"image_shape": [3, 8, 8]}).image_shape
    (3, 8, 8)
    """
    defaults = inspect.signature(cls.__init__).parameters
    # a parameter added after a model was saved takes the value that reproduces the model
    # as saved (``_SAVED_BEFORE``), which is not always today's default
    params = {**getattr(cls, "_SAVED_BEFORE", {}), **params}
    # an option removed since (``_REMOVED_PARAMS``: name -> the only value today's code
    # reproduces, ``...`` for any) is dropped when the model used that value, else refused
    removed = getattr(cls, "_REMOVED_PARAMS", {})
    for key in [k for k in params if k not in defaults]:
        value = params.pop(key)
        if key not in removed:
            raise ValueError(
                f"The saved {cls.__name__} has a parameter {key!r} that this version of "
                "minuet_sk does not know (saved by a newer version?); upgrade minuet_sk."
            )
        if removed[key] is not ... and value != removed[key]:
            raise ValueError(
                f"The saved {cls.__name__} was made with {key}={value!r}, an option removed "
                f"from minuet_sk (only {key}={removed[key]!r} is supported now); load it "
                "with the version that saved it."
            )
    for key, value in params.items():
        if isinstance(value, list) and isinstance(defaults[key].default, tuple):
            params[key] = tuple(value)
        elif isinstance(value, dict) and _NESTED_KEY in value:
            params[key] = _nested_estimator(value)
    estimator = cls(**params)
    if hasattr(estimator, "_validate_params"):  # types and ranges, before anything is built
        estimator._validate_params()
    return estimator


def load_estimator(path, *, device=None):
    """Load any estimator saved by ``save``: the class is read from its ``config.json``.

    Parameters
    ----------
    path : str or path-like
        Directory written by ``MinuetEncoder.save``, ``VAEEncoder.save``,
        ``EigengalaxyPCA.save`` or ``FlowPropertyRegressor.save``.
    device : str or None
        Overrides the saved ``device`` of torch estimators.

    Returns
    -------
    estimator

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from minuet_sk import EigengalaxyPCA
    >>> pca = EigengalaxyPCA(2, image_shape=None).fit(np.random.rand(20, 6))
    >>> type(load_estimator(pca.save(tempfile.mkdtemp()))).__name__
    'EigengalaxyPCA'
    """
    cls = saved_class(_read_config(path).get("class"), path)
    return cls.load(path, device=device)


def take_pretrained(estimator, usage):
    """Give ``estimator`` the fitted state of the weights its ``pretrained`` parameter names
    (shipped weights or a folder written by ``save``): what ``fit`` does with that parameter,
    so that ``clone``, ``cross_val_score`` and ``GridSearchCV`` keep the weights.

    The weights fix the model: every parameter of ``estimator`` other than those in
    ``usage`` (how the model is used or fine-tuned: device, batch size, sampling steps,
    learning rate...) must equal the one it was trained with, or this refuses.
    ``from_pretrained`` builds an estimator whose parameters are the weights' own.
    """
    name = estimator.pretrained
    cls = type(estimator)
    loaded = load_pretrained(name, cls, device=estimator.get_params().get("device"))
    mine, theirs = json_params(estimator), json_params(loaded)
    differ = sorted(k for k in theirs
                    if k not in usage and k != "pretrained" and mine.get(k) != theirs[k])
    if differ:
        shown = "; ".join(f"{k}={theirs[k]!r} (here {mine.get(k)!r})" for k in differ[:6])
        raise ValueError(
            f"The pretrained weights {str(name)!r} were trained with {shown}"
            f"{'; ...' if len(differ) > 6 else ''}: they fix those parameters. Start from "
            f"{cls.__name__}.from_pretrained({str(name)!r}), whose parameters are the "
            f"weights', and change only {sorted(usage)}."
        )
    params = set(estimator.get_params(deep=False))
    for key, value in vars(loaded).items():
        if key not in params:  # the fitted state, not the parameters
            setattr(estimator, key, value)
    return estimator


class SavedModelMixin:
    """``save`` and ``load`` for every estimator of the package: safetensors + JSON, no pickle.

    The protocol's two hooks, which a host class implements: :meth:`_saved_state` and
    :meth:`_restore`. ``feature_names_in_`` travels on its own.
    """

    def _saved_state(self):
        """The fitted state as ``(fitted, tensors)``: a JSON-able dict and a dict of named
        tensors."""
        raise NotImplementedError

    def _restore(self, fitted, tensors, device):
        """Set the state that :meth:`_saved_state` returned back on an estimator built from
        the saved parameters, on ``device`` (None: the saved one)."""
        raise NotImplementedError

    def save(self, path):
        """Save the fitted estimator to the folder ``path``: ``model.safetensors`` (its
        tensors) and ``config.json`` (class, parameters, fitted state, package version).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> import tempfile, numpy as np
        >>> from minuet_sk import EigengalaxyPCA
        >>> X = np.random.default_rng(0).normal(size=(20, 6))
        >>> pca = EigengalaxyPCA(2, image_shape=None).fit(X)
        >>> back = EigengalaxyPCA.load(pca.save(tempfile.mkdtemp()))
        >>> bool(np.allclose(back.transform(X), pca.transform(X)))
        True
        """
        check_is_fitted(self)
        fitted, tensors = self._saved_state()
        save_state(path, estimator_config(self, fitted), tensors)
        return Path(path)

    @classmethod
    def load(cls, path, *, device=None):
        """Rebuild a fitted estimator written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            Folder written by :meth:`save`.
        device : str or None
            Where a torch estimator runs (overrides its saved ``device``, e.g. ``"cpu"``);
            None keeps the saved one. PCA runs on the CPU and ignores it.

        Returns
        -------
        estimator
        """
        config, tensors = load_state(path)
        _check_model_config(config, path)
        check_saved_class(config, cls, path)
        try:
            est = estimator_from_params(cls, config["params"])
            restore_feature_names(est, config["fitted"])
            est._restore(config["fitted"], tensors, device)
        except KeyError as error:
            raise ValueError(f"{Path(path) / CONFIG_NAME} lacks the fitted value "
                             f"{error.args[0]!r}: the file is damaged or was edited; save "
                             "the model again.") from error
        except (TypeError, ValueError) as error:
            raise ValueError(f"{Path(path) / CONFIG_NAME}: {error}") from error
        return est
