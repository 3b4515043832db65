"""Every public entry point against the families of bad input a user meets.

One matrix: each image estimator (``IMAGE_ESTIMATORS``, one line each) meets each family of
bad images (``FAMILIES``) in ``fit`` and in every method that takes images, and each family
either raises a clear error (its message is checked) or has a documented treatment (its
output is checked). A new estimator joins by one line; a new family by one entry. The flow,
the posterior, the readers and the CLI follow, family by family.
"""

import numpy as np
import pandas as pd
import pytest
from _helpers import MICRO_MINUET, TINY_FLOW, TINY_VAE, make_blobs_images
from scipy import sparse
from sklearn.exceptions import NotFittedError

from minuet_sk import (
    AsinhStretch,
    EigengalaxyPCA,
    FlowPropertyRegressor,
    MinuetEncoder,
    SegmentationMasker,
    VAEEncoder,
)
from minuet_sk.cli import main
from minuet_sk.datasets import (
    load_fits_cutouts,
    load_galaxy10_decals,
    read_gz_votes,
    read_sed_catalog,
)

SHAPE = (3, 8, 8)
IMAGE_ESTIMATORS = {
    "EigengalaxyPCA": lambda: EigengalaxyPCA(2, image_shape=SHAPE),
    "AsinhStretch": lambda: AsinhStretch(image_shape=SHAPE),
    "SegmentationMasker": lambda: SegmentationMasker(image_shape=SHAPE, random_state=0),
    "VAEEncoder": lambda: VAEEncoder(2, image_shape=SHAPE, validation_fraction=0.0,
                                     **TINY_VAE),
    "MinuetEncoder": lambda: MinuetEncoder(2, image_shape=SHAPE, **MICRO_MINUET),
}
# Methods that take images, besides fit; each estimator is tried with those it has.
IMAGE_METHODS = ("transform", "score_samples", "score", "reconstruct", "central_masks")
# The networks compute in float32 after standardising by the training pixels: pixels of
# 1e30 there overflow, and that is refused rather than returned as NaN latents.
OVERFLOWS_IN_FLOAT32 = {"VAEEncoder", "MinuetEncoder"}


def _images(n=12):
    return make_blobs_images(n, SHAPE)


def _with_nan_image(X):
    X = X.copy()
    X[3] = np.nan
    return X


def _with_nan_pixels(X):
    X = X.copy()
    X[:, 1, :2, :] = np.nan
    return X


def _with_inf(X):
    X = X.copy()
    X[0, 0, 0, 0] = np.inf
    return X


# family -> (make bad X from good X, expected): expected is ("raises", Error, match) or
# ("ok", check(output, X)) for a documented treatment.
def _finite(out, X):
    return np.isfinite(np.asarray(out, dtype=np.float64)).all()


def _finite_where_measured(out, X):
    """NaN pixels may stay NaN (AsinhStretch, SegmentationMasker); everything else finite."""
    out = np.asarray(out, dtype=np.float64)
    if out.size == np.size(X) and out.ndim > 1:
        measured = ~np.isnan(np.asarray(X, dtype=np.float64)).reshape(out.shape)
        return np.isfinite(out[measured]).all()
    return np.isfinite(out).all()


FAMILIES = {
    "empty": (lambda X: X[:0], ("raises", ValueError, "0 sample")),
    "all NaN": (lambda X: np.full_like(X, np.nan), ("raises", ValueError, "no finite pixel")),
    "one image all NaN": (_with_nan_image, ("raises", ValueError, r"row\(s\) 3")),
    "some NaN pixels": (_with_nan_pixels, ("ok", _finite_where_measured)),
    "constant": (lambda X: np.ones_like(X), ("ok", _finite)),
    "zeros": (lambda X: np.zeros_like(X), ("ok", _finite)),
    "tiny 1e-30": (lambda X: X * 1e-30, ("ok", _finite)),
    "inf": (_with_inf, ("raises", ValueError, "infinite")),
    "beyond float32": (lambda X: X.astype(np.float64) * 1e300, ("raises", ValueError, "float32")),
    "integers": (lambda X: (X * 100).astype(np.int64), ("ok", _finite)),
    "booleans": (lambda X: X > 0.5, ("ok", _finite)),
    "strings": (lambda X: X.astype(str), ("raises", TypeError, "numeric")),
    "complex": (lambda X: X.astype(np.complex64), ("raises", ValueError, "Complex")),
    "sparse": (lambda X: sparse.csr_array(X.reshape(len(X), -1)), ("raises", TypeError, "Sparse")),
    "1-D": (lambda X: X[0].ravel(), ("raises", ValueError, "Reshape your data")),
    "3-D": (lambda X: X[:, 0], ("raises", ValueError, "band axis")),
    "5-D": (lambda X: X[:, None], ("raises", ValueError, "5 dimension")),
    "wrong band count": (lambda X: X[:, :2], ("raises", ValueError, "image_shape")),
    "wrong pixel count": (lambda X: X.reshape(len(X), -1)[:, :-1],
                          ("raises", ValueError, "features")),
    "list": (lambda X: X.tolist(), ("ok", _finite)),
    "DataFrame": (lambda X: pd.DataFrame(X.reshape(len(X), -1)), ("ok", _finite)),
}


def _check(expected, call, X):
    if expected[0] == "raises":
        _, error, match = expected
        with pytest.raises(error, match=match):
            call()
    else:
        assert expected[1](call(), X)


def _methods(est):
    return [m for m in IMAGE_METHODS if hasattr(est, m)]


@pytest.fixture(scope="module")
def fitted():
    return {name: make().fit(_images()) for name, make in IMAGE_ESTIMATORS.items()}


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("name", list(IMAGE_ESTIMATORS))
def test_fit(name, family):
    make_bad, expected = FAMILIES[family]
    X = make_bad(_images())
    _check(expected, lambda: IMAGE_ESTIMATORS[name]().fit(X).transform(X), X)


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("name", list(IMAGE_ESTIMATORS))
def test_methods_of_a_fitted_estimator(fitted, name, family):
    make_bad, expected = FAMILIES[family]
    X = make_bad(_images())
    est = fitted[name]
    for method in _methods(est):
        _check(expected, lambda m=method: getattr(est, m)(X), X)


@pytest.mark.parametrize("name", list(IMAGE_ESTIMATORS))
def test_huge_pixels_are_finite_or_refused(fitted, name):
    X = _images() * np.float32(1e30)
    est = fitted[name]
    for method in _methods(est):
        if name in OVERFLOWS_IN_FLOAT32:
            with pytest.raises(ValueError, match=r"non-finite values for \d+ row"):
                getattr(est, method)(X)
        else:
            assert _finite(getattr(est, method)(X), X), method


@pytest.mark.parametrize("name", list(IMAGE_ESTIMATORS))
def test_not_fitted(name):
    est = IMAGE_ESTIMATORS[name]()
    latent_methods = [m for m in ("inverse_transform", "sample") if hasattr(est, m)]
    for method in _methods(est) + latent_methods:
        with pytest.raises(NotFittedError):
            getattr(est, method)(_images())


@pytest.mark.parametrize("name", sorted(set(IMAGE_ESTIMATORS) - {"AsinhStretch",
                                                                 "SegmentationMasker"}))
@pytest.mark.parametrize("latents, error, match", [
    (lambda Z: Z[:0], ValueError, "0 sample"),
    (lambda Z: Z * np.nan, ValueError, "NaN"),
    (lambda Z: Z[:, :1], ValueError, "(1 columns|n, 2)"),
    (lambda Z: Z[0], ValueError, "2D array"),
])
def test_inverse_transform_of_bad_latents(fitted, name, latents, error, match):
    est = fitted[name]
    Z = est.transform(_images())
    with pytest.raises(error, match=match):
        est.inverse_transform(latents(Z))


@pytest.mark.parametrize("latents, match", [
    (lambda Z: Z * np.nan, "NaN"), (lambda Z: Z[:, :1], "1 columns"), (lambda Z: Z[:0], "0 sample"),
])
def test_minuet_sample_of_bad_latents(fitted, latents, match):
    est = fitted["MinuetEncoder"]
    with pytest.raises(ValueError, match=match):
        est.sample(latents(est.transform(_images())), n_samples=2)


def test_stretch_refuses_to_invert_values_no_flux_maps_to(fitted):
    stretch = fitted["AsinhStretch"]
    Y = stretch.transform(_images())
    with pytest.raises(ValueError, match="beyond float32"):
        stretch.inverse_transform(Y + 10)


def test_huge_latents_are_refused(fitted):
    est = fitted["MinuetEncoder"]
    Z = est.transform(_images()) * np.float32(1e30)
    with pytest.raises(ValueError, match="non-finite"):
        est.inverse_transform(Z)


# ---- FlowPropertyRegressor and PropertyPosterior ---------------------------------------

def _flow_data(n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    y = np.c_[X[:, 0] + 0.1 * rng.normal(size=n), X[:, 1], X[:, 2]]
    return X, y


def _flow():
    return FlowPropertyRegressor(**TINY_FLOW)


@pytest.fixture(scope="module")
def flow():
    return _flow().fit(*_flow_data())


@pytest.mark.parametrize("method", ["predict", "predict_dist", "sample"])
def test_flow_not_fitted(method):
    with pytest.raises(NotFittedError):
        getattr(_flow(), method)(_flow_data()[0])


@pytest.mark.parametrize("bad, error, match", [
    (lambda X: X[:0], ValueError, "0 sample"),
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) % 7 == 0, np.nan, X),
     ValueError, "NaN"),
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 4, np.inf, X),
     ValueError, "infinity"),
    (lambda X: X[:, :2], ValueError, "features"),
    (lambda X: X[:, 0], ValueError, "2D array"),
    (lambda X: X.astype(str).astype(object) + "x", ValueError, "could not convert"),
])
def test_flow_bad_features(flow, bad, error, match):
    X, y = _flow_data()
    with pytest.raises(error, match=match):
        flow.predict_dist(bad(X))
    if bad(X).shape[:1] == X.shape[:1] and bad(X).ndim == 2 and bad(X).shape[1] == 3:
        with pytest.raises(error, match=match):
            _flow().fit(bad(X), y)


def test_flow_features_as_list_and_dataframe_agree(flow):
    X, _ = _flow_data()
    expected = flow.predict(X)
    np.testing.assert_allclose(flow.predict(X.tolist()), expected)
    np.testing.assert_allclose(flow.predict(pd.DataFrame(X)), expected)


def test_flow_drops_targets_with_nan_and_says_so():
    X, y = _flow_data()
    y[[2, 5]] = np.nan
    with pytest.warns(UserWarning, match="Dropped 2 of 60 rows"):
        _flow().fit(X, y)


@pytest.mark.parametrize("bad_y, match", [
    (lambda y: y[:5], "does not match"),
    (lambda y: np.where(np.arange(y.size).reshape(y.shape) == 3, np.nan, y), "NaN or inf"),
    (lambda y: np.where(np.arange(y.size).reshape(y.shape) == 3, np.inf, y), "NaN or inf"),
])
@pytest.mark.parametrize("score", ["coverage", "pit", "crps"])
def test_posterior_scores_refuse_bad_truths(flow, bad_y, match, score):
    X, y = _flow_data()
    posterior = flow.predict_dist(X)
    with pytest.raises(ValueError, match=match):
        getattr(posterior, score)(bad_y(y))


# ---- readers: missing, corrupt and empty files -----------------------------------------

READERS = {
    "load_fits_cutouts": (load_fits_cutouts, "corrupt.fits"),
    "read_gz_votes": (read_gz_votes, "corrupt.csv"),
    "read_sed_catalog": (read_sed_catalog, "corrupt.fits"),
    "load_galaxy10_decals": (load_galaxy10_decals, "corrupt.h5"),
}


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("content", [b"", b"\x00garbage,,\n\"unterminated"])
def test_readers_on_corrupt_files(tmp_path, reader, content):
    read, name = READERS[reader]
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=rf"(?i)(could not|cannot) (read|open).*{name}"):
        read(tmp_path / name)


@pytest.mark.parametrize("reader", list(READERS))
def test_readers_on_missing_files(tmp_path, reader):
    read, name = READERS[reader]
    with pytest.raises((FileNotFoundError, ValueError), match="(No such file|Errno 2)"):
        read(tmp_path / name)


# ---- the CLI: bad files are exit 2 in one line, a bug inside is exit 1 -----------------

@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_bytes(b"not an array"), "cannot read"),
    (lambda p: np.save(p, np.array([["a", "b"]])), "must be numeric"),
    (lambda p: np.save(p, np.full((2, 3, 8, 8), np.nan, np.float32)), "no finite pixel"),
    (lambda p: None, "no such file"),
])
def test_cli_bad_image_files(tmp_path, capsys, write, message):
    path = tmp_path / "images.npy"
    write(path)
    assert main(["fit", "pca", "--images", str(path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["simulate", "--n", "0", "--out", "sim"], "positive integer"),
    (["predict", "--model", "flow", "--features", "nan.csv", "--out", "p.csv"], "NaN"),
    (["neighbors", "--latents", "nan.csv", "--out", "n.csv"], "NaN"),
    (["neighbors", "--latents", "z.csv", "--query", "0,99", "--out", "n.csv"], "--query rows"),
])
def test_cli_bad_tables_and_options(tmp_path, monkeypatch, capsys, flow, argv, message):
    monkeypatch.chdir(tmp_path)
    X, _ = _flow_data()
    flow.save(tmp_path / "flow")
    pd.DataFrame(X).to_csv(tmp_path / "z.csv", index=False)
    pd.DataFrame(np.where(X > 1.5, np.nan, X)).to_csv(tmp_path / "nan.csv", index=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_corrupt_hdf5(tmp_path, capsys):
    (tmp_path / "x.h5").write_bytes(b"garbage" * 50)
    assert main(["fit", "pca", "--images", str(tmp_path / "x.h5"), "--out",
                 str(tmp_path / "m")]) == 2
    assert "cannot read" in capsys.readouterr().err
