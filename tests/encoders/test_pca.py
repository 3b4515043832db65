import numpy as np
import pandas as pd
import pytest
from _helpers import make_blobs_images
from sklearn.decomposition import PCA

from minuet_sk import EigengalaxyPCA


@pytest.fixture
def images():
    return make_blobs_images(60, (3, 12, 12))


def test_matches_sklearn_pca_on_flattened_images(images):
    ours = EigengalaxyPCA(4, image_shape=(3, 12, 12)).fit(images)
    ref = PCA(4).fit(images.reshape(60, -1))
    np.testing.assert_allclose(
        np.abs(ours.transform(images)), np.abs(ref.transform(images.reshape(60, -1))),
        rtol=1e-3, atol=1e-4,
    )
    assert ours.eigengalaxies_.shape == (4, 3, 12, 12)
    assert ours.mean_image_.shape == (3, 12, 12)


def test_reconstruction_improves_with_components(images):
    errs = []
    for k in (1, 3, 8):
        pca = EigengalaxyPCA(k, image_shape=None).fit(images)
        recon = pca.inverse_transform(pca.transform(images))
        assert recon.shape == (60, 3 * 12 * 12)
        errs.append(np.mean((recon - images.reshape(60, -1)) ** 2))
    assert errs[0] > errs[1] > errs[2]


def test_score_samples_flags_outliers(images):
    pca = EigengalaxyPCA(5, image_shape=None).fit(images)
    odd = images[:5].copy()
    odd[:, :, :3, :3] += 3.0  # a bright artefact in a corner
    assert pca.score_samples(odd).max() < np.median(pca.score_samples(images))


def test_nan_pixels_are_imputed_not_fatal(images):
    X = images.copy()
    X[0, 1, 4, 4] = np.nan
    pca = EigengalaxyPCA(3, image_shape=None).fit(X)
    Z = pca.transform(X)
    assert np.isfinite(Z).all()
    clean = EigengalaxyPCA(3, image_shape=None).fit(images)
    # one missing pixel barely moves the projection of its galaxy
    np.testing.assert_allclose(np.abs(Z[0]), np.abs(clean.transform(images)[0]), atol=0.05)


def test_pandas_output_names(images):
    pca = EigengalaxyPCA(3, image_shape=None).set_output(transform="pandas").fit(images)
    assert list(pca.transform(images).columns) == ["pca0", "pca1", "pca2"]


def test_inverse_transform_checks_width(images):
    pca = EigengalaxyPCA(3, image_shape=None).fit(images)
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        pca.inverse_transform(np.zeros((2, 4)))


def test_save_load_round_trip_without_pickle(images, tmp_path):
    pca = EigengalaxyPCA(4, image_shape=(3, 12, 12), whiten=True).fit(images)
    folder = pca.save(tmp_path / "pca")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    back = EigengalaxyPCA.load(folder)
    np.testing.assert_array_equal(back.transform(images), pca.transform(images))
    np.testing.assert_array_equal(back.score_samples(images), pca.score_samples(images))
    assert back.get_params() == pca.get_params()


def test_feature_names_survive_save_and_load(images, tmp_path):
    frame = pd.DataFrame(images.reshape(len(images), -1)).add_prefix("pix")
    pca = EigengalaxyPCA(2, image_shape=None).fit(frame)
    back = EigengalaxyPCA.load(pca.save(tmp_path / "pca"))
    assert back.feature_names_in_.dtype == object
    np.testing.assert_array_equal(back.feature_names_in_, pca.feature_names_in_)


@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("svd_solver", ["full", "randomized"])
def test_score_samples_is_sklearns_ppca_likelihood_without_its_precision_matrix(
        whiten, svd_solver, monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 2, 6, 6)) * rng.uniform(0.5, 3, (1, 2, 6, 6))
    pca = EigengalaxyPCA(3, image_shape=(2, 6, 6), whiten=whiten, svd_solver=svd_solver,
                         random_state=0).fit(X)
    expected = pca.pca_.score_samples(X[:20].reshape(20, -1))
    monkeypatch.setattr(type(pca.pca_), "get_precision", None)  # never built
    # the components are float32: orthonormal to about 1e-7
    np.testing.assert_allclose(pca.score_samples(X[:20]), expected, rtol=1e-6)
    assert np.isclose(pca.score(X[:20]), expected.mean())
