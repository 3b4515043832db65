"""The batch readers of ``_training/streaming.py``: ImageBatches, MaskWeights, band statistics,
the train/validation blocks and the pixel-weight check.

Through the encoders (fits and transforms of memmaps, h5py and lazy arrays):
``tests/encoders/test_base.py``.
"""

import h5py
import numpy as np
import pytest
import torch
from _helpers import Lazy

from minuet_sk._training.sources import ImageSource
from minuet_sk._training.streaming import (
    ImageBatches,
    MaskWeights,
    band_statistics,
    check_pixel_weight,
    expand_blocks,
    split_blocks,
)

IMAGES = {"n": 24, "shape": (1, 8, 8), "random_state": 0}  # X (conftest.py)


class TestImageBatches:
    def test_shuffled_batches_cover_every_image_once(self):
        x = np.arange(23, dtype=np.float32).reshape(23, 1, 1, 1)
        for validated in (True, False):
            ds = ImageBatches(ImageSource(x, (1, 1, 1), validated), [(0, 10), (10, 23)], 4,
                              np.zeros(1), np.ones(1), generator=torch.Generator().manual_seed(0))
            seen = np.concatenate([b[0].numpy().ravel() for b in ds])
            assert sorted(seen.tolist()) == list(range(23))
            assert seen.tolist() != list(range(23))

    def test_out_of_core_reads_are_chunks_in_order(self, monkeypatch):
        monkeypatch.setattr("minuet_sk._training.streaming.CHUNK_IMAGES", 8)
        lazy = Lazy(np.arange(30, dtype=np.float32).reshape(30, 1, 1, 1))
        ds = ImageBatches(ImageSource(lazy, (1, 1, 1), False), [(0, 20), (20, 30)], 4,
                          np.full(1, 10.0), np.full(1, 2.0))
        batches = list(ds)
        assert len(ds) == 30 and ds.n_batches() == 8
        assert [len(x) for x, _ in batches] == [4] * 7 + [2]
        seen = np.concatenate([x.numpy().ravel() for x, _ in batches])
        np.testing.assert_array_equal(seen, (np.arange(30) - 10.0) / 2.0)  # standardised
        assert max(lazy.reads) <= 8 and sum(lazy.reads) == 30

    def test_missing_pixels_get_the_images_own_sky_and_zero_weight(self):
        rng = np.random.default_rng(0)
        x = (5.0 + 0.5 * rng.standard_normal((3, 2, 16, 16))).astype(np.float32)
        x[1, 0, :, :4] = np.nan  # a survey edge
        x[2, 1] = np.nan  # a band without data
        pixel_weight = np.full(x.shape, 0.5, np.float32)
        ds = ImageBatches(ImageSource(x, (2, 16, 16), True), [(0, 3)], 8, np.zeros(2),
                          np.ones(2), pixel_weight=pixel_weight)
        (images, weight), = list(ds)
        assert torch.isfinite(images).all()
        assert (weight[np.isnan(x)] == 0).all() and (weight[~np.isnan(x)] == 0.5).all()
        filled = images[1, 0, :, :4].numpy()
        # sky: the image's own level and noise, not a constant the encoder never saw
        assert abs(filled.mean() - 5.0) < 0.2 and 0.35 < filled.std() < 0.65
        assert (images[2, 1] == 0).all()  # no data to estimate from: the training median
        np.testing.assert_array_equal(images[~torch.from_numpy(np.isnan(x))],
                                      torch.from_numpy(x[~np.isnan(x)]))

    def test_the_filled_sky_does_not_depend_on_the_batch(self):
        rng = np.random.default_rng(1)
        x = rng.standard_normal((6, 1, 12, 12)).astype(np.float32)
        x[:, :, :3] = np.nan
        def batches(size):
            ds = ImageBatches(ImageSource(x, (1, 12, 12), True), [(0, 6)], size,
                              np.zeros(1), np.ones(1))
            return torch.cat([images for images, _ in ds])
        torch.testing.assert_close(batches(1), batches(6), rtol=0, atol=0)

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="page-locked memory needs CUDA")
    def test_pinned_batches(self, X):
        batches = ImageBatches(ImageSource(X, X.shape[1:], True), [(0, len(X))], 8, np.zeros(1),
                               np.ones(1), pin_memory=True)
        x, weight = next(iter(batches))
        assert x.is_pinned() and weight.is_pinned()


def test_split_blocks_partition():
    train, valid = split_blocks(1000, 0.2, True, np.random.default_rng(0))
    covered = sorted(i for a, b in np.concatenate([train, valid]) for i in range(a, b))
    assert covered == list(range(1000))
    assert sum(b - a for a, b in valid) == 200


def test_split_blocks_keeps_everything_for_training_when_nothing_is_held_out():
    train, valid = split_blocks(10, 0.01, False, np.random.default_rng(0))
    assert train.tolist() == [[i, i + 1] for i in range(10)] and valid.shape == (0, 2)


def test_expand_blocks_lists_each_block_in_order():
    blocks = np.array([[7, 10], [3, 3], [0, 2]])  # the empty block adds nothing
    assert expand_blocks(blocks).tolist() == [7, 8, 9, 0, 1]
    assert expand_blocks(np.zeros((0, 2), np.int64)).tolist() == []


class TestBandStatistics:
    def test_band_statistics_ignore_nan(self):
        x = np.stack([np.full((1, 2, 2), v, np.float32) for v in (1.0, 3.0, 5.0)])
        x[0, 0, 0, 0] = np.nan
        median, scale, _ = band_statistics(ImageSource(x, (1, 2, 2), True))
        assert median[0] == 3.0 and scale[0] > 0

    def test_band_correlation_of_complete_pixels(self):
        rng = np.random.default_rng(0)
        common = rng.normal(size=(200, 1, 8, 8))
        x = np.concatenate([common, 3.0 * common + 0.5 * rng.normal(size=common.shape),
                            rng.normal(size=common.shape)], axis=1).astype(np.float32)
        x[0, 2, 0, 0] = np.nan  # one pixel missing in one band: left out of all bands
        _, _, corr = band_statistics(ImageSource(x, (3, 8, 8), True))
        expected = np.corrcoef(np.moveaxis(x, 1, 0).reshape(3, -1)[:, 1:])
        np.testing.assert_allclose(corr, expected, atol=1e-6)
        assert corr[0, 1] > 0.98 and abs(corr[0, 2]) < 0.05


def test_band_statistics_spread_over_large_inputs():
    x = np.repeat(np.arange(10_000, dtype=np.float32), 1).reshape(-1, 1, 1, 1)
    median, _, _ = band_statistics(ImageSource(x, (1, 1, 1), True), max_images=256,
                                   piece=16)
    assert 4000 < median[0] < 6000


class TestMaskWeights:
    def test_mask_weights_read_like_dense_weights(self, tmp_path):
        rng = np.random.default_rng(0)
        masks = rng.random((7, 5, 3)) < 0.5  # 15 pixels: the bits do not fill the bytes
        base = rng.random((7, 2, 5, 3)).astype(np.float32)
        dense = np.where(masks, 0.9, 0.1).astype(np.float32)[:, None] * base
        packed = np.packbits(masks.reshape(7, -1), axis=1)
        with h5py.File(tmp_path / "w.h5", "w") as f:
            f.create_dataset("w", data=base.reshape(7, -1))
        with h5py.File(tmp_path / "w.h5", "r") as f:
            for source in (base, f["w"]):
                weights = MaskWeights(packed, (2, 5, 3), 0.9, 0.1, source)
                index = np.array([0, 4, 6])  # increasing, as h5py wants
                np.testing.assert_array_equal(weights[index], dense[index])
                np.testing.assert_array_equal(weights[2:5], dense[2:5])
                zeros = ImageSource(np.zeros((7, 2, 5, 3), np.float32), (2, 5, 3), True)
                batches = ImageBatches(zeros, [(0, 7)], 4, np.zeros(2), np.ones(2),
                                       generator=torch.Generator().manual_seed(0),
                                       pixel_weight=weights)
                seen = np.concatenate([w.numpy() for _, w in batches])
                np.testing.assert_allclose(np.sort(seen.ravel()), np.sort(dense.ravel()))
        alone = MaskWeights(packed, (2, 5, 3), 0.9, 0.1)
        assert alone.shape == (7, 1, 5, 3)
        expected = np.where(masks[1], 0.9, 0.1).astype(np.float32)
        np.testing.assert_array_equal(alone[[1]][0, 0], expected)


class TestCheckPixelWeight:
    def test_in_memory_weights_become_float32_images(self):
        assert check_pixel_weight(None, 3, (2, 2, 2)) is None
        flat = np.arange(24, dtype=np.float64).reshape(3, 8)
        weight = check_pixel_weight(flat, 3, (2, 2, 2))
        assert weight.dtype == np.float32 and weight.shape == (3, 2, 2, 2)
        np.testing.assert_array_equal(weight.reshape(3, -1), flat)

    @pytest.mark.parametrize("bad, match", [
        (np.ones((3, 7)), "shape"),
        (np.ones((2, 8)), "shape"),
        (np.full((3, 8), np.nan), "finite"),
        (np.full((3, 8), np.inf), "finite"),
        (-np.ones((3, 8)), "non-negative"),
    ])
    def test_bad_in_memory_weights(self, bad, match):
        with pytest.raises(ValueError, match=match):
            check_pixel_weight(bad, 3, (2, 2, 2))

    def test_out_of_core_weights_are_checked_by_shape_not_read(self, tmp_path):
        with h5py.File(tmp_path / "w.h5", "w") as f:
            f["w"] = -np.ones((3, 8), np.float32)  # not read: its values are not checked
            f["short"] = np.ones((2, 8), np.float32)
            f["wide"] = np.ones((3, 9), np.float32)
        with h5py.File(tmp_path / "w.h5", "r") as f:
            weights = f["w"]
            assert check_pixel_weight(weights, 3, (2, 2, 2)) is weights
            for name in ("short", "wide"):
                with pytest.raises(ValueError, match="pixel_weight has shape"):
                    check_pixel_weight(f[name], 3, (2, 2, 2))
