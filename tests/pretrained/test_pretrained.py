"""The shipped weights load offline and give useful, reproducible latents."""

import copy
import json
from importlib import resources

import numpy as np
import pytest
from sklearn.base import clone

from minuet_sk import AsinhStretch, MinuetEncoder, make_pipeline
from minuet_sk.datasets import make_galaxies


@pytest.fixture(scope="module")
def model():
    return MinuetEncoder.from_pretrained("sim-grz-72", device="cpu")


def test_loads_offline_as_a_fitted_encoder(model):
    assert model.image_shape_ == (3, 72, 72)
    assert list(model.get_feature_names_out()) == [f"minuet{i}" for i in range(5)]
    card = json.loads((resources.files("minuet_sk") / "pretrained" / "sim-grz-72"
                       / "training.json").read_text())
    assert "make_galaxies" in card["trained_on"] and card["epochs_run"] >= 1
    # the weights carry the default stretch: a changed default must retrain them
    assert card["stretch_softening"] == AsinhStretch().softening
    assert model.stretch_.get_params() == AsinhStretch(image_shape=(3, 72, 72)).get_params()


@pytest.fixture(scope="module")
def raw():
    return make_galaxies(24, random_state=11).images  # nanomaggies, as a user has them


def test_latents_of_raw_cutouts_are_those_of_the_stretch_it_was_trained_after(model, raw):
    Z = model.transform(raw)
    np.testing.assert_array_equal(Z, model.transform(raw))
    assert Z.shape == (24, 5) and np.all(Z.std(axis=0) > 0)
    bare = copy.deepcopy(model).set_params(stretch=None)
    bare.stretch_ = None  # the same network, fed the stretch by hand
    np.testing.assert_allclose(bare.transform(AsinhStretch().fit_transform(raw)), Z,
                               rtol=1e-5, atol=1e-6)


def test_reconstructions_come_back_in_nanomaggies(model, raw):
    recon = model.reconstruct(raw[:2])
    assert recon.shape == (2, 3, 72, 72)
    # fluxes, not stretched values: the brightest pixel is of the input's order
    ratio = recon.max() / raw[:2].max()
    assert 0.1 < ratio < 10


def test_loads_on_the_gpu_where_there_is_one():
    assert MinuetEncoder.from_pretrained().device == "auto"
    config = json.loads((resources.files("minuet_sk") / "pretrained" / "sim-grz-72"
                         / "config.json").read_text())
    assert config["params"]["device"] == "auto"


def test_fit_and_clone_keep_the_pretrained_weights(model, raw):
    assert model.pretrained == "sim-grz-72"
    refit = copy.deepcopy(model).fit(raw)  # loads the weights: nothing is trained
    np.testing.assert_array_equal(refit.transform(raw), model.transform(raw))
    fresh = clone(model)
    assert fresh.pretrained == "sim-grz-72" and not hasattr(fresh, "net_")
    piped = make_pipeline(fresh).fit(raw)
    np.testing.assert_array_equal(piped.transform(raw), model.transform(raw))
    assert piped[-1].n_iter_ == model.n_iter_ == 40


def test_cross_validation_of_a_pipeline_uses_the_weights(model, raw):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, cross_val_predict

    y = (model.transform(raw)[:, 0] > np.median(model.transform(raw)[:, 0])).astype(int)
    pipe = make_pipeline(model, LogisticRegression())
    # each fold's encoder gives the shipped latents: the probe separates them at once
    predicted = cross_val_predict(pipe, raw, y, cv=3)
    assert (predicted == y).mean() > 0.8
    search = GridSearchCV(pipe, {"minuetencoder__batch_size": [8, 64]}, cv=2).fit(raw, y)
    np.testing.assert_allclose(search.best_estimator_[0].transform(raw), model.transform(raw),
                               atol=1e-5)


def test_parameters_the_weights_fix_are_refused_clearly(model, raw):
    with pytest.raises(ValueError, match=r"width=64 \(here 32\).*from_pretrained"):
        clone(model).set_params(width=32).fit(raw)
    with pytest.raises(ValueError, match="were trained with stretch=.*AsinhStretch"):
        MinuetEncoder(pretrained="sim-grz-72-v2", device="cpu").fit(raw)
    with pytest.raises(ValueError, match="encoder_frame='canonical'"):
        MinuetEncoder(pretrained="sim-grz-72-v2", stretch=AsinhStretch(), device="cpu",
                      encoder_frame="random").fit(raw)
    trained = clone(model).set_params(pretrained=None, max_epochs=1, batch_size=8,
                                      random_state=0)
    assert trained.fit(raw[:16]).n_iter_ == 1  # trained afresh, on request


def test_a_saved_folder_loads_as_pretrained(model, raw, tmp_path):
    again = MinuetEncoder.from_pretrained(model.save(tmp_path / "mine"), device="cpu")
    assert again.pretrained_ == str(tmp_path / "mine")
    np.testing.assert_array_equal(again.transform(raw), model.transform(raw))


def test_unknown_name_lists_what_is_shipped_and_points_to_load():
    with pytest.raises(ValueError, match=r"sim-grz-72.*MinuetEncoder\.load"):
        MinuetEncoder.from_pretrained("hubble-9000")


def test_a_clone_that_warm_starts_fine_tunes_the_weights(model, raw):
    tuned = clone(model).set_params(warm_start=True, max_epochs=1, early_stopping=False,
                                    random_state=0, device="cpu")
    tuned.fit(raw)
    assert tuned.n_iter_ == model.n_iter_ + 1
    np.testing.assert_array_equal(tuned.band_median_, model.band_median_)
    assert not np.allclose(tuned.transform(raw), model.transform(raw))


def test_fine_tuning_continues_from_the_shipped_weights(model, raw):
    tuned = copy.deepcopy(model).set_params(warm_start=True, max_epochs=2, lr=3e-4,
                                            early_stopping=False, random_state=0)
    tuned.fit(raw)
    assert tuned.net_.optimizer_.param_groups[0]["lr"] == 3e-4
    # its history goes on from the shipped epochs
    assert tuned.n_iter_ == len(tuned.history_) == len(model.history_) + 2
    assert [h["epoch"] for h in tuned.history_[-2:]] == [model.n_iter_ + 1, model.n_iter_ + 2]
    # the standardisation and the stretch learned with the weights are kept
    np.testing.assert_array_equal(tuned.band_median_, model.band_median_)
    assert tuned.stretch_.softening == model.stretch_.softening
    # the weights moved a little: the latents changed, yet each still tracks its old self
    Z, Z_tuned = model.transform(raw), tuned.transform(raw)
    assert not np.allclose(Z, Z_tuned)
    corr = [np.corrcoef(Z[:, i], Z_tuned[:, i])[0, 1] for i in range(Z.shape[1])]
    assert min(corr) > 0.9


def test_a_stopped_fine_tuning_resumes_from_its_checkpoint(model, raw, tmp_path):
    settings = {"warm_start": True, "early_stopping": False, "validation_fraction": 0.0,
                "batch_size": 8, "random_state": 0}
    whole = clone(model).set_params(max_epochs=2, **settings).fit(raw)
    ckpt = tmp_path / "tuning"
    clone(model).set_params(max_epochs=1, checkpoint_dir=ckpt, **settings).fit(raw)  # "killed"
    resumed = clone(model).set_params(max_epochs=2, checkpoint_dir=ckpt, **settings).fit(raw)
    # two epochs of fine-tuning in all, after the shipped ones, as if never stopped
    assert resumed.n_iter_ == whole.n_iter_ == model.n_iter_ + 2
    np.testing.assert_array_equal(resumed.transform(raw), whole.transform(raw))
    # started again when done, it trains no more; another model's checkpoint is refused
    again = clone(model).set_params(max_epochs=2, checkpoint_dir=ckpt, **settings).fit(raw)
    assert again.n_iter_ == model.n_iter_ + 2
    np.testing.assert_array_equal(again.transform(raw), whole.transform(raw))
    other = MinuetEncoder.from_pretrained("sim-grz-72-v2", device="cpu")
    with pytest.raises(ValueError, match="other values"):
        clone(other).set_params(max_epochs=1, checkpoint_dir=ckpt, **settings).fit(raw)


def test_v4_is_the_default_and_its_latents_ignore_orientation(raw):
    v4 = MinuetEncoder.from_pretrained(device="cpu")
    assert v4.pretrained_ == "sim-grz-72-v4" and v4.encoder_frame == "canonical"
    card = json.loads((resources.files("minuet_sk") / "pretrained" / "sim-grz-72-v4"
                       / "training.json").read_text())
    # v3's 150 epochs, then 20 of 60,000 pairs: each galaxy seen on three other nights
    assert card["epochs_run"] == 170 and card["images_seen"] == 1_200_000
    assert card["fine_tuned_from"] == "sim-grz-72-v3" and "on 3 random nights" in card[
        "encoder_views"]
    assert card["stretch_softening"] == AsinhStretch().softening
    # its decoder rebuilt each galaxy at reference conditions, and the card says which
    assert "noiseless=True, seeing=1.28" in card["reference"]
    # shipped to be used, not fine-tuned again by the next fit
    assert v4.get_params()["warm_start"] is False
    # the recipe of the shipped weights is the class's defaults
    defaults = MinuetEncoder().get_params()
    assert {k: v4.get_params()[k] for k in ("encoder_frame", "target_frame", "ema_decay")} == {
        k: defaults[k] for k in ("encoder_frame", "target_frame", "ema_decay")}
    Z = v4.transform(raw)
    assert Z.shape == (24, 5) and np.all(Z.std(axis=0) > 0)
    # the canonical frame: turned copies give the same latents, unless the frame itself is
    # ambiguous (nearly round second moments, or light too symmetric to tell a mirror)
    for turned in (np.rot90(raw, 1, axes=(2, 3)), raw[..., ::-1]):
        moved = np.abs(v4.transform(np.ascontiguousarray(turned)) - Z).max(axis=1)
        assert np.mean(moved < 1e-4) >= 0.9


@pytest.mark.parametrize("name", ["sim-grz-72", "sim-grz-72-v2", "sim-grz-72-v3"])
def test_older_weights_keep_loading(raw, name):
    older = MinuetEncoder.from_pretrained(name, device="cpu")
    assert older.pretrained_ == name
    Z = older.transform(raw)
    assert Z.shape == (24, 5) and np.all(Z.std(axis=0) > 0)
    assert older.latent_id_ != MinuetEncoder.from_pretrained(device="cpu").latent_id_


def test_the_default_flow_reads_the_default_encoders_latents():
    from scipy.stats import spearmanr

    from minuet_sk import FlowPropertyRegressor

    flow = FlowPropertyRegressor.from_pretrained(device="cpu")
    assert flow.pretrained_ == flow.pretrained == "sim-grz-72-v4-flow"
    card = json.loads((resources.files("minuet_sk") / "pretrained" / "sim-grz-72-v4-flow"
                       / "training.json").read_text())
    assert "'sim-grz-72-v4'" in card["what"] and "--encoder sim-grz-72-v4" in card["command"]
    galaxies = make_galaxies(60, random_state=12)
    latents = MinuetEncoder.from_pretrained(device="cpu").set_output(
        transform="pandas").transform(galaxies.images)
    redshift = flow.predict_dist(latents).median()[:, 0]
    assert spearmanr(redshift, galaxies.target["redshift"]).statistic > 0.8


def test_padded_and_clipped_cutouts_keep_their_latents(raw):
    from minuet_sk.datasets._cutouts import center_crop

    shipped = MinuetEncoder.from_pretrained(device="cpu")
    Z = shipped.transform(raw)
    spread = Z.std(axis=0)
    for spoilt in (center_crop(center_crop(raw, 64), 72),  # smaller cutouts, padded
                   np.where(np.arange(72) < 10, np.nan, raw)):  # a survey edge
        Z_spoilt = shipped.transform(spoilt)
        # the missing pixels are filled with each cutout's sky: not a noiseless patch that
        # the latent tracking the noise reads as another night (shift 1.05 spreads before)
        assert np.median(np.abs(Z_spoilt - Z) / spread, axis=0).max() < 0.35
        distance = (((Z_spoilt[:, None] - Z[None]) / spread) ** 2).sum(-1)
        assert (distance.argmin(axis=1) == np.arange(len(Z))).mean() >= 0.9


def test_latents_say_which_encoder_made_them_and_a_flow_refuses_anothers(raw):
    import warnings

    from minuet_sk import FlowPropertyRegressor, Pipeline

    v1 = MinuetEncoder.from_pretrained("sim-grz-72", device="cpu").set_output(
        transform="pandas")
    v4 = MinuetEncoder.from_pretrained(device="cpu").set_output(transform="pandas")
    Z1, Z4 = v1.transform(raw), v4.transform(raw)
    assert Z1.attrs["minuet_sk.latent_id"] == v1.latent_id_ != v4.latent_id_
    assert list(Z1.columns) == list(Z4.columns)  # the names alone cannot tell them apart
    flow = FlowPropertyRegressor.from_pretrained(device="cpu")
    # the shipped flows know the shipped encoders by their weights' fingerprint
    assert flow.features_id_ == v4.latent_id_
    assert FlowPropertyRegressor.from_pretrained("sim-grz-72-flow").features_id_ == v1.latent_id_
    with pytest.raises(ValueError, match=r"made by MinuetEncoder/sim-grz-72:.*trained on"):
        flow.predict_dist(Z1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # plain arrays of latents: no check, no warning
        assert flow.predict(Z4.to_numpy()).shape == (len(raw), 3)
    np.testing.assert_allclose(flow.predict(Z4), flow.predict(Z4.to_numpy()))
    # the same weights under another name make the same latents: accepted
    renamed = Z4.copy()
    renamed.attrs["minuet_sk.latent_id"] = v4.latent_id_.replace("sim-grz-72-v4", "mine")
    assert flow.predict(renamed).shape == (len(raw), 3)
    # the shipped encoder and its flow as one model
    both = Pipeline.from_pretrained("sim-grz-72", device="cpu")
    assert both[-1].pretrained == "sim-grz-72-flow"
    assert both.predict_dist(raw, n_samples=20).samples.shape == (len(raw), 20, 3)


def test_a_flow_trained_on_latents_remembers_their_encoder(raw):
    from minuet_sk import FlowPropertyRegressor

    shipped = MinuetEncoder.from_pretrained(device="cpu").set_output(transform="pandas")
    Z = shipped.transform(raw)
    flow = FlowPropertyRegressor(n_transforms=2, hidden_features=8, max_epochs=2,
                                 random_state=0, device="cpu").fit(Z, Z["minuet0"])
    assert flow.features_id_ == shipped.latent_id_
    other = Z.copy()
    other.attrs["minuet_sk.latent_id"] = "MinuetEncoder/fitted:000000000000"
    with pytest.raises(ValueError, match="another encoder's latents"):
        flow.sample(other, 3)


def test_reconstructions_turn_back_into_the_inputs_orientation(raw):
    shipped = MinuetEncoder.from_pretrained(device="cpu").set_params(sampling_steps=5)
    turned = np.ascontiguousarray(np.rot90(raw, 1, axes=(2, 3)))
    drawn = shipped.reconstruct(raw, frame="canonical")
    # the canonical frame takes the orientation away: a turned galaxy is drawn alike
    moved = np.abs(shipped.reconstruct(turned, frame="canonical") - drawn).max(axis=(1, 2, 3))
    assert np.mean(moved < 1e-3 * np.abs(drawn).max()) >= 0.9
    # "input" gives it back: the turned galaxy's reconstruction is the turned reconstruction
    back, back_turned = shipped.reconstruct(raw), shipped.reconstruct(turned)
    np.testing.assert_allclose(np.rot90(back, 1, axes=(2, 3)), back_turned, atol=1e-4)

    def pixel_correlation(images):
        return np.mean([np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(images, raw)])

    # like with like: pixel by pixel, the turned reconstructions match the inputs better
    assert pixel_correlation(back) > pixel_correlation(drawn) + 0.03
    with pytest.raises(ValueError, match="frame must be"):
        shipped.reconstruct(raw, frame="sky")
