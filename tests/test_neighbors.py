import numpy as np
import pandas as pd
import pytest

from minuet_sk.neighbors import (
    latent_neighbors,
    neighbor_agreement,
    orientation_shift,
    precision_at_k,
)


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


def test_neighbor_agreement_informative_random_and_missing():
    rng = np.random.default_rng(2)
    size = rng.normal(size=300)
    colour = rng.normal(size=300)
    Z = np.c_[size, 0.05 * rng.normal(size=300)]  # the latents know the size only
    props = pd.DataFrame({"size": size, "colour": colour})
    props.loc[:9, "size"] = np.nan  # unmeasured galaxies are left out, not propagated
    agreement = neighbor_agreement(Z, props)
    assert agreement["size"] > 0.9
    assert abs(agreement["colour"]) < 0.2
    with pytest.raises(ValueError, match="rows of properties"):
        neighbor_agreement(Z, props.iloc[:10])


class _CentreAndGradient:
    """A toy encoder: the centre pixel (orientation-free) and a left-right gradient."""

    def transform(self, X):
        X = np.asarray(X)
        half = X.shape[-1] // 2
        return np.c_[X[:, 0, half, half], X[:, 0, :, :half].sum((1, 2)) - X[:, 0, :, half:].sum((1, 2))]


def test_orientation_shift_zero_for_invariant_features_and_grows_with_gradients():
    rng = np.random.default_rng(3)
    X = rng.random((40, 1, 9, 9))
    symmetric = (X + X[..., ::-1] + X[..., ::-1, :] + X[..., ::-1, ::-1])  # mirror-symmetric
    symmetric = symmetric + np.rot90(symmetric, 1, axes=(2, 3))  # and 90-degree symmetric
    centre_only = _CentreAndGradient()
    assert orientation_shift(centre_only, symmetric)["mean"] == pytest.approx(0, abs=1e-9)
    shift = orientation_shift(centre_only, X)
    assert shift["flip_lr"] > 1 and shift["rot180"] > 1  # both turn the gradient around
    assert shift["mean"] == pytest.approx(np.mean([shift[m] for m in
                                                   ("rot90", "rot180", "flip_lr", "flip_ud")]))
    with pytest.raises(ValueError, match="square images"):
        orientation_shift(centre_only, X[:, :, :8])
