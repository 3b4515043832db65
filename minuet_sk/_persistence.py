"""Pickle-free persistence of torch-backed estimators: safetensors weights + a JSON config.

A saved estimator is a folder holding ``config.json`` (class name, package version,
constructor parameters, small fitted attributes) and ``weights.safetensors`` (every tensor:
module weights and fitted arrays). Loading never executes code from the files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

__all__ = ["load_torch_state", "save_torch_estimator", "to_jsonable"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.safetensors"


def to_jsonable(value):
    """Turn tuples, NumPy scalars and arrays into JSON types (lists, floats, ints).

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": (1, np.float32(2.5)), "b": np.arange(2)})
    {'a': [1, 2.5], 'b': [0, 1]}
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_torch_estimator(path, config, state_dict):
    """Write ``config`` (JSON-able dict) and ``state_dict`` (name -> tensor) to folder ``path``.

    Parameters
    ----------
    path : str or path-like
        Folder to create (or overwrite files in).
    config : dict
        Anything JSON can hold after :func:`to_jsonable`.
    state_dict : dict of str to torch.Tensor or ndarray
        Tensors are saved contiguous, on the CPU.

    Returns
    -------
    pathlib.Path
        The folder.

    Examples
    --------
    >>> import tempfile, torch
    >>> folder = tempfile.mkdtemp()
    >>> _ = save_torch_estimator(folder, {"a": 1}, {"w": torch.ones(2)})
    >>> config, state = load_torch_state(folder)
    >>> config["a"], state["w"].tolist()
    (1, [1.0, 1.0])
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: torch.as_tensor(value).detach().cpu().contiguous()
        for name, value in state_dict.items()
    }
    save_file(tensors, str(path / WEIGHTS_NAME))
    (path / CONFIG_NAME).write_text(json.dumps(to_jsonable(config), indent=2))
    return path


def load_torch_state(path):
    """Read what :func:`save_torch_estimator` wrote: ``(config, state_dict)`` (CPU tensors).

    Examples
    --------
    >>> import tempfile, torch
    >>> folder = save_torch_estimator(tempfile.mkdtemp(), {}, {"b": torch.zeros(1)})
    >>> sorted(load_torch_state(folder)[1])
    ['b']
    """
    path = Path(path)
    if not (path / CONFIG_NAME).is_file() or not (path / WEIGHTS_NAME).is_file():
        raise FileNotFoundError(
            f"{path} is not a saved minuet_sk model: expected {CONFIG_NAME} and "
            f"{WEIGHTS_NAME} in that folder."
        )
    config = json.loads((path / CONFIG_NAME).read_text())
    return config, load_file(str(path / WEIGHTS_NAME))
