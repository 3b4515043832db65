import dask.array as da
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from minuet_sk import EigengalaxyPCA, parallel

# X and fitted (conftest.py)
IMAGES = {"n": 48, "shape": (3, 8, 8)}
ESTIMATOR = EigengalaxyPCA(4, image_shape=(3, 8, 8))


@pytest.mark.parametrize("flat", [False, True])
def test_transform_matches_in_memory(X, fitted, flat):
    Xd = X.reshape(len(X), -1) if flat else X
    lazy = parallel.transform(fitted, da.from_array(Xd, chunks=(10,) + Xd.shape[1:]))
    assert lazy.shape == (48, 4) and lazy.chunks[0] == (10, 10, 10, 10, 8)
    np.testing.assert_allclose(lazy.compute(), fitted.transform(X), rtol=1e-5, atol=1e-6)


def test_chunked_pixels_are_joined(X, fitted):
    lazy = parallel.transform(fitted, da.from_array(X, chunks=(16, 1, 4, 8)))
    np.testing.assert_allclose(lazy.compute(), fitted.transform(X), rtol=1e-5, atol=1e-6)


def test_predict_1d_and_2d_targets():
    X = np.random.default_rng(0).normal(size=(30, 3))
    Xd = da.from_array(X, chunks=(7, 3))
    for y in (X @ [1.0, 2.0, 3.0], X[:, :2]):
        reg = LinearRegression().fit(X, y)
        out = parallel.predict(reg, Xd)
        assert out.shape == y.shape
        np.testing.assert_allclose(out.compute(), reg.predict(X))


def test_rejects_non_dask_input(X, fitted):
    with pytest.raises(TypeError, match="dask.array.from_array"):
        parallel.transform(fitted, X)


def test_local_cluster_with_process_workers(X, fitted):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        lazy = parallel.transform(fitted, da.from_array(X, chunks=(12, 3, 8, 8)))
        result = client.compute(lazy).result()
    np.testing.assert_allclose(result, fitted.transform(X), rtol=1e-5, atol=1e-6)
