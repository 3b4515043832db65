import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from minuet_sk import EigengalaxyPCA
from minuet_sk._validation import (
    check_image_batch,
    impute_missing,
    iter_batches,
    resolve_image_shape,
    validate_images,
)


class TestResolveImageShape:
    def test_4d_and_2d_agree(self):
        assert resolve_image_shape((5, 3, 4, 6), None) == (3, 4, 6)
        assert resolve_image_shape((5, 72), (3, 4, 6)) == (3, 4, 6)

    def test_2d_without_shape_is_one_band_strip(self):
        assert resolve_image_shape((5, 7), None) == (1, 1, 7)

    @pytest.mark.parametrize(
        "shape, image_shape, match",
        [
            ((5, 3, 4, 4), (3, 8, 8), r"image_shape=\(3, 4, 4\)"),
            ((5, 10), (3, 4, 4), "needs 48"),
            ((5,), None, "Reshape your data"),
            ((5, 4, 4), None, "band axis"),
            ((5, 48), (3, 4), "three positive integers"),
        ],
    )
    def test_errors_say_what_to_do(self, shape, image_shape, match):
        with pytest.raises(ValueError, match=match):
            resolve_image_shape(shape, image_shape)


class TestValidateImages:
    def test_returns_4d_float32_and_no_mask(self):
        est = EigengalaxyPCA(image_shape=(2, 3, 3))
        imgs, missing = validate_images(est, np.ones((4, 18), dtype=np.float64), reset=True)
        assert imgs.shape == (4, 2, 3, 3) and imgs.dtype == np.float32
        assert missing is None and est.n_features_in_ == 18

    def test_nan_is_missing_not_an_error(self):
        X = np.ones((3, 1, 2, 2))
        X[1, 0, 1, 1] = np.nan
        _, missing = validate_images(EigengalaxyPCA(image_shape=None), X, reset=True)
        assert missing.sum() == 1 and missing[1, 0, 1, 1]

    def test_inf_is_rejected(self):
        X = np.ones((3, 4))
        X[0, 0] = np.inf
        with pytest.raises(ValueError, match="infinite"):
            validate_images(EigengalaxyPCA(image_shape=None), X, reset=True)

    @pytest.mark.parametrize("X", [np.ones((0, 4)), np.array([["a", "b"]])])
    def test_empty_and_non_numeric(self, X):
        with pytest.raises((ValueError, TypeError)):
            validate_images(EigengalaxyPCA(image_shape=None), X, reset=True)

    def test_sparse_is_rejected(self):
        with pytest.raises(TypeError, match="Sparse"):
            validate_images(EigengalaxyPCA(image_shape=None), sparse.csr_array(np.eye(3)),
                            reset=True)

    def test_wrong_band_count_after_fit(self):
        est = EigengalaxyPCA(n_components=1, image_shape=None).fit(np.ones((3, 3, 2, 2)))
        with pytest.raises(ValueError, match=r"image_shape"):
            validate_images(est, np.ones((3, 2, 2, 2)), reset=False)

    def test_dataframe_keeps_feature_names(self):
        df = pd.DataFrame(np.ones((3, 4)), columns=list("abcd"))
        est = EigengalaxyPCA(image_shape=None)
        validate_images(est, df, reset=True)
        assert list(est.feature_names_in_) == list("abcd")


def test_batch_helpers():
    imgs, missing = check_image_batch(np.zeros((2, 12)), (3, 2, 2))
    assert imgs.shape == (2, 3, 2, 2) and missing is None
    filled = impute_missing(np.full((1, 2, 1, 1), np.nan, np.float32),
                            np.ones((1, 2, 1, 1), bool), [1.0, 2.0])
    assert filled.ravel().tolist() == [1.0, 2.0]
    assert list(iter_batches(np.zeros(7), 3)) == [(0, 3), (3, 6), (6, 7)]
