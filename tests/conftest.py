"""Fixtures and hooks only; the helpers test modules import are in ``_helpers.py``.

A test module that takes ``X`` or ``fitted`` says what they are with two module-level names:
``IMAGES``, the keyword arguments of ``make_blobs_images``, and ``ESTIMATOR``, the tiny
estimator ``fitted`` fits on ``X``. Each is made once per module and shared by its tests,
which leave them as they found them.
"""

import numpy as np
import pytest
import torch
from _helpers import make_blobs_images
from sklearn.base import clone


def pytest_configure(config):
    # One CPU thread (deterministic sums) before any fixture: pytest sets up a module-scoped
    # fixture, which may fit a model, before the function-scoped ones of its first test.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _data_cache(tmp_path_factory):
    """Simulated data sets are cached in a per-session folder, never the user's (for the
    module-scoped fixtures that simulate too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINUET_SK_DATA", str(tmp_path_factory.getbasetemp() / "data_cache"))
        yield


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same global seeds."""
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def X(request):
    """The test module's tiny galaxies: ``make_blobs_images(**IMAGES)``."""
    return make_blobs_images(**request.module.IMAGES)


@pytest.fixture(scope="module")
def fitted(request, X):
    """The test module's ``ESTIMATOR`` fitted on ``X``."""
    return clone(request.module.ESTIMATOR).fit(X)
