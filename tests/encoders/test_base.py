"""The shared encoder layer (training, streaming, checkpoints, persistence), via VAEEncoder.

The batch readers of ``_training/streaming.py`` on their own:
``tests/_training/test_streaming.py``.
"""

import json
import pickle
from typing import ClassVar

import h5py
import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import Lazy, make_blobs_images

from minuet_sk import AsinhStretch, VAEEncoder, make_pipeline
from minuet_sk._persistence import load_state, save_state
from minuet_sk._training.net import autocast
from minuet_sk.encoders import BaseImageEncoder

SHAPE = (2, 10, 10)


def tiny(**kw):
    params = {
        "n_components": 2, "image_shape": SHAPE, "channels": (4, 8), "max_epochs": 2, "batch_size": 16,
        "random_state": 0, "device": "cpu",
    }
    params.update(kw)
    return VAEEncoder(**params)


IMAGES = {"n": 48, "shape": SHAPE, "random_state": 1}  # X (conftest.py)


class TestDeterminism:
    def test_same_seed_bit_identical(self, X):
        a = tiny().fit(X)
        b = tiny().fit(X)
        for pa, pb in zip(a.net_.module_.parameters(), b.net_.module_.parameters()):
            assert torch.equal(pa, pb)
        assert np.array_equal(a.transform(X), b.transform(X))
        assert [h["train_loss"] for h in a.history_] == [h["train_loss"] for h in b.history_]

    def test_other_seed_differs(self, X):
        assert not np.array_equal(tiny().fit(X).transform(X), tiny(random_state=1).fit(X).transform(X))

    def test_no_global_rng_side_effects(self, X):
        torch.manual_seed(123)
        np.random.seed(123)
        expected_t, expected_n = torch.rand(3), np.random.rand(3)
        torch.manual_seed(123)
        np.random.seed(123)
        tiny().fit(X).transform(X)
        assert torch.equal(torch.rand(3), expected_t)
        assert np.array_equal(np.random.rand(3), expected_n)


    def test_sample_without_random_state_leaves_numpy_global_generator_alone(self, X):
        est = tiny().fit(X)
        np.random.seed(123)
        expected = np.random.rand(3)
        np.random.seed(123)
        first = est.sample(4)
        assert np.array_equal(np.random.rand(3), expected)
        assert np.array_equal(est.sample(4), first)  # None: the fit's own seed
        assert not np.array_equal(est.sample(4, random_state=1), first)


class TestMixedPrecision:
    @pytest.mark.parametrize("setting, bf16_gpu, expected", [
        ("auto", True, True), ("auto", False, False), ("bf16", False, True),
        ("no", True, False),
    ])
    def test_autocast_on_cuda_follows_the_setting(self, monkeypatch, setting, bf16_gpu,
                                                  expected):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_gpu)
        monkeypatch.setattr(torch, "autocast", lambda device, dtype: ("autocast", device,
                                                                      dtype))
        context = autocast("cuda", setting)
        assert (context == ("autocast", "cuda", torch.bfloat16)) is expected

    @pytest.mark.parametrize("setting", ["auto", "bf16", "no"])
    def test_cpu_is_float32_whatever_the_setting(self, setting):
        with autocast("cpu", setting):
            assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32

    def test_unknown_setting_is_refused(self, X):
        with pytest.raises(ValueError, match="mixed_precision"):
            tiny(mixed_precision="fp16").fit(X)


class TestStretchInsideTheModel:
    """``stretch``: the model applies its own preprocessing, saves it and undoes it."""

    def test_same_as_a_pipeline_in_memory_and_streamed(self, X, tmp_path):
        flux = 10 * X
        inside = tiny(stretch=AsinhStretch(bands="gr")).fit(flux)
        outside = make_pipeline(AsinhStretch(bands="gr", image_shape=SHAPE), tiny()).fit(flux)
        np.testing.assert_array_equal(inside.transform(flux), outside.transform(flux))
        with h5py.File(tmp_path / "x.h5", "w") as f:
            f["flux"] = flux
            f["stretched"] = inside.stretch_.transform(flux).reshape(flux.shape)
        with h5py.File(tmp_path / "x.h5", "r") as f:
            np.testing.assert_allclose(inside.transform(f["flux"]), inside.transform(flux),
                                       rtol=1e-5, atol=1e-6)
            # a streamed fit stretches batch by batch as it reads
            streamed = tiny(stretch=AsinhStretch(bands="gr")).fit(f["flux"])
            by_hand = tiny().fit(f["stretched"])
            np.testing.assert_allclose(streamed.transform(f["flux"]),
                                       by_hand.transform(f["stretched"]), rtol=1e-5, atol=1e-6)

    def test_decoded_images_come_back_unstretched(self, X):
        flux = 10 * X
        inside = tiny(stretch=AsinhStretch(bands="gr")).fit(flux)
        bare = tiny().fit(inside.stretch_.transform(flux))
        Z = inside.transform(flux)
        np.testing.assert_allclose(
            inside.inverse_transform(Z),
            inside.stretch_.inverse_transform(bare.inverse_transform(Z)), rtol=1e-4, atol=1e-5)

    def test_saved_and_loaded_with_the_model(self, X, tmp_path):
        est = tiny(stretch=AsinhStretch(softening=30.0, bands="gr")).fit(X)
        back = VAEEncoder.load(est.save(tmp_path / "m"))
        assert back.stretch_.softening == 30.0 and back.stretch_.image_shape == SHAPE
        np.testing.assert_array_equal(back.transform(X), est.transform(X))
        assert est.get_params()["stretch__softening"] == 30.0  # tunable in a grid search

    def test_a_config_cannot_name_code_outside_the_package(self, X, tmp_path):
        path = tiny(stretch=AsinhStretch(bands="gr")).fit(X).save(tmp_path / "m")
        config = json.loads((path / "config.json").read_text())
        config["params"]["stretch"]["__estimator__"] = "os.system"
        (path / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match="does not load"):
            VAEEncoder.load(path)

    def test_only_an_asinh_stretch(self, X):
        with pytest.raises(ValueError, match="stretch"):
            tiny(stretch="asinh").fit(X)


class TestHistory:
    def test_history_records(self, X):
        est = tiny(max_epochs=3, early_stopping=False).fit(X)
        assert est.n_iter_ == 3 and len(est.history_) == 3
        for i, h in enumerate(est.history_, start=1):
            assert h["epoch"] == i
            assert {"train_loss", "valid_loss", "dur", "images_per_s"} <= set(h)
            assert h["images_per_s"] > 0 and h["dur"] > 0

    def test_no_validation(self, X):
        est = tiny(validation_fraction=0.0).fit(X)
        assert "valid_loss" not in est.history_[0]

    def test_early_stopping_stops(self, X):
        # lr so small that valid_loss cannot improve by skorch's threshold
        est = tiny(max_epochs=10, lr=1e-12, patience=2).fit(X)
        assert est.n_iter_ < 10

    def test_warm_start_and_partial_fit(self, X):
        est = tiny(warm_start=True).fit(X)
        est.fit(X)
        assert est.n_iter_ == 4
        est.partial_fit(X)
        assert est.n_iter_ == 5
        fresh = tiny().partial_fit(X)
        assert fresh.n_iter_ == 1
        with pytest.raises(ValueError, match="features"):
            est.partial_fit(np.zeros((3, 5), np.float32))

    def test_continued_training_uses_the_learning_rate_set_since(self, X):
        est = tiny(warm_start=True).fit(X)
        weights = [p.detach().clone() for p in est.net_.module_.parameters()]

        def moved():
            return max(float((a - b).abs().max())
                       for a, b in zip(weights, est.net_.module_.parameters()))

        est.set_params(lr=1e-30).fit(X)  # fine-tuning at a negligible rate moves nothing
        assert moved() < 1e-20
        assert est.net_.optimizer_.param_groups[0]["lr"] == 1e-30
        est.set_params(lr=1e-3, weight_decay=0.5).partial_fit(X)
        assert est.net_.optimizer_.param_groups[0]["weight_decay"] == 0.5
        assert moved() > 1e-5


class TestStreaming:
    def test_memmap_and_h5py_transform_match_memory(self, X, tmp_path):
        est = tiny().fit(X)
        mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32,
                                       shape=X.shape)
        mm[:] = X
        mm.flush()
        mm = np.load(tmp_path / "x.npy", mmap_mode="r")
        with h5py.File(tmp_path / "x.h5", "w") as f:
            f.create_dataset("images", data=X.reshape(len(X), -1), chunks=(8, X[0].size))
        expected = est.transform(X)
        np.testing.assert_allclose(est.transform(mm), expected, rtol=1e-5, atol=1e-6)
        with h5py.File(tmp_path / "x.h5", "r") as f:
            np.testing.assert_allclose(est.transform(f["images"]), expected, rtol=1e-5, atol=1e-6)

    def test_fit_from_h5py(self, X, tmp_path):
        with h5py.File(tmp_path / "x.h5", "w") as f:
            f.create_dataset("images", data=X)
        with h5py.File(tmp_path / "x.h5", "r") as f:
            est = tiny().fit(f["images"])
            assert est.n_features_in_ == X[0].size
            assert not hasattr(est, "feature_names_in_")
            assert np.isfinite(est.transform(f["images"])).all()

    def test_streamed_inf_and_shape_errors(self, X, tmp_path):
        bad = X.copy()
        bad[3, 0, 1, 1] = np.inf
        with h5py.File(tmp_path / "x.h5", "w") as f:
            f.create_dataset("bad", data=bad)
            f.create_dataset("wide", data=np.zeros((4, 7), np.float32))
        est = tiny().fit(X)
        with h5py.File(tmp_path / "x.h5", "r") as f:
            with pytest.raises(ValueError, match="infinite"):
                est.transform(f["bad"])
            with pytest.raises(ValueError, match="features"):
                est.transform(f["wide"])

    def test_out_of_core_reads_are_chunked(self, X, monkeypatch):
        monkeypatch.setattr("minuet_sk._training.streaming.CHUNK_IMAGES", 8)
        lazy = Lazy(X)
        est = tiny().fit(lazy)
        assert max(lazy.reads) <= 8 and sum(lazy.reads) > len(X)
        lazy.reads.clear()
        np.testing.assert_allclose(est.transform(lazy), est.transform(X), rtol=1e-5, atol=1e-6)
        assert max(lazy.reads) <= 8 and sum(lazy.reads) == len(X)


class TestMissingPixels:
    def test_nan_accepted_and_masked(self, X):
        Xn = X.copy()
        Xn[:, 0, :3, :3] = np.nan
        est = tiny().fit(Xn)
        assert np.isfinite(est.transform(Xn)).all()
        assert np.isfinite(est.score(Xn))

    def test_inf_rejected(self, X):
        bad = X.copy()
        bad[0, 0, 0, 0] = -np.inf
        with pytest.raises(ValueError, match="inf"):
            tiny().fit(bad)


class TestCheckpoints:
    def test_resume_equals_uninterrupted(self, X, tmp_path):
        full = tiny(max_epochs=3, early_stopping=False).fit(X)
        tiny(max_epochs=2, early_stopping=False, checkpoint_dir=tmp_path).fit(X)
        assert (tmp_path / "checkpoint.pt").is_file()
        resumed = tiny(max_epochs=3, early_stopping=False, checkpoint_dir=str(tmp_path)).fit(X)
        assert resumed.n_iter_ == 3
        assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
        np.testing.assert_array_equal(resumed.transform(X), full.transform(X))

    def test_resume_keeps_the_feature_names(self, X, tmp_path):
        frame = pd.DataFrame(X.reshape(len(X), -1)).add_prefix("pixel")
        tiny(max_epochs=1, early_stopping=False, checkpoint_dir=tmp_path).fit(frame)
        resumed = tiny(max_epochs=2, early_stopping=False, checkpoint_dir=tmp_path).fit(frame)
        assert resumed.n_iter_ == 2  # resumed, not refitted
        assert list(resumed.feature_names_in_) == list(frame.columns)
        assert resumed.feature_names_in_.dtype == object

    def test_other_params_refused(self, X, tmp_path):
        tiny(max_epochs=1, checkpoint_dir=tmp_path).fit(X)
        with pytest.raises(ValueError, match="beta"):
            tiny(beta=2.0, checkpoint_dir=tmp_path).fit(X)


class TestPersistence:
    def test_save_load_pickle_identical_transform(self, X, tmp_path):
        est = tiny(image_shape=None).fit(X)
        expected = est.transform(X)
        path = est.save(tmp_path / "vae")
        assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()
        loaded = VAEEncoder.load(path)
        np.testing.assert_array_equal(loaded.transform(X), expected)
        assert loaded.get_params() == est.get_params()
        np.testing.assert_array_equal(loaded.band_scale_, est.band_scale_)
        assert loaded.history_ == est.history_
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(X), expected)
        joblib.dump(est, tmp_path / "vae.joblib")
        np.testing.assert_array_equal(joblib.load(tmp_path / "vae.joblib").transform(X), expected)

    def test_feature_names_survive_save_and_load(self, X, tmp_path):
        frame = pd.DataFrame(X.reshape(len(X), -1)).add_prefix("pix")
        est = tiny(image_shape=None).fit(frame)
        loaded = VAEEncoder.load(est.save(tmp_path / "vae"))
        assert loaded.feature_names_in_.dtype == object
        np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)

    def test_load_refuses_other_class(self, X, tmp_path):
        class OtherEncoder(BaseImageEncoder):
            pass

        tiny().fit(X).save(tmp_path / "vae")
        with pytest.raises(ValueError, match="VAEEncoder.load"):
            OtherEncoder.load(tmp_path / "vae")

    def test_state_helpers_round_trip(self, tmp_path):
        save_state(tmp_path, {"a": (1, 2), "b": np.float32(0.5)}, {"w": torch.arange(3.0)})
        config, tensors = load_state(tmp_path)
        assert config == {"a": [1, 2], "b": 0.5}
        assert tensors["w"].tolist() == [0.0, 1.0, 2.0]
        with pytest.raises(FileNotFoundError, match="save"):
            load_state(tmp_path / "missing")


class TestShapes:
    @pytest.mark.parametrize("shape", [(1, 1, 7), (3, 9, 13), (1, 16, 16)])
    def test_arbitrary_image_shapes(self, shape):
        X = make_blobs_images(12, shape) if shape[1] > 1 else np.random.rand(12, 7)
        est = tiny(image_shape=None if shape[1] == 1 else shape, max_epochs=1).fit(X)
        Z = est.transform(X)
        assert Z.shape == (12, 2)
        assert est.inverse_transform(Z).shape == (12, int(np.prod(shape)))

    def test_set_output_pandas(self, X):
        df = tiny().set_output(transform="pandas").fit(X).transform(X)
        assert list(df.columns) == ["vae0", "vae1"]


class TestPixelWeight:
    def test_out_of_core_weights_match_in_memory(self, X, tmp_path):
        weight = np.where(np.random.default_rng(0).random(X.shape) < 0.5, 0.9, 0.1)
        weight = weight.astype(np.float32)
        with h5py.File(tmp_path / "w.h5", "w") as f:
            f.create_dataset("w", data=weight.reshape(len(X), -1))
        a = tiny().fit(X, pixel_weight=weight)
        with h5py.File(tmp_path / "w.h5", "r") as f:
            b = tiny().fit(X, pixel_weight=f["w"])
        assert a.history_[-1]["train_loss"] == b.history_[-1]["train_loss"]

    def test_weights_reach_the_loss(self, X):
        full = tiny(max_epochs=1).fit(X).history_[0]["train_loss"]
        half = tiny(max_epochs=1).fit(X, pixel_weight=np.full_like(X, 0.5))
        assert half.history_[0]["train_loss"] != full

    def test_bad_weights(self, X):
        with pytest.raises(ValueError, match="pixel_weight"):
            tiny().fit(X, pixel_weight=np.ones((3, 4)))
        with pytest.raises(ValueError, match="non-negative"):
            tiny().fit(X, pixel_weight=-np.ones_like(X))


class _Linear(torch.nn.Module):
    def __init__(self, n_features, n_latents):
        super().__init__()
        self.enc = torch.nn.Linear(n_features, n_latents)
        self.dec = torch.nn.Linear(n_latents, n_features)


class _FlipLoss(torch.nn.Module):
    """A criterion: weighted reconstruction error of a randomly mirrored image."""

    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def forward(self, module, x, weight, generator, training):
        self.calls.append((x.shape, weight.shape, training, isinstance(generator, torch.Generator)))
        flip = torch.rand((), generator=generator) < 0.5  # an augmentation drawn from generator
        x = torch.flip(x, dims=(-1,)) if flip else x
        weight = torch.flip(weight, dims=(-1,)) if flip else weight
        recon = module.dec(module.enc(x.flatten(1))).reshape(x.shape)
        return (weight * (recon - x) ** 2).mean()


class LinearEncoder(BaseImageEncoder):
    """The smallest subclass: what a new encoder has to write."""

    _feature_prefix = "lin"
    calls: ClassVar[list] = []

    def __init__(self, n_components=2, *, image_shape=None, stretch=None,
                 flux_unit="nanomaggy", pixel_scale=0.262, max_epochs=2, batch_size=8,
                 lr=1e-2, weight_decay=0.0, validation_fraction=0.25, early_stopping=True,
                 patience=3, device="cpu", random_state=None, verbose=0, warm_start=False,
                 checkpoint_dir=None, compile=False, mixed_precision="auto", accelerator=None):
        self.n_components = n_components
        self.image_shape = image_shape
        self.stretch = stretch
        self.flux_unit = flux_unit
        self.pixel_scale = pixel_scale
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.compile = compile
        self.mixed_precision = mixed_precision
        self.accelerator = accelerator

    def _module_class(self):
        return _Linear

    def _module_kwargs(self):
        return {"n_features": int(np.prod(self.image_shape_)), "n_latents": self.n_components}

    def _criterion_class(self):
        return _FlipLoss

    def _criterion_kwargs(self):
        return {"calls": self.calls}

    def _encode(self, module, x, weight):
        return module.enc(x.flatten(1))


class TestSubclassHooks:
    def test_minimal_subclass(self, X, tmp_path):
        LinearEncoder.calls.clear()
        est = LinearEncoder(random_state=0).fit(X)
        assert est.transform(X).shape == (48, 2)
        assert est.get_feature_names_out().tolist() == ["lin0", "lin1"]
        shapes = {c[0][1:] for c in LinearEncoder.calls}
        assert shapes == {SHAPE}
        assert {c[2] for c in LinearEncoder.calls} == {True, False}
        assert all(c[3] for c in LinearEncoder.calls)
        again = LinearEncoder(random_state=0).fit(X)
        np.testing.assert_array_equal(again.transform(X), est.transform(X))
        loaded = LinearEncoder.load(est.save(tmp_path / "lin"))
        np.testing.assert_array_equal(loaded.transform(X), est.transform(X))

    def test_verbose_progress(self, X, capsys):
        LinearEncoder(verbose=1, random_state=0, max_epochs=1).fit(X).transform(X)
        captured = capsys.readouterr()
        assert "train_loss" in captured.out + captured.err
