"""Latent traversals and correlation tables."""

import numpy as np
import pandas as pd
import pytest
from _helpers import TINY_VAE, make_blobs_images

from minuet_sk import EigengalaxyPCA, VAEEncoder
from minuet_sk.plotting import correlation_table, latent_traversal

SHAPE = (2, 8, 8)


@pytest.fixture(scope="module")
def X():
    return make_blobs_images(30, SHAPE, random_state=3)


@pytest.fixture(scope="module")
def vae(X):
    return VAEEncoder(2, image_shape=SHAPE, **TINY_VAE).fit(X)


class TestLatentTraversal:
    @pytest.mark.parametrize("ref", ["chw", "1chw", "flat", "1flat"])
    def test_shapes_for_every_reference_layout(self, vae, X, ref):
        x = {"chw": X[0], "1chw": X[:1], "flat": X[0].ravel(), "1flat": X[:1].reshape(1, -1)}
        images = latent_traversal(vae, x[ref], 0, np.linspace(-2, 2, 5))
        assert images.shape == (5, *SHAPE)

    def test_only_the_chosen_latent_moves(self, vae, X):
        values = [-1.0, 0.0, 1.0]
        images = latent_traversal(vae, X[0], 1, values)
        codes = vae.transform(X[:1])
        expected = np.repeat(codes, 3, axis=0)
        expected[:, 1] = values
        np.testing.assert_allclose(images.reshape(3, -1), vae.inverse_transform(expected))
        assert not np.allclose(images[0], images[2])

    def test_works_with_pca_and_pandas_output(self, X):
        pca = EigengalaxyPCA(n_components=3, image_shape=SHAPE).fit(X)
        pca.set_output(transform="pandas")
        assert latent_traversal(pca, X[0], 2, [0.0, 1.0]).shape == (2, *SHAPE)

    def test_errors(self, vae, X):
        with pytest.raises(ValueError, match="one image"):
            latent_traversal(vae, X[:2], 0, [0.0])
        with pytest.raises(ValueError, match="component"):
            latent_traversal(vae, X[0], 5, [0.0])


class TestCorrelationTable:
    def test_values_layout_and_nan_pairs(self):
        rng = np.random.default_rng(0)
        z = rng.normal(size=(200, 2))
        frame = pd.DataFrame({
            "mass": 2 * z[:, 0] + 0.01 * rng.normal(size=200),
            "noise": rng.normal(size=200),
            "name": ["g"] * 200,
            "spiral": z[:, 1] > 0,
        })
        frame.loc[:9, "mass"] = np.nan
        table = correlation_table(z, frame)
        assert table.shape == (2, 6)
        assert list(table.index) == ["latent0", "latent1"]
        assert set(table.columns.get_level_values("method")) == {"pearson", "spearman"}
        assert table.loc["latent0", ("pearson", "mass")] > 0.99
        assert abs(table.loc["latent1", ("spearman", "noise")]) < 0.2
        assert table.loc["latent1", ("pearson", "spiral")] > 0.7
        assert "name" not in table.columns.get_level_values("property")

    def test_dataframe_latents_keep_names(self, vae, X):
        z = vae.set_output(transform="pandas").transform(X)
        vae.set_output(transform="default")
        frame = pd.DataFrame({"flux": X.sum(axis=(1, 2, 3))}, index=np.arange(100, 130))
        table = correlation_table(z, frame)
        assert list(table.index) == ["vae0", "vae1"]
        assert np.isfinite(table.to_numpy()).all()

    def test_errors(self):
        with pytest.raises(ValueError, match="rows"):
            correlation_table(np.zeros((3, 2)), pd.DataFrame({"a": [1.0, 2.0]}))
        with pytest.raises(ValueError, match="numeric"):
            correlation_table(np.zeros((2, 2)), pd.DataFrame({"a": ["x", "y"]}))
