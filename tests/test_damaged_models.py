"""A shared model folder (``config.json`` + ``model.safetensors``) that was cut short,
overwritten or edited gets one clear error naming the file, before any large allocation,
for every saved class; a folder saved by a newer version warns. The arrays' counterpart is
``test_bad_inputs.py``."""

import json
import shutil
import struct
from pathlib import Path

import pytest

from minuet_sk._persistence import load_estimator

SAVED = Path(__file__).parent / "data" / "saved_before_33"
CLASSES = ["minuet", "vae", "pca", "flow"]


def _copy(name, tmp_path):
    folder = tmp_path / name
    shutil.copytree(SAVED / name, folder)
    return folder


def _edit_config(folder, edit):
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


def _cut_short(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


def _garbage(folder):
    (folder / "model.safetensors").write_bytes(b"\x13\x37" * 500)


def _absurd_header(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 2**62) + data[8:])


def _no_weights(folder):
    (folder / "model.safetensors").unlink()


def _not_json(folder):
    (folder / "config.json").write_text('{"class": "MinuetEncoder", "params": {')


def _not_an_object(folder):
    (folder / "config.json").write_text("[1, 2, 3]")


def _no_fitted_state(folder):
    _edit_config(folder, lambda c: c.pop("fitted"))


def _fitted_value_missing(folder):
    _edit_config(folder, lambda c: c["fitted"].pop(min(c["fitted"])))


DAMAGES = {
    "weights cut short": (_cut_short, OSError, "model.safetensors"),
    "weights overwritten": (_garbage, OSError, "model.safetensors"),
    "absurd header length": (_absurd_header, OSError, "model.safetensors"),
    "weights missing": (_no_weights, OSError, "model.safetensors"),
    "config not JSON": (_not_json, ValueError, "config.json"),
    "config not an object": (_not_an_object, ValueError, "config.json"),
    "fitted state missing": (_no_fitted_state, ValueError, "config.json"),
    "a fitted value missing": (_fitted_value_missing, ValueError, "config.json"),
}


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_folder_gets_one_clear_error_naming_the_file(name, damage, tmp_path):
    spoil, error, file_name = DAMAGES[damage]
    folder = _copy(name, tmp_path)
    spoil(folder)
    with pytest.raises(error, match=file_name):
        load_estimator(folder)


# a size parameter of each class, and a value that would allocate tens of gigabytes (or more)
# if the loader built the model before checking it against the weights
ABSURD_SIZES = {
    "minuet": ("params", "width", 200_000),
    "vae": ("params", "channels", [100_000]),
    "pca": ("fitted", "n_components_", 10**9),
    "flow": ("params", "hidden_features", 10**6),
}


@pytest.mark.parametrize("name", CLASSES)
def test_absurd_sizes_are_refused_against_the_weights_before_any_allocation(name, tmp_path):
    part, key, value = ABSURD_SIZES[name]
    folder = _copy(name, tmp_path)
    _edit_config(folder, lambda c: c[part].__setitem__(key, value))
    with pytest.raises(ValueError, match="config.json.*(do not match|at least)"):
        load_estimator(folder)


WRONG_TYPES = {
    "minuet": ("width", "64"),
    "vae": ("beta", "one"),
    "pca": ("n_components", "3"),
    "flow": ("n_bins", "eight"),
}


@pytest.mark.parametrize("name", CLASSES)
def test_a_string_where_a_number_belongs_is_refused_clearly(name, tmp_path):
    key, value = WRONG_TYPES[name]
    folder = _copy(name, tmp_path)
    _edit_config(folder, lambda c: c["params"].__setitem__(key, value))
    with pytest.raises(ValueError, match=f"config.json.*{key}"):
        load_estimator(folder)


def test_the_nested_stretch_is_checked_too(tmp_path):
    folder = _copy("minuet", tmp_path)
    _edit_config(folder, lambda c: c["params"]["stretch"]["params"].__setitem__("softening",
                                                                                "soft"))
    with pytest.raises(ValueError, match="config.json.*softening"):
        load_estimator(folder)


def test_an_inconsistent_fitted_state_is_refused(tmp_path):
    folder = _copy("minuet", tmp_path)
    _edit_config(folder, lambda c: c["fitted"].__setitem__("image_shape_", [3, 9000, 9000]))
    with pytest.raises(ValueError, match="config.json.*inconsistent"):
        load_estimator(folder)


@pytest.mark.parametrize("name", CLASSES)
def test_a_folder_saved_by_a_newer_version_warns_and_loads(name, tmp_path):
    folder = _copy(name, tmp_path)
    _edit_config(folder, lambda c: c.__setitem__("version", "99.1.0"))
    with pytest.warns(UserWarning, match="newer than this"):
        model = load_estimator(folder)
    assert hasattr(model, "n_features_in_")
