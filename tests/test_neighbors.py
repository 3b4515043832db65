import numpy as np
import pytest

from minuet_sk.neighbors import latent_neighbors, precision_at_k


def test_self_is_left_out_even_with_twins():
    Z = np.array([[0.0, 0], [0, 0], [3, 3], [3.2, 3], [9, 9]])
    dist, idx = latent_neighbors(Z, k=2, standardize=False)
    assert idx.shape == (5, 2)
    assert all(i not in row for i, row in enumerate(idx))
    assert idx[0, 0] == 1 and idx[1, 0] == 0 and dist[0, 0] == 0


def test_query_search_and_standardisation():
    rng = np.random.default_rng(0)
    Z = np.c_[rng.normal(size=50), 1000 * rng.normal(size=50)]
    _, idx_raw = latent_neighbors(Z, Z[:1] + [5.0, 0.0], k=1, standardize=False)
    _, idx_std = latent_neighbors(Z, Z[:1] + [5.0, 0.0], k=1)
    assert idx_raw[0, 0] == 0  # the large latent hides the shift in the small one
    assert idx_std[0, 0] != 0  # once standardised, the 5-sigma shift counts


def test_precision_separates_informative_from_random_latents():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 200).astype(float)
    informative = labels[:, None] * 3 + rng.normal(size=(200, 2))
    random = rng.normal(size=(200, 2))
    assert precision_at_k(informative, labels)["all"] > 0.85
    assert precision_at_k(random, labels)["all"] == pytest.approx(0.5, abs=0.08)


def test_missing_labels_are_skipped():
    Z = np.arange(12.0).reshape(6, 2)
    labels = np.array([0, 0, 0, np.nan, 1, 1], dtype=float)
    p = precision_at_k(Z, labels, k=1, standardize=False)
    assert set(p.index) == {"0.0", "1.0", "all"}
    assert p["1.0"] == 1.0
