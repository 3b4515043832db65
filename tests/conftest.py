import numpy as np
import pytest
import torch


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


@pytest.fixture
def blob_images():
    return make_blobs_images()
