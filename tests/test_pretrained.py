"""The shipped weights load offline and give useful, reproducible latents."""

import json
from importlib import resources

import numpy as np
import pytest

from minuet_sk import AsinhStretch, MinuetEncoder
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
    # the weights expect the default stretch: a changed default must retrain them
    assert card["stretch_softening"] == AsinhStretch().softening


def test_latents_of_simulated_galaxies_are_deterministic_and_spread(model):
    galaxies = make_galaxies(24, random_state=11)
    X = AsinhStretch().fit_transform(galaxies.images)
    Z = model.transform(X)
    np.testing.assert_array_equal(Z, model.transform(X))
    assert Z.shape == (24, 5) and np.all(Z.std(axis=0) > 0)


def test_unknown_name_lists_what_is_shipped():
    with pytest.raises(ValueError, match="sim-grz-72"):
        MinuetEncoder.from_pretrained("hubble-9000")
