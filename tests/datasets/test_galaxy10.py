"""Galaxy10 DECaLS reader, tested on a tiny HDF5 file written in the Galaxy10 layout."""

import pickle

import h5py
import numpy as np
import pytest

from minuet_sk._validation import check_image_batch, iter_batches
from minuet_sk.datasets import load_galaxy10_decals
from minuet_sk.datasets.galaxy10 import GALAXY10_CLASSES, Galaxy10Images

N, SIDE = 9, 40


def rgb_images(n=N, side=SIDE, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)


def expected(images, size):
    """The reader's contract written out: central crop, channels R,G,B -> g,r,z (B,G,R)."""
    start = (images.shape[1] - size) // 2
    crop = images[:, start : start + size, start : start + size, :]
    return np.moveaxis(crop[..., ::-1], -1, 1).astype(np.float32)


@pytest.fixture
def g10_file(tmp_path):
    path = tmp_path / "Galaxy10_DECals.h5"
    redshift = np.linspace(0.01, 0.2, N)
    redshift[[2, 5]] = np.nan
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=rgb_images(), chunks=(1, SIDE, SIDE, 3),
                         compression="gzip")
        f.create_dataset("ans", data=np.arange(N, dtype=np.uint8) % 10)
        f.create_dataset("ra", data=np.linspace(100, 200, N))
        f.create_dataset("dec", data=np.linspace(-10, 10, N))
        f.create_dataset("redshift", data=redshift.astype(np.float32))
        f.create_dataset("pxscale", data=np.full(N, 0.262))
    return path


class TestLoadGalaxy10:
    def test_bunch(self, g10_file):
        g10 = load_galaxy10_decals(g10_file, image_size=16)
        assert isinstance(g10.images, Galaxy10Images)
        assert g10.images.shape == (N, 3, 16, 16) and g10.images.dtype == np.float32
        assert len(g10.images) == N and g10.images.ndim == 4
        np.testing.assert_array_equal(g10.target, np.arange(N) % 10)
        assert g10.target.dtype == np.int64
        assert g10.target_names == GALAXY10_CLASSES and len(GALAXY10_CLASSES) == 10
        assert g10.target_names[g10.target[5]] == "Barred Spiral"
        np.testing.assert_allclose(g10.ra, np.linspace(100, 200, N))
        assert np.isnan(g10.redshift[[2, 5]]).all() and np.isfinite(g10.redshift).sum() == N - 2
        assert g10.bands == "grz" and g10.pxscale[0] == pytest.approx(0.262)

    def test_values_are_the_8bit_crop_in_grz_order(self, g10_file):
        X = load_galaxy10_decals(g10_file, image_size=16).images
        truth = expected(rgb_images(), 16)
        np.testing.assert_array_equal(np.asarray(X), truth)
        assert np.asarray(X).max() <= 255 and np.asarray(X).min() >= 0
        # blue (g) first: the value at the R channel of the file is the z plane
        assert X[0][2, 0, 0] == rgb_images()[0, 12, 12, 0]

    def test_lazy_and_eager_agree(self, g10_file):
        lazy = load_galaxy10_decals(g10_file, image_size=16).images
        eager = load_galaxy10_decals(g10_file, image_size=16, lazy=False).images
        assert isinstance(eager, np.ndarray)
        np.testing.assert_array_equal(np.asarray(lazy), eager)

    def test_padding_beyond_the_stored_size_is_nan(self, g10_file):
        X = load_galaxy10_decals(g10_file, image_size=44).images
        img = X[0]
        assert np.isnan(img[:, :2]).all() and np.isnan(img[:, :, -2:]).all()
        np.testing.assert_array_equal(img[:, 2:42, 2:42], expected(rgb_images(), SIDE)[0])

    def test_missing_optional_fields_are_nan(self, tmp_path):
        path = tmp_path / "min.h5"
        with h5py.File(path, "w") as f:
            f["images"] = rgb_images(3)
            f["ans"] = np.array([1, 2, 3])
        g10 = load_galaxy10_decals(path, image_size=8)
        assert all(np.isnan(g10[k]).all() for k in ("ra", "dec", "redshift", "pxscale"))


class TestIndexing:
    @pytest.fixture
    def X(self, g10_file):
        return Galaxy10Images(g10_file, image_size=16, chunk_size=2)

    @pytest.fixture
    def truth(self):
        return expected(rgb_images(), 16)

    @pytest.mark.parametrize(
        "key",
        [3, -1, np.int64(4), slice(None), slice(2, 7), slice(1, None, 3), slice(None, None, -2),
         slice(5, 5), [8, 0, 3], np.array([4, 4, 1, 7]), np.array([[0, 1], [2, 0]]),
         np.array([], dtype=int), np.arange(N) % 2 == 0, (slice(1, 3), 0), (2, slice(1, 2)),
         (slice(None), Ellipsis, 0, 0), Ellipsis],
    )
    def test_matches_numpy(self, X, truth, key):
        got = X[key]
        want = truth[key]
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_array_equal(got, want)

    def test_chunked_reads_of_every_size(self, g10_file, truth):
        for chunk_size in (1, 4, 100):
            X = Galaxy10Images(g10_file, image_size=16, chunk_size=chunk_size)
            np.testing.assert_array_equal(X[[0, 2, 3, 4, 8]], truth[[0, 2, 3, 4, 8]])

    @pytest.mark.parametrize(
        "key, match",
        [(N, "out of range"), (-N - 1, "out of range"), (np.array([0, N]), "out of range"),
         (np.ones(3, dtype=bool), "Boolean index"), (np.array([0.5]), "indexed by int")],
    )
    def test_bad_indices(self, X, key, match):
        with pytest.raises(IndexError, match=match):
            X[key]

    def test_pickles(self, X, truth):
        clone = pickle.loads(pickle.dumps(X))
        np.testing.assert_array_equal(clone[1:3], truth[1:3])

    def test_out_of_core_batches_pass_the_package_checks(self, X, truth):
        seen = []
        for start, stop in iter_batches(X, 4):
            images, missing = check_image_batch(X[start:stop], (3, 16, 16))
            assert missing is None
            seen.append(images)
        np.testing.assert_array_equal(np.concatenate(seen), truth)
        assert np.asarray(X, dtype=np.float64).dtype == np.float64


    def test_an_encoder_takes_it_as_X(self, X, truth):
        from minuet_sk import EigengalaxyPCA

        lazy = EigengalaxyPCA(n_components=3, image_shape=(3, 16, 16), random_state=0).fit(X)
        eager = EigengalaxyPCA(n_components=3, image_shape=(3, 16, 16), random_state=0)
        eager.fit(truth)
        np.testing.assert_allclose(lazy.transform(X[2:5]), eager.transform(truth[2:5]),
                                   rtol=1e-4, atol=1e-3)

    def test_dask_reads_it_in_chunks(self, X, truth):
        da = pytest.importorskip("dask.array")
        lazy = da.from_array(X, chunks=(4, 3, 16, 16))
        np.testing.assert_allclose(lazy.mean(axis=(1, 2, 3)).compute(), truth.mean(axis=(1, 2, 3)))


class TestErrors:
    def test_missing_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="nope.h5"):
            load_galaxy10_decals(tmp_path / "nope.h5")

    def test_not_hdf5(self, tmp_path):
        path = tmp_path / "corrupt.h5"
        path.write_bytes(b"\x89HDF not really" * 50)
        with pytest.raises(ValueError, match="corrupt.h5"):
            load_galaxy10_decals(path)

    @pytest.mark.parametrize(
        "datasets, match",
        [({"images": rgb_images(2)}, "needs 'images' and 'ans'"),
         ({"images": np.zeros((2, 8, 8)), "ans": [0, 1]}, r"must be \(N, H, W, 3\)"),
         ({"images": rgb_images(2), "ans": [0, 1, 2]}, "3 labels for 2 images"),
         ({"images": rgb_images(2), "ans": [0, 1], "redshift": [0.1]}, "'redshift' has 1")],
    )
    def test_wrong_layout(self, tmp_path, datasets, match):
        path = tmp_path / "odd.h5"
        with h5py.File(path, "w") as f:
            for name, data in datasets.items():
                f[name] = data
        with pytest.raises(ValueError, match=match):
            load_galaxy10_decals(path)

    def test_bad_sizes(self, g10_file):
        with pytest.raises(ValueError, match="image_size"):
            load_galaxy10_decals(g10_file, image_size=0)
        with pytest.raises(ValueError, match="chunk_size"):
            Galaxy10Images(g10_file, chunk_size=0)
