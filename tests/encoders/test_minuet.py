import pickle

import h5py
import joblib
import numpy as np
import pytest
import torch
from _helpers import TINY_MINUET

from minuet_sk import MinuetEncoder
from minuet_sk._training.losses import DenoisingLoss
from minuet_sk._training.masks import mask_loss_weights
from minuet_sk._training.sources import ImageSource
from minuet_sk.nn.augment import orient, random_orientation_matrices
from minuet_sk.nn.autoencoder import DiffusionAutoencoder, band_whitening

SHAPE = (3, 16, 16)
TINY = {**TINY_MINUET, "image_shape": SHAPE, "diffusion_steps": 50, "sampling_steps": 5,
        "batch_size": 16}

# X and fitted (conftest.py)
IMAGES = {"n": 48, "shape": SHAPE, "random_state": 0}
ESTIMATOR = MinuetEncoder(3, **TINY)


class TestShapesAndNames:
    def test_outputs(self, fitted, X):
        Z = fitted.transform(X)
        assert Z.shape == (48, 3) and Z.dtype == np.float32
        assert fitted.get_feature_names_out().tolist() == ["minuet0", "minuet1", "minuet2"]
        assert fitted.inverse_transform(Z[:4]).shape == (4, 3 * 16 * 16)
        assert fitted.sample(Z[:2], n_samples=3, random_state=0).shape == (2, 3) + SHAPE
        assert fitted.reconstruct(X[:2], n_samples=2).shape == (2,) + SHAPE
        assert np.isfinite(fitted.score(X))
        assert fitted.n_iter_ == 1 and len(fitted.history_) == 1

    def test_flat_input_and_pandas_output(self, fitted, X):
        np.testing.assert_array_equal(fitted.transform(X.reshape(48, -1)), fitted.transform(X))
        frame = MinuetEncoder(3, **TINY).set_output(transform="pandas").fit(X).transform(X)
        assert list(frame.columns) == ["minuet0", "minuet1", "minuet2"]

    def test_any_image_shape(self):
        X = np.random.default_rng(0).random((10, 1, 5, 7), dtype=np.float32)
        est = MinuetEncoder(2, **{**TINY, "image_shape": None}).fit(X)
        assert est.transform(X).shape == (10, 2)
        assert est.inverse_transform(est.transform(X)).shape == (10, 35)

    def test_wrong_latent_width(self, fitted):
        with pytest.raises(ValueError, match="n_components"):
            fitted.inverse_transform(np.zeros((2, 5)))

    def test_preset(self):
        params = MinuetEncoder.from_preset("paper", max_epochs=3).get_params()
        assert (params["patch_size"], params["width"], params["sampling_steps"],
                params["noise_schedule"], params["max_epochs"]) == (3, 256, 200, "linear", 3)
        with pytest.raises(ValueError, match="preset"):
            MinuetEncoder.from_preset("laptop")

    def test_paper_preset_is_the_authors_network_size(self):
        # their encoder (daep's HostImgTransceiverEncoder as Minuet's script builds it:
        # width 256, 4 blocks, feed-forward 32, dropout 0.1) has 2.4M parameters
        est = MinuetEncoder.from_preset("paper")
        assert (est.encoder_ff_width, est.decoder_ff_width, est.dropout) == (32, 128, 0.1)
        est.image_shape_, est.band_correlation_ = (3, 72, 72), np.eye(3)
        module = DiffusionAutoencoder(**est._module_kwargs())
        n_encoder = sum(p.numel() for p in module.encoder.parameters())
        assert 2.35e6 < n_encoder < 2.45e6

    def test_dropout_trains_and_transform_stays_deterministic(self, X):
        est = MinuetEncoder(3, **{**TINY, "dropout": 0.2}).fit(X)
        np.testing.assert_array_equal(est.transform(X), est.transform(X))
        assert est.net_.module_.denoiser.blocks[0].ff[-1].p == 0.2

    def test_masked_loss_weights_central_galaxy(self, X):
        est = MinuetEncoder(3, **TINY, masked_loss=True).fit(X)
        images = X[:4].copy()
        images[0, :, :3] = np.nan  # missing rows stay out of the detection
        weights = est._training_weights(ImageSource(images, SHAPE, True), np.array([[0, 4]]),
                                        None)
        w = weights[np.arange(4)]
        assert w.shape == (4, 1, 16, 16)
        np.testing.assert_allclose(np.unique(w), [0.1, 0.9])
        assert (w[:, 0, 7:9, 7:9] == 0.9).all() and (w[:, 0, 0, 0] == 0.1).all()
        assert (w[0, 0, :3] == 0.1).all()
        np.testing.assert_array_equal(weights[1:3], w[1:3])

    def test_masked_loss_is_the_mask_weighted_loss(self, X):
        # the masks computed once per fit weigh the training loss exactly as the same
        # weights passed by hand (standardising does not move the segmentation)
        masked = MinuetEncoder(3, **TINY).fit(X)  # masked_loss=True is the default
        weight = np.broadcast_to(mask_loss_weights(X), X.shape)
        by_hand = MinuetEncoder(3, **TINY, masked_loss=False).fit(X, pixel_weight=weight)
        plain = MinuetEncoder(3, **TINY, masked_loss=False).fit(X)
        assert masked.history_[0]["train_loss"] == by_hand.history_[0]["train_loss"]
        assert masked.history_[0]["train_loss"] != plain.history_[0]["train_loss"]
        np.testing.assert_array_equal(masked.transform(X), by_hand.transform(X))


@pytest.mark.parametrize("bands_alike", [True, False])
def test_training_loss_rotates_the_weights_with_the_target(X, bands_alike):
    # the weights share the target image's grid_sample call (one band when alike in every
    # band): the loss must equal rotating the full weights on their own (random frames: the
    # paper's augmentation, whose draws this test repeats)
    est = MinuetEncoder(3, **TINY, masked_loss=False, target_frame="random",
                        encoder_frame="random").fit(X)
    module = est.net_.module_
    x = torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(1))
    weight = torch.where(torch.rand(4, 1, 16, 16) > 0.5, 0.9, 0.1).expand(4, 3, 16, 16).clone()
    if not bands_alike:
        weight[0, 1, :4] = 0.0  # a band missing in one image
    got = est.net_.criterion_(module, x, weight, torch.Generator().manual_seed(0), True)
    generator = torch.Generator().manual_seed(0)  # the draws of the criterion, in its order
    theta_target = random_orientation_matrices(4, generator, "cpu")
    theta_encoder = random_orientation_matrices(4, generator, "cpu")
    t = torch.randint(module.diffusion.diffusion_steps, (4,), generator=generator)
    noise = torch.randn(x.shape, generator=generator)
    want = module.loss(orient(x, theta_encoder), orient(x, theta_target), t, noise,
                       orient(weight, theta_target))
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    unweighted = module.loss(orient(x, theta_encoder), orient(x, theta_target), t, noise)
    assert not torch.equal(got, unweighted)


@pytest.mark.parametrize("whiten", [True, 0.5, False])
def test_whiten_bands_sets_the_band_mixing(X, whiten):
    est = MinuetEncoder(3, **TINY, whiten_bands=whiten).fit(X)
    assert est.band_correlation_.shape == (3, 3)
    expected = (band_whitening(est.band_correlation_, strength=float(whiten)) if whiten
                else np.eye(3))
    np.testing.assert_allclose(est.net_.module_.band_mixing.numpy(), expected, rtol=1e-6,
                               atol=1e-7)
    assert np.isfinite(est.score(X))
    assert MinuetEncoder.from_preset("paper").whiten_bands is False


class TestDeterminism:
    def test_same_seed_same_fit(self, fitted, X):
        other = MinuetEncoder(3, **TINY).fit(X)
        np.testing.assert_array_equal(other.transform(X), fitted.transform(X))
        assert other.score(X) == fitted.score(X)

    def test_methods_repeatable(self, fitted, X):
        Z = fitted.transform(X[:4])
        np.testing.assert_array_equal(fitted.inverse_transform(Z), fitted.inverse_transform(Z))
        np.testing.assert_array_equal(fitted.reconstruct(X[:2]), fitted.reconstruct(X[:2]))
        a, b, c = (fitted.sample(Z, 2, random_state=s) for s in (1, 1, 2))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)

    def test_stochastic_ddim(self, fitted, X):
        Z = fitted.transform(X[:2])
        est = pickle.loads(pickle.dumps(fitted)).set_params(eta=1.0)
        np.testing.assert_array_equal(est.sample(Z, 2, random_state=0),
                                      est.sample(Z, 2, random_state=0))
        assert not np.array_equal(est.sample(Z, 1, random_state=0),
                                  fitted.sample(Z, 1, random_state=0))


class TestPersistence:
    def test_save_load_pickle_identical(self, fitted, X, tmp_path):
        Z = fitted.transform(X)
        images = fitted.inverse_transform(Z[:3])
        loaded = MinuetEncoder.load(fitted.save(tmp_path / "minuet"))
        for other in (loaded, pickle.loads(pickle.dumps(fitted))):
            np.testing.assert_array_equal(other.transform(X), Z)
            np.testing.assert_array_equal(other.inverse_transform(Z[:3]), images)
        joblib.dump(fitted, tmp_path / "m.joblib")
        np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").transform(X), Z)

    def test_checkpoint_resume_equals_uninterrupted(self, X, tmp_path):
        full = MinuetEncoder(3, **{**TINY, "max_epochs": 2}).fit(X)
        ckpt = tmp_path / "ckpt"
        MinuetEncoder(3, **TINY, checkpoint_dir=ckpt).fit(X)  # "killed" after one epoch
        resumed = MinuetEncoder(3, **{**TINY, "max_epochs": 2}, checkpoint_dir=ckpt).fit(X)
        assert resumed.n_iter_ == 2
        np.testing.assert_array_equal(resumed.transform(X), full.transform(X))

    def test_warm_start_continues(self, X):
        est = MinuetEncoder(3, **TINY, warm_start=True).fit(X)
        est.fit(X)
        assert est.n_iter_ == 2
        est.partial_fit(X)
        assert est.n_iter_ == 3


class TestInputs:
    def test_nan_accepted_inf_rejected(self, fitted, X):
        Xn = X.copy()
        Xn[0, :, :4, :4] = np.nan
        est = MinuetEncoder(3, **TINY).fit(Xn)
        assert np.isfinite(est.transform(Xn)).all() and np.isfinite(est.score(Xn))
        Xi = X.copy()
        Xi[1, 0, 0, 0] = np.inf
        with pytest.raises(ValueError, match="infinit"):
            fitted.transform(Xi)
        with pytest.raises(ValueError, match="infinit"):
            MinuetEncoder(3, **TINY).fit(Xi)

    def test_memmap_and_h5py_same_latents(self, fitted, X, tmp_path):
        expected = fitted.transform(X)
        mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32,
                                       shape=X.shape)
        mm[:] = X
        mm.flush()
        np.testing.assert_array_equal(fitted.transform(np.load(tmp_path / "x.npy",
                                                               mmap_mode="r")), expected)
        with h5py.File(tmp_path / "x.h5", "w") as f:
            f["images"] = X
        with h5py.File(tmp_path / "x.h5", "r") as f:
            np.testing.assert_array_equal(fitted.transform(f["images"]), expected)
            streamed = MinuetEncoder(3, **TINY).fit(f["images"])
        assert streamed.transform(X).shape == (48, 3)


class TestOrientation:
    @pytest.mark.parametrize("invariant", [True, False])
    def test_encoder_and_denoiser_see_other_orientations(self, fitted, X, invariant):
        seen = {}

        class Spy:
            diffusion = fitted.net_.module_.diffusion
            encoder_frame = "random"

            def loss(self, encoder_images, target_images, t, noise, weights):
                seen.update(encoder=encoder_images, target=target_images, weights=weights)
                return target_images.sum()

        est = pickle.loads(pickle.dumps(fitted)).set_params(orientation_invariant=invariant)
        criterion = est._make_net().criterion_  # the estimator's loss, as its net builds it
        assert isinstance(criterion, DenoisingLoss)
        x = torch.from_numpy(X[:8])
        criterion(Spy(), x, torch.ones_like(x), torch.Generator().manual_seed(0), True)
        same = torch.allclose(seen["encoder"], seen["target"])
        assert same != invariant
        assert not torch.allclose(seen["target"], x)  # both views are randomly oriented
        # a rotation keeps the total flux of a centred galaxy (up to interpolation)
        torch.testing.assert_close(seen["encoder"].sum((1, 2, 3)), x.sum((1, 2, 3)),
                                   rtol=0.1, atol=2.0)


def _elongated_galaxies(n, size, random_state):
    """Elliptical exponential profiles: size, flux and colour vary; angle is random."""
    rng = np.random.default_rng(random_state)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    radius = rng.uniform(1.5, 5.0, n)[:, None, None]
    q = rng.uniform(0.3, 0.7, n)[:, None, None]
    angle = rng.uniform(0, np.pi, n)[:, None, None]
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    profile = np.exp(-np.sqrt(u**2 + (v / q) ** 2) / radius)
    colour = rng.uniform(0.3, 2.0, (n, 3)) * rng.uniform(0.5, 3, (n, 1))
    images = colour[:, :, None, None] * profile[:, None]
    return (images + 0.02 * rng.standard_normal(images.shape)).astype(np.float32)


@pytest.mark.slow
def test_rotation_by_90_degrees_barely_moves_latents():
    X = _elongated_galaxies(1200, 24, random_state=0)
    est = MinuetEncoder(3, image_shape=(3, 24, 24), patch_size=6, width=32, encoder_depth=2,
                        decoder_depth=2, max_epochs=6, batch_size=64, lr=2e-3,
                        validation_fraction=0.0, random_state=0).fit(X)
    test = _elongated_galaxies(200, 24, random_state=1)
    Z = est.transform(test)
    Z_rot = est.transform(np.rot90(test, 1, axes=(2, 3)).copy())
    shift = np.linalg.norm(Z - Z_rot, axis=1)
    pairs = np.linalg.norm(Z[:100] - Z[100:], axis=1)
    assert np.median(shift) < 0.25 * np.median(pairs)


class TestRecipeOptions:
    """The moving average of the weights (EMA)."""

    def test_ema_weights_encode_decode_and_are_saved(self, X, tmp_path):
        est = MinuetEncoder(3, **TINY, masked_loss=False, ema_decay=0.5).fit(X)
        net = est.net_
        assert net.inference_module() is net.ema_.model.module
        raw = {k: v for k, v in net.module_.state_dict().items() if v.is_floating_point()}
        ema = net.inference_module().state_dict()
        assert any(not torch.equal(v, ema[k]) for k, v in raw.items())
        Z = est.transform(X)
        loaded = MinuetEncoder.load(est.save(tmp_path / "ema"))
        np.testing.assert_array_equal(loaded.transform(X), Z)  # the average is what is saved
        plain = MinuetEncoder(3, **TINY, masked_loss=False, ema_decay=None).fit(X)
        assert plain.net_.ema_ is None and plain.net_.inference_module() is plain.net_.module_

    def test_ema_decay_warms_up_to_its_cap(self):
        from minuet_sk._training.moving_average import MovingAverage

        layer = torch.nn.Linear(1, 1, bias=False)
        average = MovingAverage(layer, decay=0.9)
        shares = []
        for _ in range(100):  # the share of the way to the layer each update moves
            with torch.no_grad():
                layer.weight.add_(1.0)
            before = float(average.model.module.weight)
            average.update(layer)
            shares.append((float(average.model.module.weight) - before)
                          / (layer.weight.item() - before))
        n = np.arange(1, 101)  # (1 + n) / (10 + n) reaches the cap 0.9 at n = 80
        np.testing.assert_allclose(shares, 1 - np.minimum(0.9, (1 + n) / (10 + n)), rtol=1e-5)
        assert shares[0] > 0.8 and shares[-1] == pytest.approx(0.1, rel=1e-5)

    def test_ema_survives_a_checkpoint(self, X, tmp_path):
        params = {**TINY, "masked_loss": False, "ema_decay": 0.5, "early_stopping": False}
        full = MinuetEncoder(3, **{**params, "max_epochs": 2}).fit(X)
        MinuetEncoder(3, **{**params, "max_epochs": 1}, checkpoint_dir=tmp_path).fit(X)
        resumed = MinuetEncoder(3, **{**params, "max_epochs": 2}, checkpoint_dir=tmp_path).fit(X)
        assert resumed.n_iter_ == 2
        np.testing.assert_allclose(resumed.transform(X), full.transform(X), rtol=1e-5,
                                   atol=1e-6)


def _is_horizontal(image):
    """The image's major axis lies along x (within 0.02 rad) and is twice the minor one."""
    from minuet_sk.nn.augment import canonical_orientation_matrices

    theta = canonical_orientation_matrices(image[None], torch.ones_like(image[None]))
    light = image.sum(0)
    spread_x = (light * (torch.arange(light.shape[1]) - 15.5) ** 2).sum()
    spread_y = (light * (torch.arange(light.shape[0])[:, None] - 15.5) ** 2).sum()
    return abs(float(theta[0, 1, 0])) < 0.02 and bool(spread_x > 4 * spread_y)


def _elongated(angle, size=32):
    yy, xx = torch.meshgrid(torch.arange(size) - (size - 1) / 2,
                            torch.arange(size) - (size - 1) / 2, indexing="ij")
    u = np.cos(angle) * xx + np.sin(angle) * yy
    v = -np.sin(angle) * xx + np.cos(angle) * yy
    return torch.exp(-(u / 6) ** 2 - (v / 2) ** 2).float()


@pytest.mark.parametrize("angle", [0.0, 0.5, 1.2, -0.9, 3.0])
def test_canonical_frame_turns_the_major_axis_onto_x(angle):
    from minuet_sk.nn.augment import canonical_orientation_matrices

    x = _elongated(angle).expand(1, 3, 32, 32).clone()
    theta = canonical_orientation_matrices(x, torch.ones_like(x))
    measured = float(torch.atan2(theta[0, 1, 0], theta[0, 0, 0]))
    assert np.isclose(np.tan(measured), np.tan(angle), atol=1e-3)  # the axis, up to 180 deg
    turned = orient(x, theta)
    assert _is_horizontal(turned[0])


def test_canonical_target_frame_reaches_the_denoiser(X):
    seen = {}

    class Spy:
        diffusion = MinuetEncoder(3, **TINY).fit(X).net_.module_.diffusion
        encoder_frame = "random"

        def loss(self, encoder_images, target_images, t, noise, weights):
            seen.update(encoder=encoder_images, target=target_images)
            return target_images.sum()

    x = torch.stack([_elongated(a).expand(3, 32, 32) for a in (0.4, -1.0)])
    DenoisingLoss(target_frame="canonical")(Spy(), x, torch.ones_like(x),
                                            torch.Generator().manual_seed(0), True)
    assert all(_is_horizontal(target) for target in seen["target"])
    assert not all(_is_horizontal(image) for image in seen["encoder"])  # a random orientation
    est = MinuetEncoder(3, **TINY, target_frame="canonical").fit(X)
    assert est.net_.criterion_.target_frame == "canonical"
    assert np.isfinite(est.history_[-1]["train_loss"])


class TestCanonicalEncoderFrame:
    def test_encode_sees_each_galaxy_in_its_canonical_frame(self):
        model = DiffusionAutoencoder((3, 32, 32), n_latents=3, patch_size=8, width=16,
                                     encoder_depth=1, decoder_depth=1, n_heads=2,
                                     diffusion_steps=10, encoder_frame="canonical").eval()
        x = torch.stack([_elongated(a).expand(3, 32, 32) for a in (0.4, -1.0, 2.0)])
        assert all(_is_horizontal(image) for image in model.canonical_frame(x))
        # the latents of a galaxy at any angle are those at angle 0, up to interpolation
        reference = model.encode(_elongated(0.0).expand(1, 3, 32, 32))
        torch.testing.assert_close(model.encode(x), reference.expand(3, -1), atol=0.05,
                                   rtol=0.05)
        with pytest.raises(ValueError, match="encoder_frame"):
            DiffusionAutoencoder((3, 8, 8), encoder_frame="upright")

    def test_training_turns_the_encoder_view_by_grid_symmetries_only(self, X):
        seen = {}

        class Spy:
            encoder_frame = "canonical"

            def loss(self, encoder_images, target_images, t, noise, weights):
                seen.update(encoder=encoder_images)
                return target_images.sum()

        from minuet_sk.nn.diffusion import GaussianDiffusion

        Spy.diffusion = GaussianDiffusion(10)
        x = torch.from_numpy(X[:16])
        DenoisingLoss()(Spy(), x, torch.ones_like(x), torch.Generator().manual_seed(0), True)
        turns = [torch.rot90(image, k, (1, 2)) for image in x for k in range(4)]
        copies = turns + [t.flip(2) for t in turns]
        for seen_image, image in zip(seen["encoder"], x):
            candidates = [c for c in copies if c.shape == image.shape]
            assert any(torch.allclose(seen_image, c, atol=1e-5) for c in candidates)
        flipped = sum(not torch.allclose(s, i, atol=1e-5) for s, i in zip(seen["encoder"], x))
        assert flipped >= 8  # 7 in 8 are turned or mirrored

    def test_fits_and_rotated_copies_get_the_same_latents(self, X):
        est = MinuetEncoder(3, **TINY, encoder_frame="canonical", target_frame="canonical")
        est.fit(X)
        # lopsided elongated galaxies (an off-centre knot): one canonical frame each
        rng = np.random.default_rng(1)
        yy, xx = np.mgrid[:16, :16] - 7.5
        images = []
        for angle in rng.uniform(0, np.pi, 6):
            u = np.cos(angle) * xx + np.sin(angle) * yy
            v = -np.sin(angle) * xx + np.cos(angle) * yy
            light = np.exp(-(u / 3) ** 2 - v**2) + 0.5 * np.exp(-(u - 2) ** 2 - (v - 1) ** 2)
            images.append(rng.uniform(0.5, 2, (3, 1, 1)) * light)
        images = np.stack(images).astype(np.float32)
        Z = est.transform(images.reshape(len(images), -1))
        for turned in (np.rot90(images, 1, (2, 3)), images[..., ::-1]):
            np.testing.assert_allclose(
                est.transform(np.ascontiguousarray(turned).reshape(len(images), -1)), Z,
                atol=1e-4)


class TestScoreSamples:
    def test_deterministic_and_independent_of_the_batch(self, fitted, X):
        scores = fitted.score_samples(X[:10])
        assert scores.shape == (10,) and np.isfinite(scores).all()
        np.testing.assert_array_equal(fitted.score_samples(X[:10]), scores)
        other = pickle.loads(pickle.dumps(fitted)).set_params(batch_size=3)
        np.testing.assert_allclose(other.score_samples(X[:10]), scores, rtol=1e-5)
        np.testing.assert_allclose(fitted.score_samples(X[5:10]), scores[5:], rtol=1e-5)

    def test_images_unlike_the_training_set_score_lower(self, fitted, X):
        rng = np.random.default_rng(0)
        noise = rng.normal(0, 3 * X.std(), X[:10].shape).astype(np.float32)
        assert fitted.score_samples(noise).max() < fitted.score_samples(X[:10]).min()

    def test_a_compact_source_the_latents_cannot_describe_scores_lower(self, fitted, X):
        images = X[:10].reshape((10,) + SHAPE)
        spoilt = images.copy()
        spoilt[:, :, 1:3, 1:3] += 3 * X.max()  # a spot brighter than any galaxy, in a corner
        assert np.all(fitted.score_samples(spoilt) < fitted.score_samples(images))
        # the same pixels given as missing are left out: the spot no longer counts
        masked = spoilt.copy()
        masked[:, :, 1:3, 1:3] = np.nan
        assert np.all(fitted.score_samples(masked) > fitted.score_samples(spoilt))

    def test_missing_pixels_are_left_out(self, fitted, X):
        holed = X[:4].copy().reshape((4,) + SHAPE)
        holed[:, :, :4, :4] = np.nan
        scores = fitted.score_samples(holed.reshape(4, -1))
        assert np.isfinite(scores).all()
