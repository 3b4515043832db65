"""Real Legacy Survey cutouts (``tests/data/legacysurvey``, MIT, see its README): the FITS
reader, its unit and pixel-scale checks, the CLI and the shipped encoder on files the
survey's cutout service wrote, not files the tests wrote."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from minuet_sk.datasets import load_fits_cutouts

FILES = Path(__file__).resolve().parents[1] / "data" / "legacysurvey"
NATIVE = FILES / "dr5_native_0p262.fits"
RESAMPLED = FILES / "dr3_resampled_0p100.fits"
ZEROED = FILES / "dr3_zeroed_gr_0p130.fits"


def test_a_real_header_is_read_right():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean native cutout reads without a word
        cut = load_fits_cutouts(NATIVE)
    raw = fits.getdata(NATIVE).astype(np.float32)  # (3, 96, 96) grz nanomaggies
    assert cut.images.shape == (1, 3, 72, 72)
    np.testing.assert_array_equal(cut.images[0], raw[:, 12:84, 12:84])
    np.testing.assert_allclose(cut.pixel_scale, [0.262], rtol=1e-3)
    # the centre of the 96-pixel crop, from its TAN WCS (the header's CRVAL is at the
    # original 225-pixel cutout's centre, 0.5 pixel from the crop's)
    assert abs(cut.ra[0] - 146.714208787) < 0.262 / 3600
    assert abs(cut.dec[0] - -1.04128156958) < 0.262 / 3600
    assert cut.bands == ("g", "r", "z") and cut.zeroed == []


def test_bands_are_taken_by_the_header_names():
    cut = load_fits_cutouts(NATIVE, bands="zg")
    raw = fits.getdata(NATIVE).astype(np.float32)
    np.testing.assert_array_equal(cut.images[0], raw[[2, 0], 12:84, 12:84])


def test_a_resampled_cutout_is_refused_with_how_to_get_the_native_scale():
    with pytest.raises(ValueError, match=r"0\.1 arcsec/pixel.*pixscale=0\.262"):
        load_fits_cutouts(RESAMPLED)
    assert load_fits_cutouts(RESAMPLED, pixel_scale=None).pixel_scale[0] == pytest.approx(
        0.1, rel=1e-3)


def test_zeroed_bands_are_reported_and_read_as_missing():
    with pytest.warns(UserWarning, match=r"dr3_zeroed_gr_0p130\.fits: g \(100% .*r \(100%"):
        cut = load_fits_cutouts(ZEROED, pixel_scale=None)
    assert cut.zeroed == [(str(ZEROED), [("g", 1.0), ("r", 1.0)])]
    assert np.isnan(cut.images[0, :2]).all() and np.isfinite(cut.images[0, 2]).all()
    kept = load_fits_cutouts(ZEROED, pixel_scale=None, zeros_as_missing=False)
    assert (kept.images[0, :2] == 0).all() and kept.zeroed == []


def test_the_shipped_encoder_encodes_and_rebuilds_a_real_cutout():
    from minuet_sk import MinuetEncoder

    model = MinuetEncoder.from_pretrained(device="cpu").set_params(sampling_steps=5)
    images = load_fits_cutouts(NATIVE).images
    latents = model.transform(images)
    assert latents.shape == (1, 5) and np.isfinite(latents).all()
    rebuilt = model.reconstruct(images)
    assert rebuilt.shape == images.shape and np.isfinite(rebuilt).all()
    # as bright as the input to within a factor of two (central 24 x 24 pixels, r band)
    centre = np.s_[0, 1, 24:48, 24:48]
    assert 0.5 < rebuilt[centre].sum() / images[centre].sum() < 2.0


def test_ids_run_from_the_files_to_the_latents_and_the_posteriors(tmp_path):
    import shutil

    from minuet_sk import Pipeline

    for folder in ("north", "south"):  # two files of the same name
        (tmp_path / folder).mkdir()
        shutil.copy(NATIVE, tmp_path / folder / NATIVE.name)
    cut = load_fits_cutouts([tmp_path / "north", NATIVE, tmp_path / "south"])
    model = Pipeline.from_pretrained(device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning on the way
        latents = model[0].transform(cut.data)
        posterior = model.predict_dist(cut.data, n_samples=20)
    assert latents.index.equals(cut.ids) and posterior.index.equals(cut.ids)
    assert len(set(cut.ids)) == 3 and cut.ids[0].endswith("north/dr5_native_0p262.fits")
    np.testing.assert_array_equal(latents.to_numpy(), model[0].transform(cut.images))


def _minuet(*args):
    return subprocess.run([sys.executable, "-m", "minuet_sk.cli", *map(str, args)],
                          check=False, capture_output=True, text=True, timeout=300)


def test_the_cli_encodes_a_real_cutout(tmp_path):
    out = tmp_path / "latents.csv"
    result = _minuet("encode", "--model", "sim-grz-72-v4", "--images", NATIVE,
                     "--device", "cpu", "--out", out)
    assert result.returncode == 0, result.stderr
    table = out.read_text().splitlines()
    assert len(table) == 2 and "dr5_native_0p262" in table[1]


def test_the_cli_refuses_a_resampled_cutout_and_says_how_to_get_one(tmp_path):
    result = _minuet("encode", "--model", "sim-grz-72-v4", "--images", RESAMPLED,
                     "--device", "cpu", "--out", tmp_path / "latents.csv")
    assert result.returncode != 0
    assert "dr3_resampled_0p100.fits" in result.stderr and "pixscale=0.262" in result.stderr
    assert "Traceback" not in result.stderr
    # advice a command-line user can follow: no Python keyword (the model fixes the scale)
    assert "=None" not in result.stderr and "with reproject)." in result.stderr


def test_the_cli_skips_unreadable_cutouts_when_asked_and_lists_them(tmp_path):
    import shutil

    folder = tmp_path / "cutouts"
    folder.mkdir()
    for name in (NATIVE, RESAMPLED, ZEROED):
        shutil.copy(name, folder / name.name)
    out = tmp_path / "latents.csv"
    result = _minuet("encode", "--model", "sim-grz-72-v4", "--images", f"{folder}//",
                     "--on-error", "skip", "--device", "cpu", "--out", out)
    assert result.returncode == 0, result.stderr
    # every bad file listed, with why; the good one encoded, named as a user writes it
    assert "minuet encode: warning: Skipped 2" in result.stderr
    assert "=None" not in result.stderr and ".py:" not in result.stderr  # no source line
    assert "dr3_resampled_0p100.fits" in result.stderr and "dr3_zeroed_gr_0p130" in result.stderr
    table = pd.read_csv(out)
    assert table["filename"].tolist() == [str(folder / NATIVE.name)]
    assert table["ra"].iloc[0] == round(table["ra"].iloc[0], 7)


def test_the_cli_strict_mode_refuses_what_a_header_leaves_unsaid(tmp_path):
    bare = tmp_path / "bare.fits"
    fits.PrimaryHDU(fits.getdata(NATIVE)).writeto(bare)  # pixels only: no header keywords
    result = _minuet("encode", "--model", "sim-grz-72-v4", "--images", bare, "--strict",
                     "--device", "cpu", "--out", tmp_path / "z.csv")
    assert result.returncode == 2 and "the strict mode refuses" in result.stderr
    relaxed = _minuet("encode", "--model", "sim-grz-72-v4", "--images", bare, "--device",
                      "cpu", "--out", tmp_path / "z.csv")
    assert relaxed.returncode == 0 and "assumptions" in relaxed.stderr
    assert "refuse such files with --strict" in relaxed.stderr
    assert "strict=True" not in relaxed.stderr
