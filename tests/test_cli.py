"""Every ``minuet`` subcommand on tiny inputs, and the error paths (one line, exit 2)."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from minuet_sk.cli import main

TINY_MINUET = ["--set", "width=16", "--set", "encoder_depth=1", "--set", "decoder_depth=1",
               "--set", "n_heads=2", "--set", "sampling_steps=2", "--set", "patch_size=4"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Simulated galaxies, a fitted Minuet, PCA and flow, shared by the tests below."""
    d = tmp_path_factory.mktemp("cli")
    assert main(["simulate", "--n", "40", "--image-size", "16", "--seed", "1",
                 "--out", str(d / "gal")]) == 0
    assert main(["fit", "minuet", "--images", str(d / "gal" / "images.npy"), "--epochs", "1",
                 *TINY_MINUET, "--out", str(d / "minuet")]) == 0
    assert main(["fit", "pca", "--images", str(d / "gal" / "images.npy"),
                 "--out", str(d / "pca")]) == 0
    assert main(["encode", "--model", str(d / "minuet"), "--images",
                 str(d / "gal" / "images.npy"), "--out", str(d / "z.parquet")]) == 0
    assert main(["fit", "flow", "--features", str(d / "z.parquet"), "--targets",
                 str(d / "gal" / "target.csv"), "--set", "max_epochs=2", "--set",
                 "n_transforms=1", "--set", "hidden_features=8", "--out", str(d / "flow")]) == 0
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

    def test_encode_gives_named_latents(self, workdir):
        Z = pd.read_parquet(workdir / "z.parquet")
        assert list(Z.columns) == [f"minuet{i}" for i in range(5)] and len(Z) == 40

    def test_encode_with_pca_and_csv(self, workdir, tmp_path):
        assert main(["encode", "--model", str(workdir / "pca"), "--images",
                     str(workdir / "gal" / "images.npy"), "--out", str(tmp_path / "p.csv")]) == 0
        assert pd.read_csv(tmp_path / "p.csv").columns[0] == "pca0"

    def test_reconstruct(self, workdir, tmp_path):
        assert main(["reconstruct", "--model", str(workdir / "minuet"), "--images",
                     str(workdir / "gal" / "images.npy"), "--n-samples", "2",
                     "--out", str(tmp_path / "r.npy")]) == 0
        assert np.load(tmp_path / "r.npy").shape == (40, 2, 3, 16, 16)

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
        np.testing.assert_allclose(pd.read_csv(tmp_path / "z.csv").to_numpy(),
                                   pd.read_parquet(workdir / "z.parquet").to_numpy(),
                                   rtol=1e-4, atol=1e-5)


class TestErrors:
    @pytest.mark.parametrize("argv, message", [
        (["encode", "--model", "nowhere", "--images", "x.npy", "--out", "z.csv"],
         "not a saved model"),
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
