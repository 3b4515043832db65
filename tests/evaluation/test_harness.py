"""The benchmark harness of ``minuet_sk.evaluation`` (``minuet benchmark``, ``minuet demo``)
end to end on a tiny configuration: the harness, not the figures."""

import json
import re

import numpy as np
import pytest

from minuet_sk.evaluation import PRESETS, run_benchmark, write_figures, write_report
from minuet_sk.evaluation.config import PROBE_TASKS
from minuet_sk.metrics import FACTORS


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    results, artifacts = run_benchmark("tiny", out_dir=out, progress=False)
    return out, results, artifacts


def test_results_json_has_every_question(tiny_run):
    out, _, _ = tiny_run
    saved = json.loads((out / "results.json").read_text())
    assert saved["seed"] == PRESETS["tiny"].seed
    assert {"package_version", "settings", "machine", "data", "pixel_probes",
            "oracle_posteriors", "peak_memory_mb"} <= set(saved)
    assert set(saved["encoders"]) == {"minuet", "vae", "pca"}
    for name, enc in saved["encoders"].items():
        assert set(enc) == {"reconstruction", "factors", "latent_factors", "probes",
                            "posteriors", "similarity", "orientation", "correlations",
                            "cost"}, name
        assert set(enc["latent_factors"]) == {"r magnitude", "log half-light radius", "g - r",
                                              "bulge fraction", "axis ratio"}
        assert all(np.isfinite(v) and v <= 1 for v in enc["latent_factors"].values())
        kinds = ({"reconstruction", "mean of samples", "one sample"} if name == "minuet"
                 else {"reconstruction"})
        assert set(enc["factors"]) == kinds
        for per_factor in enc["factors"].values():
            assert set(per_factor) == set(FACTORS)
            assert all({"spearman", "r2", "n"} == set(v) for v in per_factor.values())
        assert len(enc["reconstruction"]["mse_per_band"]) == 3
        assert set(enc["probes"]) == set(PROBE_TASKS)
        assert {"sigma_nmad", "outlier_fraction", "bias"} == set(enc["posteriors"]["redshift"])
        assert set(enc["posteriors"]["coverage_68"]) == {"redshift", "log_mstar", "log_sfr"}
        assert 0 <= enc["posteriors"]["tarp"]["max_deviation"] <= 1
        assert {"rot90", "flip_lr", "mean"} <= set(enc["orientation"])
        assert {"fit_seconds", "transform_galaxies_per_s",
                "inverse_transform_galaxies_per_s", "flow_samples_per_s"} <= set(enc["cost"])
    assert "mse_per_band_posterior_mean" in saved["encoders"]["minuet"]["reconstruction"]
    real = saved["real_galaxies"]
    assert real["n_galaxies"] > 50
    for name in ("minuet", "vae", "pca"):
        assert set(real[name]) == {"rotation_shift", "neighbours' size", "neighbours' colour",
                                   "neighbours' concentration"}
        assert real[name]["rotation_shift"] > 0
        assert all(-1 <= v <= 1 for k, v in real[name].items() if k != "rotation_shift")


def test_split_is_held_out(tiny_run):
    _, results, artifacts = tiny_run
    n = PRESETS["tiny"].n_galaxies
    assert results["data"]["n_train"] + results["data"]["n_test"] == n
    assert len(artifacts["X_test"]) == results["data"]["n_test"]


def test_the_last_galaxies_are_held_out(tiny_run):
    import pandas as pd

    from minuet_sk.evaluation.harness import simulated_split

    _, _, artifacts = tiny_run
    config = PRESETS["tiny"]
    galaxies, train, test = simulated_split(config)
    n_test = round(config.test_fraction * config.n_galaxies)
    assert train.tolist() == list(range(config.n_galaxies - n_test))
    assert test.tolist() == list(range(config.n_galaxies - n_test, config.n_galaxies))
    pd.testing.assert_frame_equal(artifacts["truth_test"],
                                  galaxies.truth.iloc[test].reset_index(drop=True))


def test_markdown_and_report(tiny_run):
    out, _, artifacts = tiny_run
    text = (out / "results.md").read_text()
    for heading in ("1. Reconstruction", "2. Galaxy Zoo probes", "3. Physical posteriors",
                    "4. Similarity", "5. Orientation", "6. Correlations", "7. Cost"):
        assert heading in text
    paths = write_figures(artifacts, out)
    assert all(p.stat().st_size > 1000 for p in paths)
    assert "5b_rotated_copies" in [p.stem for p in paths]
    page = write_report(out).read_text()
    assert page.count("<img") == len(paths) and page.count("<table") >= 7
    sections = re.findall(r"<h2 id='section-(\d+)'>", page)
    assert sections == [str(n) for n in range(1, 10)]
    assert all(f"<th>{name}0</th>" in page for name in ("minuet", "vae", "pca"))
    assert not re.search(r"latent ?\d", page)


def test_best_of_a_row_in_bold_and_the_smallest_absolute_bias():
    import pandas as pd

    from minuet_sk.evaluation.tables import format_table

    frame = pd.DataFrame({"a": [0.5, -0.30], "b": [0.2, 0.05]},
                         index=["redshift sigma_nmad", "redshift bias"])
    table = format_table(frame, "lower")
    assert table.loc["redshift sigma_nmad"].tolist() == ["0.5", "**0.2**"]
    assert table.loc["redshift bias"].tolist() == ["-0.3", "**0.05**"]
    assert format_table(frame, "higher").loc["redshift sigma_nmad", "a"] == "**0.5**"


def test_rotated_copies_and_their_reconstructions(tiny_run):
    _, _, artifacts = tiny_run
    rotated = artifacts["rotated"]
    X = artifacts["X_test"]
    copies = rotated["inputs"]
    assert copies.shape == (3, 3, *X.shape[1:])
    np.testing.assert_array_equal(copies[:, 0], X[:3])
    np.testing.assert_array_equal(copies[:, 1], np.rot90(X[:3], 1, axes=(2, 3)))
    np.testing.assert_array_equal(copies[:, 2], X[:3, ..., ::-1])
    assert set(rotated["recon"]) == {"minuet", "vae", "pca"}
    pca = artifacts["encoders"]["pca"]
    want = pca.inverse_transform(pca.transform(copies[:, 1])).reshape(copies[:, 1].shape)
    np.testing.assert_allclose(rotated["recon"]["pca"][:, 1], want, rtol=1e-5, atol=1e-6)


def test_the_report_says_where_minuet_came_from():
    from minuet_sk.evaluation.report import _minuet_origin

    data = {"data": {"n_train": 700}}
    shipped = _minuet_origin({"minuet": {"pretrained": "sim-grz-72"}}, data)
    assert "shipped weights 'sim-grz-72'" in shipped and "not fitted here" in shipped
    assert "pretrained/sim-grz-72/training.json" in shipped
    trained = _minuet_origin({"minuet": {"max_epochs": 30}}, data)
    assert "all fitted here on the 700 training galaxies" in trained and "30 epochs" in trained


def test_latent_factors_rewards_latents_that_hold_the_factors():
    from minuet_sk.datasets import make_galaxies
    from minuet_sk.evaluation.questions import latent_factors

    truth = make_galaxies(120, image_size=16, cache=False, random_state=3).truth
    config = PRESETS["tiny"]
    holding = np.c_[truth["mag_r"], np.log10(truth["half_light_radius_arcsec"]),
                    truth["mag_g"] - truth["mag_r"], truth["bulge_fraction"],
                    truth["axis_ratio"]]
    assert min(latent_factors(holding, truth, config).values()) > 0.999
    noise = np.random.default_rng(0).normal(size=(120, 5))
    assert max(latent_factors(noise, truth, config).values()) < 0.1


def test_shipped_weights_take_the_presets_sampling_settings_and_nothing_else():
    import dataclasses

    from minuet_sk.evaluation.harness import encoders

    config = dataclasses.replace(PRESETS["demo"], device="cpu")
    assert config.minuet == {"pretrained": "sim-grz-72-v4", "sampling_steps": 20}
    minuet = encoders(config)[0]["minuet"]
    assert minuet.sampling_steps == 20 and minuet.pretrained_ == "sim-grz-72-v4"
    wider = dataclasses.replace(config, minuet={**config.minuet, "width": 128})
    with pytest.raises(ValueError, match="used as trained"):
        encoders(wider)


def test_reobservation_asks_whether_the_latents_describe_the_galaxy_or_the_night(tiny_run):
    from minuet_sk.evaluation.questions import REOBSERVATIONS

    _, results, _ = tiny_run
    again = results["reobservation"]
    assert set(again) == {"minuet", "vae", "pca"}
    for name, answer in again.items():
        assert set(answer["stability"]) == set(REOBSERVATIONS)
        for figures in answer["stability"].values():
            assert 0 <= figures["top1"] <= figures["top5"] <= 1 and figures["shift_nn"] >= 0
        spearman = answer["conditions"]["spearman"]
        assert set(spearman) == {f"{name}{i}" for i in range(5)}
        assert answer["conditions"]["max_abs_spearman"] == max(
            abs(v) for latent in spearman.values() for v in latent.values())
        assert set(answer["conditions"]["r2"]) == {
            f"{c}_{b}" for c in ("noise_sigma", "psf_fwhm") for b in "grz"}
    # PCA is linear in the pixels: a new noise draw moves its latents least where the noise
    # is small against the galaxy; its re-identification beats chance by far
    assert again["pca"]["stability"]["new noise"]["top1"] > 0.5
    from minuet_sk.evaluation.tables import question_tables

    titles = [title for title, _, _ in question_tables(results)]
    assert any(t.startswith("9. The night in the latents") for t in titles)
    assert sum(t.startswith("9. The same galaxies observed again") for t in titles) == 2
