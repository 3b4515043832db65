"""One save/load for every estimator (``_persistence``): the class table, any class through
``load_estimator``, and shipped weights by name."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from _helpers import TINY_FLOW, TINY_VAE, make_blobs_images
from sklearn.base import clone

from minuet_sk import EigengalaxyPCA, FlowPropertyRegressor, VAEEncoder
from minuet_sk._persistence import (
    SAVED_CLASSES,
    load_estimator,
    load_pretrained,
    saved_class,
    shipped_models,
)

SHAPE = (3, 8, 8)


def _fitted():
    X = make_blobs_images(24, SHAPE)
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(60, 2))
    return {
        "pca": (EigengalaxyPCA(2, image_shape=SHAPE).fit(X), X),
        "vae": (VAEEncoder(2, image_shape=SHAPE, **TINY_VAE).fit(X), X),
        "flow": (FlowPropertyRegressor(**TINY_FLOW, device="cpu")
                 .fit(Z, Z[:, 0] + 0.1 * rng.normal(size=60)), Z),
    }


@pytest.mark.parametrize("name", ["pca", "vae", "flow"])
def test_any_saved_estimator_loads_through_the_class_its_config_names(name, tmp_path):
    est, X = _fitted()[name]
    back = load_estimator(est.save(tmp_path / name), device="cpu")
    assert type(back) is type(est)
    out = back.predict(X) if name == "flow" else back.transform(X)
    np.testing.assert_allclose(out, est.predict(X) if name == "flow" else est.transform(X),
                               rtol=1e-6, atol=1e-6)


def test_a_config_naming_another_class_is_refused(tmp_path):
    est, _ = _fitted()["pca"]
    path = est.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config["class"] = "subprocess.Popen"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="does not load"):
        load_estimator(path)
    with pytest.raises(ValueError, match="does not load"):
        saved_class("Popen")


def test_every_class_of_the_table_is_importable_and_loads_itself():
    for name in SAVED_CLASSES:
        cls = saved_class(name)
        assert cls.__name__ == name and hasattr(cls, "get_params")


def test_shipped_models_load_by_name_whatever_their_class():
    assert {"sim-grz-72", "sim-grz-72-flow", "sim-grz-72-v2",
            "sim-grz-72-v2-flow"} <= set(shipped_models())
    flow = load_pretrained("sim-grz-72-flow", device="cpu")
    assert type(flow).__name__ == "FlowPropertyRegressor"
    assert flow.pretrained_ == "sim-grz-72-flow"
    # fit loads the weights it names (y unused), and so does a clone's fit
    X = np.random.default_rng(0).normal(size=(10, 5))
    refit = clone(flow).fit(X, np.zeros(10))
    np.testing.assert_array_equal(refit.sample(X, 7), flow.sample(X, 7))
    assert refit.n_iter_ == flow.n_iter_
    with pytest.raises(ValueError, match=r"hidden_features=32 \(here 8\)"):
        clone(flow).set_params(hidden_features=8).fit(X, np.zeros(10))
    with pytest.raises(ValueError, match=r"load_estimator\(path\)"):
        load_pretrained("hubble-9000")


class TestFoldersSavedBeforeTheLayoutChange:
    """Folders saved by minuet_sk before the "one class, one file" layout (commit c100b3e;
    ``tests/data/saved_before_33/make_saved_models.py``) load with today's code and compute
    what they computed then."""

    SAVED = Path(__file__).parent / "data" / "saved_before_33"

    @pytest.fixture(scope="class")
    @classmethod
    def expected(cls):
        return np.load(cls.SAVED / "expected.npz")

    def test_encoders_encode_and_decode_as_before(self, expected):
        X = expected["X"]
        minuet = load_estimator(self.SAVED / "minuet", device="cpu")
        assert type(minuet).__name__ == "MinuetEncoder"
        assert "denoiser" not in minuet.get_params()  # a removed option, dropped
        np.testing.assert_allclose(minuet.transform(X), expected["minuet_transform"],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(minuet.inverse_transform(expected["minuet_transform"][:2]),
                                   expected["minuet_inverse"], rtol=1e-4, atol=1e-5)
        for name in ("vae", "pca"):
            model = load_estimator(self.SAVED / name, device="cpu")
            np.testing.assert_allclose(model.transform(X), expected[f"{name}_transform"],
                                       rtol=1e-5, atol=1e-6)

    def test_the_flow_samples_and_scores_as_before(self, expected):
        flow = FlowPropertyRegressor.load(self.SAVED / "flow", device="cpu")
        Z = expected["minuet_transform"]
        np.testing.assert_allclose(flow.sample(Z[:3], 5, random_state=1),
                                   expected["flow_sample"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(flow.log_prob(Z, expected["y"]), expected["flow_log_prob"],
                                   rtol=1e-5, atol=1e-5)

    @pytest.mark.parametrize(("key", "value", "match"), [
        ("denoiser", "unet", "an option removed"),
        ("snr_gamma", 5.0, "an option removed"),
        ("colour_jitter", 0.1, "does not know"),
    ])
    def test_a_removed_option_in_use_or_an_unknown_parameter_is_refused(
            self, tmp_path, key, value, match):
        folder = tmp_path / "minuet"
        shutil.copytree(self.SAVED / "minuet", folder)
        config = json.loads((folder / "config.json").read_text())
        config["params"][key] = value
        (folder / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=match):
            load_estimator(folder)
