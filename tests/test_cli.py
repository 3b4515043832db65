"""Every ``minuet`` subcommand on tiny inputs, and the error paths (one line, exit 2)."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers import TINY_FLOW_SET, TINY_MINUET_SET, TINY_VAE

from minuet_sk.cli import main


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Simulated galaxies, a fitted Minuet, PCA and flow, shared by the tests below."""
    d = tmp_path_factory.mktemp("cli")
    assert main(["simulate", "--n", "40", "--image-size", "16", "--seed", "1",
                 "--out", str(d / "gal")]) == 0
    assert main(["fit", "minuet", "--images", str(d / "gal" / "images.npy"), "--epochs", "1",
                 *TINY_MINUET_SET, "--out", str(d / "minuet")]) == 0
    assert main(["fit", "pca", "--images", str(d / "gal" / "images.npy"),
                 "--out", str(d / "pca")]) == 0
    assert main(["encode", "--model", str(d / "minuet"), "--images",
                 str(d / "gal" / "images.npy"), "--out", str(d / "z.parquet")]) == 0
    assert main(["fit", "flow", "--features", str(d / "z.parquet"), "--targets",
                 str(d / "gal" / "target.csv"), *TINY_FLOW_SET, "--out", str(d / "flow")]) == 0
    return d


class TestSubcommands:
    def test_simulate_writes_images_and_tables(self, workdir):
        images = np.load(workdir / "gal" / "images.npy")
        assert images.shape == (40, 3, 16, 16) and images.dtype == np.float32
        target = pd.read_csv(workdir / "gal" / "target.csv")
        assert list(target.columns) == ["redshift", "log_mstar", "log_sfr"]

    def test_fit_saves_safetensors_and_json(self, workdir):
        for model in ("minuet", "pca", "flow"):
            config = json.loads((workdir / model / "config.json").read_text())
            assert config["class"] in {"MinuetEncoder", "EigengalaxyPCA",
                                       "FlowPropertyRegressor"}
            assert list((workdir / model).glob("*.safetensors"))

    def test_encode_gives_named_latents_after_the_identifiers(self, workdir):
        Z = pd.read_parquet(workdir / "z.parquet")
        assert list(Z.columns) == ["row"] + [f"minuet{i}" for i in range(5)] and len(Z) == 40
        assert Z["row"].tolist() == list(range(40))

    def test_encode_with_pca_and_csv(self, workdir, tmp_path):
        assert main(["encode", "--model", str(workdir / "pca"), "--images",
                     str(workdir / "gal" / "images.npy"), "--out", str(tmp_path / "p.csv")]) == 0
        assert list(pd.read_csv(tmp_path / "p.csv").columns[:2]) == ["row", "pca0"]

    def test_reconstruct(self, workdir, tmp_path):
        assert main(["reconstruct", "--model", str(workdir / "minuet"), "--images",
                     str(workdir / "gal" / "images.npy"), "--n-samples", "2",
                     "--out", str(tmp_path / "r.npy")]) == 0
        assert np.load(tmp_path / "r.npy").shape == (40, 3, 16, 16)  # the mean of 2 draws
        assert main(["reconstruct", "--model", str(workdir / "minuet"), "--images",
                     str(workdir / "gal" / "images.npy"), "--n-samples", "2", "--keep-draws",
                     "--out", str(tmp_path / "d.npy")]) == 0
        assert np.load(tmp_path / "d.npy").shape == (40, 2, 3, 16, 16)

    def test_reconstruct_writes_what_python_gives_with_the_identifiers(self, tmp_path):
        import h5py

        from minuet_sk import MinuetEncoder
        from minuet_sk.datasets import make_galaxies

        images = make_galaxies(4, random_state=11).images
        np.save(tmp_path / "x.npy", images)
        for frame in ("input", "canonical"):
            assert main(["reconstruct", "--model", "sim-grz-72-v4", "--images",
                         str(tmp_path / "x.npy"), "--n-samples", "2", "--frame", frame,
                         "--keep-draws", "--device", "cpu",
                         "--out", str(tmp_path / f"{frame}.h5")]) == 0
        model = MinuetEncoder.from_pretrained(device="cpu")
        with h5py.File(tmp_path / "input.h5") as f:
            # n_samples means what it means in Python: the mean of that many draws
            np.testing.assert_allclose(f["reconstructions"][:],
                                       model.reconstruct(images, n_samples=2), atol=1e-5)
            assert f["draws"].shape == (4, 2, 3, 72, 72)
            assert f["row"][:].tolist() == [0, 1, 2, 3] and f.attrs["frame"] == "input"
            turned = f["reconstructions"][:]
        with h5py.File(tmp_path / "canonical.h5") as f:
            drawn = f["reconstructions"][:]
        np.testing.assert_allclose(turned, model.to_input_frame(drawn, images), atol=1e-5)
        assert not np.allclose(turned, drawn)

    def test_predict_writes_posterior_summary(self, workdir, tmp_path):
        assert main(["predict", "--model", str(workdir / "flow"), "--features",
                     str(workdir / "z.parquet"), "--n-samples", "50",
                     "--out", str(tmp_path / "post.csv")]) == 0
        frame = pd.read_csv(tmp_path / "post.csv")
        assert len(frame) >= 40

    def test_neighbors(self, workdir, tmp_path):
        assert main(["neighbors", "--latents", str(workdir / "z.parquet"), "--k", "3",
                     "--query", "0,5", "--out", str(tmp_path / "nn.csv")]) == 0
        nn = pd.read_csv(tmp_path / "nn.csv")
        assert nn.shape[0] == 6 and set(nn["query"]) == {0, 5}

    def test_hdf5_input(self, workdir, tmp_path):
        h5py = pytest.importorskip("h5py")
        images = np.load(workdir / "gal" / "images.npy")
        with h5py.File(tmp_path / "x.h5", "w") as f:
            f["cutouts"] = images
        assert main(["encode", "--model", str(workdir / "minuet"), "--images",
                     str(tmp_path / "x.h5"), "--dataset", "cutouts",
                     "--out", str(tmp_path / "z.csv")]) == 0
        from_csv, from_parquet = (pd.read_csv(tmp_path / "z.csv"),
                                  pd.read_parquet(workdir / "z.parquet"))
        # which model made the latents: a column in CSV, the metadata in Parquet
        assert set(from_csv.pop("latent_id")) == {from_parquet.attrs["minuet_sk.latent_id"]}
        np.testing.assert_allclose(from_csv.to_numpy(), from_parquet.to_numpy(), rtol=1e-4,
                                   atol=1e-5)


class TestErrors:
    @pytest.mark.parametrize("argv, message", [
        (["encode", "--model", "nowhere", "--images", "x.npy", "--out", "z.csv"],
         "neither a saved model"),
        (["fit", "pca", "--images", "missing.npy", "--out", "m"], "no such file"),
        (["fit", "flow", "--out", "m"], "needs --features and --targets"),
        (["neighbors", "--latents", "missing.parquet", "--out", "n.csv"], "no such file"),
    ])
    def test_user_mistakes_are_one_line(self, argv, message, capsys, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
        assert "Traceback" not in err

    def test_wrong_image_shape(self, workdir, tmp_path, capsys):
        np.save(tmp_path / "bad.npy", np.zeros((3, 3, 8, 8), np.float32))
        assert main(["encode", "--model", str(workdir / "minuet"), "--images",
                     str(tmp_path / "bad.npy"), "--out", str(tmp_path / "z.csv")]) == 2
        assert "image_shape" in capsys.readouterr().err

    def test_help_of_every_subcommand_has_an_example(self):
        for command in ("demo", "simulate", "fit", "encode", "reconstruct", "predict",
                        "neighbors", "benchmark", "report"):
            out = subprocess.run([sys.executable, "-m", "minuet_sk.cli", command, "--help"],
                                 capture_output=True, text=True, check=True).stdout
            assert "example:" in out and f"minuet {command}" in out


class TestSmallThings:
    def test_version(self, capsys):
        import minuet_sk

        with pytest.raises(SystemExit) as exit_:
            main(["--version"])
        assert exit_.value.code == 0
        assert capsys.readouterr().out.strip() == f"minuet_sk {minuet_sk.__version__}"

    @pytest.mark.parametrize("argv", [["--debug", "report", "nowhere"],
                                      ["report", "nowhere", "--debug"]])
    def test_debug_before_or_after_the_subcommand_shows_the_traceback(self, argv, tmp_path,
                                                                      monkeypatch):
        monkeypatch.chdir(tmp_path)
        with pytest.raises(FileNotFoundError, match="results.json"):
            main(argv)

    def test_a_bug_inside_is_exit_1_and_says_how_to_get_the_traceback(self, monkeypatch,
                                                                      capsys):
        def broken(args):
            return {}["missing key"]

        monkeypatch.setattr("minuet_sk.cli._report", broken)
        assert main(["report", "anything"]) == 1
        err = capsys.readouterr().err
        assert "internal error: KeyError" in err and "--debug" in err and "bug" in err
        with pytest.raises(KeyError):
            main(["report", "anything", "--debug"])

    def test_hdf5_file_is_closed_after_the_command(self, workdir, tmp_path, monkeypatch):
        import h5py

        with h5py.File(tmp_path / "x.h5", "w") as f:
            f["images"] = np.load(workdir / "gal" / "images.npy")
        opened = []
        real_file = h5py.File

        def recording_file(*args, **kwargs):
            opened.append(real_file(*args, **kwargs))
            return opened[-1]

        monkeypatch.setattr(h5py, "File", recording_file)
        assert main(["encode", "--model", str(workdir / "pca"), "--images",
                     str(tmp_path / "x.h5"), "--out", str(tmp_path / "z.csv")]) == 0
        assert len(opened) == 1 and not opened[0].id.valid  # closed


def test_report_of_a_missing_folder_fails_cleanly(tmp_path, capsys):
    assert main(["report", str(tmp_path / "none")]) == 2
    assert "run `minuet benchmark" in capsys.readouterr().err


def test_demo_writes_a_readable_report(tmp_path):
    out = tmp_path / "report"
    assert main(["demo", "--preset", "tiny", "--seed", "3", "--out", str(out)]) == 0
    page = (out / "index.html").read_text()
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert "1_reconstructions.png" in figures and "4b_probe_roc.png" in figures
    assert page.count("<img") == len(figures) and page.count("<table") >= 7
    assert json.loads((out / "results.json").read_text())["seed"] == 3
    assert "5b_rotated_copies.png" in figures
    assert "Minuet, the VAE and PCA are all fitted here" in page


class _Stop(Exception):
    pass


def _benchmark_config(monkeypatch, argv):
    """The BenchmarkConfig that ``minuet <argv>`` would run (the run itself is stopped)."""
    import minuet_sk.evaluation

    seen = {}

    def capture(config, **kwargs):
        seen["config"] = config
        raise _Stop

    monkeypatch.setattr(minuet_sk.evaluation, "run_benchmark", capture)
    with pytest.raises(_Stop):
        main(["--debug", *argv, "--out", "unused"])
    return seen["config"]


@pytest.mark.parametrize(("argv", "pretrained", "size", "minuet_epochs"), [
    ([], "sim-grz-72-v4", 72, None),  # the demo: the shipped weights, at their 72x72
    (["--train"], None, 72, 30),
    (["--train", "--epochs", "3"], None, 72, 3),
    (["--epochs", "3"], "sim-grz-72-v4", 72, None),  # the VAE's epochs; shipped Minuet kept
    (["--preset", "tiny"], None, 24, 1),
])
def test_demo_uses_the_shipped_weights_unless_told_to_train(monkeypatch, argv, pretrained,
                                                             size, minuet_epochs):
    config = _benchmark_config(monkeypatch, ["demo", *argv])
    assert config.minuet.get("pretrained") == pretrained
    assert config.image_size == size
    assert config.minuet.get("max_epochs") == minuet_epochs
    if "--epochs" in argv:
        assert config.vae["max_epochs"] == 3


@pytest.mark.parametrize(("argv", "pretrained", "size"), [
    (["--quick"], None, 48),
    (["--quick", "--pretrained", "sim-grz-72"], "sim-grz-72", 72),
])
def test_benchmark_measures_the_shipped_weights_it_is_given(monkeypatch, argv, pretrained,
                                                            size):
    config = _benchmark_config(monkeypatch, ["benchmark", *argv])
    assert config.minuet.get("pretrained") == pretrained
    assert config.image_size == size


def test_demo_cannot_both_train_and_use_shipped_weights(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["demo", "--train", "--pretrained", "--out", "unused"])
    assert stop.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


class TestIdentifiersAndShippedWeights:
    @pytest.fixture(scope="class")
    @classmethod
    def cutouts(cls, tmp_path_factory):
        """Four simulated galaxies written as Legacy Survey-layout FITS cutouts."""
        from astropy.io import fits

        from minuet_sk.datasets import make_galaxies

        folder = tmp_path_factory.mktemp("fits")
        for i, image in enumerate(make_galaxies(4, random_state=5).images):
            hdu = fits.PrimaryHDU(image)
            hdu.header.update(BANDS="grz", RA=150.0 + i, DEC=2.0 - i)
            hdu.writeto(folder / f"galaxy_{i}.fits")
        return folder

    def test_cli_and_api_give_the_same_latents_with_the_shipped_weights(self, cutouts,
                                                                      tmp_path):
        from minuet_sk import MinuetEncoder
        from minuet_sk.datasets import load_fits_cutouts

        assert main(["encode", "--model", "sim-grz-72", "--images", str(cutouts),
                     "--device", "cpu", "--out", str(tmp_path / "z.csv")]) == 0
        table = pd.read_csv(tmp_path / "z.csv")
        assert list(table.columns[:3]) == ["filename", "ra", "dec"]
        assert [Path(f).name for f in table["filename"]] == [f"galaxy_{i}.fits"
                                                             for i in range(4)]
        np.testing.assert_allclose(table["ra"], 150.0 + np.arange(4))
        api = MinuetEncoder.from_pretrained("sim-grz-72", device="cpu").transform(
            load_fits_cutouts(cutouts).images)
        np.testing.assert_allclose(table.filter(like="minuet").to_numpy(), api,
                                   rtol=1e-5, atol=1e-5)

    def test_identifiers_reach_the_neighbours(self, cutouts, tmp_path):
        assert main(["encode", "--model", "sim-grz-72", "--images", str(cutouts),
                     "--device", "cpu", "--out", str(tmp_path / "z.parquet")]) == 0
        assert main(["neighbors", "--latents", str(tmp_path / "z.parquet"), "--k", "2",
                     "--out", str(tmp_path / "nn.csv")]) == 0
        nn = pd.read_csv(tmp_path / "nn.csv")
        assert {"query_filename", "neighbor_filename", "query_ra"} <= set(nn.columns)
        assert (nn["query_filename"] != nn["neighbor_filename"]).all()


def test_predict_carries_identifiers_and_uses_the_fitted_feature_names(workdir, tmp_path):
    latents = pd.read_parquet(workdir / "z.parquet")
    latents.to_csv(tmp_path / "in_order.csv", index=False)
    shuffled = latents[["minuet4", "row", "minuet0", "minuet3", "minuet1", "minuet2"]]
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    for name, table in (("a", tmp_path / "in_order.csv"), ("b", tmp_path / "shuffled.csv")):
        assert main(["predict", "--model", str(workdir / "flow"), "--features", str(table),
                     "--n-samples", "20", "--out", str(tmp_path / f"{name}.csv")]) == 0
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert a.columns[0] == "row" and sorted(set(a["row"])) == list(range(40))
    pd.testing.assert_frame_equal(a, b)  # columns found by name, not by position


def test_predict_from_a_parquet_file_with_a_stored_index(workdir, tmp_path):
    latents = pd.read_parquet(workdir / "z.parquet")
    latents.iloc[::-1].to_parquet(tmp_path / "kept_index.parquet")  # index 39 .. 0 stored
    latents.iloc[::-1].to_parquet(tmp_path / "no_index.parquet", index=False)
    for name in ("kept_index", "no_index"):
        assert main(["predict", "--model", str(workdir / "flow"), "--features",
                     str(tmp_path / f"{name}.parquet"), "--n-samples", "20",
                     "--out", str(tmp_path / f"{name}.csv")]) == 0
    kept, plain = (pd.read_csv(tmp_path / f"{n}.csv") for n in ("kept_index", "no_index"))
    pd.testing.assert_frame_equal(kept, plain)
    assert kept["row"].iloc[0] == latents["row"].iloc[-1]  # each row keeps its identifier


def test_neighbors_never_lists_a_galaxy_as_its_own_neighbour(workdir, tmp_path):
    assert main(["neighbors", "--latents", str(workdir / "z.parquet"), "--k", "3",
                 "--out", str(tmp_path / "all.csv")]) == 0
    assert main(["neighbors", "--latents", str(workdir / "z.parquet"), "--k", "3",
                 "--query", "0,5", "--out", str(tmp_path / "some.csv")]) == 0
    every, some = pd.read_csv(tmp_path / "all.csv"), pd.read_csv(tmp_path / "some.csv")
    assert (some["query"] != some["neighbor"]).all()
    pd.testing.assert_frame_equal(
        every[every["query"].isin([0, 5])].reset_index(drop=True), some)


def test_encoding_with_a_model_that_takes_no_images_is_a_user_mistake(workdir, tmp_path,
                                                                     capsys):
    assert main(["encode", "--model", str(workdir / "flow"), "--images",
                 str(workdir / "gal" / "images.npy"), "--out", str(tmp_path / "z.csv")]) == 2
    assert "does not take images" in capsys.readouterr().err


def test_a_bad_output_name_is_refused_before_any_work(workdir, tmp_path, monkeypatch,
                                                      capsys):
    def must_not_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the output name was checked")

    monkeypatch.setattr("minuet_sk.cli.load_model", must_not_load)
    assert main(["encode", "--model", str(workdir / "minuet"), "--images",
                 str(workdir / "gal" / "images.npy"), "--out", str(tmp_path / "z.txt")]) == 2
    assert ".parquet or .csv" in capsys.readouterr().err


@pytest.mark.parametrize("command", [
    ["encode", "--model", "sim-grz-72-v4", "--images", "x.npy"],
    ["demo", "--preset", "tiny"],
    ["simulate", "--n", "4"],
    ["fit", "pca", "--images", "x.npy"],
])
def test_an_output_that_cannot_be_written_is_refused_before_any_work(command, tmp_path,
                                                                      capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / ("z.parquet" if command[0] == "encode" else "out")
    assert main([*command, "--out", str(out)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_the_cli_reads_latents_under_the_encoders_key():
    from minuet_sk import _cli_io
    from minuet_sk.encoders._latent_features import LATENT_ID

    assert _cli_io._LATENT_ID == LATENT_ID


@pytest.mark.parametrize("table", ["latents.csv", "latents.parquet"])
def test_latents_of_one_encoder_are_refused_by_another_encoders_flow(tmp_path, capsys, table):
    images = tmp_path / "x.npy"
    np.save(images, np.full((3, 3, 72, 72), 0.01, np.float32))
    latents = tmp_path / table
    assert main(["encode", "--model", "sim-grz-72", "--images", str(images), "--device",
                 "cpu", "--out", str(latents)]) == 0
    assert main(["predict", "--model", "sim-grz-72-v4-flow", "--features", str(latents),
                 "--device", "cpu", "--out", str(tmp_path / "p.csv")]) == 2
    assert "made by MinuetEncoder/sim-grz-72:" in capsys.readouterr().err
    assert main(["predict", "--model", "sim-grz-72-flow", "--features", str(latents),
                 "--device", "cpu", "--out", str(tmp_path / "p.csv")]) == 0


def test_every_option_has_help_and_the_model_commands_take_a_device():
    from minuet_sk.cli import build_parser

    subparsers = next(a for a in build_parser()._actions
                      if isinstance(a, argparse._SubParsersAction)).choices
    for name, parser in subparsers.items():
        for action in parser._actions:
            assert action.help, f"minuet {name} {action.option_strings} has no help"
    for name in ("encode", "reconstruct", "predict", "fit", "demo", "benchmark"):
        assert any("--device" in a.option_strings for a in subparsers[name]._actions), name
    text = subparsers["neighbors"].format_help()
    assert "(default: 5)" in text and "``" not in build_parser().format_help()


def test_the_command_line_starts_without_importing_torch():
    code = "import sys, minuet_sk.cli; minuet_sk.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_fits_cutouts_at_another_pixel_scale_are_refused(tmp_path, capsys):
    from astropy.io import fits

    hdu = fits.PrimaryHDU(np.ones((3, 72, 72), np.float32))
    hdu.header.update(BANDS="grz", BUNIT="Jy", CTYPE1="RA---TAN", CTYPE2="DEC--TAN",
                      CDELT1=-1.0 / 3600, CDELT2=1.0 / 3600)
    hdu.writeto(tmp_path / "wide.fits")
    assert main(["encode", "--model", "sim-grz-72", "--images", str(tmp_path / "wide.fits"),
                 "--device", "cpu", "--out", str(tmp_path / "z.csv")]) == 2
    assert "arcsec/pixel, but 0.262" in capsys.readouterr().err


def test_fits_cutouts_are_read_as_the_model_says_its_input_is(tmp_path):
    """A model trained on uJy at 1"/pixel: cutouts in nanomaggies at 1"/pixel are converted."""
    from astropy.io import fits

    from minuet_sk import VAEEncoder

    rng = np.random.default_rng(0)
    images = rng.gamma(2.0, 1.0, (6, 3, 16, 16)).astype(np.float32)
    model = VAEEncoder(2, image_shape=(3, 16, 16), flux_unit="uJy", pixel_scale=1.0,
                       **TINY_VAE).fit(images * 3.631)
    model.save(tmp_path / "model")
    (tmp_path / "cutouts").mkdir()
    for i, image in enumerate(images):
        hdu = fits.PrimaryHDU(image)
        hdu.header.update(BANDS="grz", BUNIT="nanomaggy", CTYPE1="RA---TAN",
                          CTYPE2="DEC--TAN", CDELT1=-1.0 / 3600, CDELT2=1.0 / 3600)
        hdu.writeto(tmp_path / "cutouts" / f"g{i}.fits")
    assert main(["encode", "--model", str(tmp_path / "model"), "--images",
                 str(tmp_path / "cutouts"), "--device", "cpu",
                 "--out", str(tmp_path / "z.csv")]) == 0
    np.testing.assert_allclose(pd.read_csv(tmp_path / "z.csv").filter(like="vae").to_numpy(),
                               model.transform(images * 3.631), rtol=1e-4, atol=1e-5)


def test_the_same_galaxy_gets_the_same_posterior_from_the_cli_and_python(tmp_path):
    from minuet_sk import FlowPropertyRegressor, MinuetEncoder

    images = np.full((3, 3, 72, 72), 0.01, np.float32)
    images[:, 1, 30:42, 30:42] += np.array([0.5, 1.0, 2.0], np.float32)[:, None, None]
    np.save(tmp_path / "x.npy", images)
    assert main(["encode", "--model", "sim-grz-72-v4", "--images", str(tmp_path / "x.npy"),
                 "--device", "cpu", "--out", str(tmp_path / "z.csv")]) == 0
    assert main(["predict", "--model", "sim-grz-72-v4-flow", "--features",
                 str(tmp_path / "z.csv"), "--n-samples", "200", "--device", "cpu",
                 "--out", str(tmp_path / "p.csv")]) == 0
    from_cli = pd.read_csv(tmp_path / "p.csv")
    latents = MinuetEncoder.from_pretrained(device="cpu").transform(images)
    post = FlowPropertyRegressor.from_pretrained(device="cpu").predict_dist(latents,
                                                                           n_samples=200)
    np.testing.assert_allclose(from_cli["median"], post.to_frame()["median"], rtol=1e-5)


def test_reader_advice_is_worded_for_the_command_line(tmp_path, capsys):
    """The FITS reader's Python advice (``unit=None``, ``pixel_scale=None``,
    ``strict=True``) has no flag: the CLI says what a command-line user can do."""
    from astropy.io import fits

    from minuet_sk.datasets import load_fits_cutouts

    cube = np.ones((3, 72, 72), np.float32)
    fits.PrimaryHDU(cube, header=fits.Header({"BANDS": "grz", "BUNIT": "furlongs"})).writeto(
        tmp_path / "odd.fits")
    with pytest.raises(ValueError, match=r"read it with unit=None\."):
        load_fits_cutouts(tmp_path / "odd.fits")  # Python keeps its own advice
    assert main(["encode", "--model", "sim-grz-72-v4", "--images", str(tmp_path / "odd.fits"),
                 "--device", "cpu", "--out", str(tmp_path / "z.csv")]) == 2
    error = capsys.readouterr().err
    assert "BUNIT='furlongs'" in error and "(nanomaggy, Jy...)." in error
    assert "=None" not in error


def _predict(workdir, out, *options, features=None):
    return main(["predict", "--model", str(workdir / "flow"), "--features",
                 str(features or workdir / "z.parquet"), "--n-samples", "20", *options,
                 "--out", str(out)])


def test_predict_in_chunks_resumes_after_an_interruption(workdir, tmp_path, monkeypatch,
                                                         capsys):
    from minuet_sk.flow import _catalogue

    assert _predict(workdir, tmp_path / "whole.csv") == 0
    write, written, stop_after = _catalogue._Catalogue.write_part, [], [1]

    def recorded(self, part, *args):  # Ctrl-C once ``stop_after`` parts are written
        if stop_after and len(written) == stop_after[0]:
            raise KeyboardInterrupt
        written.append(part)
        write(self, part, *args)

    monkeypatch.setattr(_catalogue._Catalogue, "write_part", recorded)
    assert _predict(workdir, tmp_path / "cat", "--chunk-size", "16") == 130
    assert "interrupted" in capsys.readouterr().err and written == [0]
    stop_after.clear()
    assert _predict(workdir, tmp_path / "cat", "--chunk-size", "16") == 0
    assert written == [0, 1, 2]  # 40 galaxies in 3 chunks: the first is not redone
    whole, chunked = pd.read_csv(tmp_path / "whole.csv"), pd.read_parquet(tmp_path / "cat")
    assert list(chunked.columns) == list(whole.columns)
    assert chunked["row"].tolist() == whole["row"].tolist() == np.repeat(range(40), 3).tolist()
    np.testing.assert_allclose(chunked[["mean", "median", "std", "p16", "p84"]],
                               whole[["mean", "median", "std", "p16", "p84"]], rtol=1e-5)


def test_predict_refuses_another_runs_catalogue_unless_restarted(workdir, tmp_path, capsys):
    assert _predict(workdir, tmp_path / "cat") == 0
    assert _predict(workdir, tmp_path / "cat", "--chunk-size", "7") == 2
    error = capsys.readouterr().err
    assert "another run (its chunk_size differ)" in error and "--restart" in error
    assert _predict(workdir, tmp_path / "cat", "--chunk-size", "7", "--restart") == 0
    assert len(list((tmp_path / "cat").glob("part-*.parquet"))) == 6  # 40 galaxies by 7


def test_predict_keeps_the_draws_in_parquet_only(workdir, tmp_path, monkeypatch, capsys):
    assert _predict(workdir, tmp_path / "p.parquet", "--keep-draws") == 0
    draws = pd.read_parquet(tmp_path / "p.parquet")["draws"]
    assert len(draws) == 120 and {len(d) for d in draws} == {20}

    def must_not_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr("minuet_sk.cli.load_model", must_not_load)
    assert _predict(workdir, tmp_path / "p.csv", "--keep-draws") == 2
    assert "--keep-draws needs a Parquet output" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("not a folder")
    assert _predict(workdir, tmp_path / "a_file" / "cat") == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_predict_reads_latents_from_an_hdf5_dataset(workdir, tmp_path, capsys):
    import h5py

    latents = pd.read_parquet(workdir / "z.parquet").filter(like="minuet").to_numpy()
    with h5py.File(tmp_path / "z.h5", "w") as f:
        f["latents"], f["flags"] = latents, np.zeros(len(latents))
    assert _predict(workdir, tmp_path / "h5.csv", features=tmp_path / "z.h5") == 2
    assert "name the features' one" in capsys.readouterr().err
    assert _predict(workdir, tmp_path / "h5.csv", "--dataset", "latents",
                    features=tmp_path / "z.h5") == 0
    assert _predict(workdir, tmp_path / "table.csv") == 0
    from_h5, from_table = pd.read_csv(tmp_path / "h5.csv"), pd.read_csv(tmp_path / "table.csv")
    pd.testing.assert_frame_equal(from_h5, from_table.drop(columns="row"))
