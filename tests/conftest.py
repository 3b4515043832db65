"""Fixtures and hooks only; the helpers test modules import are in ``_helpers.py``."""

import numpy as np
import pytest
import torch
from _helpers import make_blobs_images


@pytest.fixture(autouse=True)
def _seed_and_threads():
    """Every test starts from the same global seeds, on one CPU thread (deterministic)."""
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _data_cache(tmp_path_factory, monkeypatch):
    """Simulated data sets are cached in a per-session folder, never the user's."""
    monkeypatch.setenv("MINUET_SK_DATA", str(tmp_path_factory.getbasetemp() / "data_cache"))


@pytest.fixture
def blob_images():
    return make_blobs_images()
