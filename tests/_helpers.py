"""Plain helpers the test modules import: tiny analytic galaxies and the tiny model settings.

Test modules write ``from _helpers import ...``. ``tests/`` and its subfolders (which mirror
the package) have no ``__init__.py``, so pytest's default ``prepend`` import mode puts
``tests/`` on ``sys.path`` when it imports ``tests/conftest.py``, before any test module, in
any folder (under ``pytest``, ``pytest tests/flow/test_x.py`` and ``pytest -n 2`` alike).
It imports each test module by its file name alone: no two may share one, in any folder.
``conftest.py`` keeps only fixtures and hooks: pytest imports it by itself, and a test
module should not import it.

The settings are keyword dictionaries without ``n_components`` and ``image_shape``, which
each test gives for its data; a test that needs other values says so with
``{**TINY_MINUET, "key": value}``.
"""

import json

import numpy as np

__all__ = [
    "MICRO_MINUET",
    "TINY_FLOW",
    "TINY_FLOW_SET",
    "TINY_MINUET",
    "TINY_MINUET_SET",
    "TINY_VAE",
    "Lazy",
    "make_blobs_images",
    "set_options",
]


def make_blobs_images(n=40, shape=(3, 8, 8), random_state=0):
    """Tiny analytic galaxies: elliptical Gaussians of random size/flux plus noise."""
    rng = np.random.default_rng(random_state)
    c, h, w = shape
    yy, xx = np.mgrid[:h, :w] - (np.array([h, w])[:, None, None] - 1) / 2
    sig = rng.uniform(0.8, 2.5, n)[:, None, None]
    q = rng.uniform(0.4, 1.0, n)[:, None, None]
    prof = np.exp(-0.5 * (xx**2 + (yy / q) ** 2) / sig**2)
    colours = rng.uniform(0.5, 2.0, (n, c))
    imgs = colours[:, :, None, None] * prof[:, None] + 0.01 * rng.standard_normal((n, c, h, w))
    return imgs.astype(np.float32)


def set_options(params, *names):
    """The CLI's ``--set key=value`` options for ``names`` of ``params`` (all when none).

    Values are written as JSON, which is how ``minuet fit --set`` reads them back.

    >>> set_options({"width": 16, "lr": 0.01, "channels": (4, 8)}, "width", "channels")
    ['--set', 'width=16', '--set', 'channels=[4, 8]']
    """
    options = []
    for name in names or params:
        options += ["--set", f"{name}={json.dumps(params[name])}"]
    return options


# MinuetEncoder with one 16-wide block each way on 4-pixel patches, 20 diffusion steps.
TINY_MINUET = {
    "patch_size": 4, "width": 16, "encoder_depth": 1, "decoder_depth": 1, "n_heads": 2,
    "diffusion_steps": 20, "sampling_steps": 4, "max_epochs": 1, "batch_size": 8,
    "random_state": 0,
}
# Smaller still (8 wide, 2-pixel patches, 10 diffusion steps), on the CPU: for the tests that
# fit one per case (sklearn's estimator checks, the bad-input matrix).
MICRO_MINUET = {
    "patch_size": 2, "width": 8, "n_heads": 2, "encoder_depth": 1, "decoder_depth": 1,
    "diffusion_steps": 10, "sampling_steps": 2, "max_epochs": 1, "device": "cpu",
    "random_state": 0,
}
# VAEEncoder with a single 4-channel convolution, one epoch on the CPU.
TINY_VAE = {"channels": (4,), "max_epochs": 1, "device": "cpu", "random_state": 0}
# FlowPropertyRegressor with two 8-wide spline transforms, two epochs, 20 draws.
TINY_FLOW = {"n_transforms": 2, "hidden_features": 8, "max_epochs": 2, "n_samples": 20,
             "random_state": 0}

# ``minuet fit`` options: the network of TINY_MINUET sampled in 2 steps (the CLI's own
# diffusion steps and batch size), and the flow and epochs of TINY_FLOW (the CLI's own draws).
TINY_MINUET_SET = set_options({**TINY_MINUET, "sampling_steps": 2}, "width", "encoder_depth",
                              "decoder_depth", "n_heads", "sampling_steps", "patch_size")
TINY_FLOW_SET = set_options(TINY_FLOW, "max_epochs", "n_transforms", "hidden_features")


class Lazy:
    """An out-of-core array that records how many images each read takes."""

    def __init__(self, data):
        self.data, self.shape, self.reads = data, data.shape, []

    def __getitem__(self, key):
        self.reads.append(len(range(*key.indices(self.shape[0]))))
        return self.data[key]
