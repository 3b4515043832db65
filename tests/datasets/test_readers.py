"""Readers tested on small files written in the real formats (FITS cutouts, GZ DECaLS vote
catalogues, SED tables) and on the sky cross-match."""

import warnings

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import MaskedColumn, Table
from astropy.wcs import WCS

from minuet_sk.datasets import (
    crossmatch,
    gz_binary_labels,
    load_fits_cutouts,
    read_gz_votes,
    read_sed_catalog,
)
from minuet_sk.datasets._cutouts import center_crop
from minuet_sk.datasets.zoo import QUESTIONS, TASKS

BANDS = "grz"


def band_cube(size=80, seed=0, bands=BANDS):
    """A cube whose band b has constant offset 10*b plus a pixel ramp: bands are traceable."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(size, size)).astype(np.float32)
    return np.stack([base + 10.0 * i for i in range(len(bands))])


def write_cube(path, cube, **header):
    hdu = fits.PrimaryHDU(cube)
    for key, value in header.items():
        hdu.header[key] = value
    hdu.writeto(path)
    return path


def celestial_header(ra, dec, size):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(size + 1) / 2, (size + 1) / 2]  # 1-based centre
    wcs.wcs.cdelt = [-0.262 / 3600, 0.262 / 3600]
    return wcs.to_header()


class TestCenterCrop:
    def test_crop_keeps_the_centre_and_pad_uses_nan(self):
        x = np.arange(49.0).reshape(7, 7)
        assert center_crop(x, 3)[1, 1] == x[3, 3]
        padded = center_crop(x, 9)
        assert padded[4, 4] == x[3, 3]
        assert np.isnan(padded[0]).all() and np.isnan(padded[:, -1]).all()
        assert np.array_equal(padded[1:8, 1:8], x)


class TestFitsCubes:
    def test_legacy_survey_cube_round_trip(self, tmp_path):
        cube = band_cube(72)
        write_cube(tmp_path / "a.fits", cube, BANDS="grz")
        out = load_fits_cutouts(tmp_path / "a.fits")
        assert out.images.shape == (1, 3, 72, 72) and out.images.dtype == np.float32
        np.testing.assert_array_equal(out.images[0], cube)
        assert out.bands == ("g", "r", "z") and out.skipped == []
        assert out.filenames == [str(tmp_path / "a.fits")]
        assert np.isnan(out.ra[0]) and np.isnan(out.dec[0])

    @pytest.mark.parametrize(
        "header",
        [{"BANDS": "grz"}, {"BANDS": "g,r,z"}, {"BANDS": "g r z"},
         {"BAND0": "g", "BAND1": "r", "BAND2": "z"}],
    )
    def test_band_keyword_variants_select_and_reorder(self, tmp_path, header):
        cube = band_cube(72)
        write_cube(tmp_path / "a.fits", cube, **header)
        out = load_fits_cutouts(tmp_path / "a.fits", bands="zg")
        np.testing.assert_array_equal(out.images[0], cube[[2, 0]])

    def test_big_endian_data_become_native_float32(self, tmp_path):
        cube = band_cube(72).astype(">f8")
        write_cube(tmp_path / "a.fits", cube, BANDS="grz")
        img = load_fits_cutouts(tmp_path / "a.fits").images
        assert img.dtype == np.float32 and img.dtype.isnative

    def test_cube_without_band_keywords_is_read_in_bands_order(self, tmp_path):
        cube = band_cube(72)
        write_cube(tmp_path / "a.fits", cube)
        np.testing.assert_array_equal(load_fits_cutouts(tmp_path / "a.fits").images[0], cube)

    def test_crop_and_pad(self, tmp_path):
        write_cube(tmp_path / "big.fits", band_cube(80), BANDS="grz")
        write_cube(tmp_path / "small.fits", band_cube(64, seed=1), BANDS="grz")
        with pytest.warns(UserWarning, match=r"1 cutout\(s\) smaller than image_size=72.*"
                                             r"padded with missing pixels.*small\.fits"):
            out = load_fits_cutouts([tmp_path / "big.fits", tmp_path / "small.fits"],
                                    image_size=72)
        assert out.padded == [str(tmp_path / "small.fits")]
        np.testing.assert_array_equal(out.images[0], band_cube(80)[:, 4:76, 4:76])
        small = out.images[1]
        assert np.isnan(small[:, :4]).all() and np.isnan(small[:, :, -4:]).all()
        np.testing.assert_array_equal(small[:, 4:68, 4:68], band_cube(64, seed=1))

    def test_nan_pixels_are_kept(self, tmp_path):
        cube = band_cube(72)
        cube[1, 10:20, 5] = np.nan
        write_cube(tmp_path / "a.fits", cube, BANDS="grz")
        img = load_fits_cutouts(tmp_path / "a.fits").images[0]
        assert np.isnan(img).sum() == 10 and np.isnan(img[1, 10:20, 5]).all()

    def test_wcs_gives_the_centre_coordinates(self, tmp_path):
        header = celestial_header(150.1, 2.2, 73)
        hdu = fits.PrimaryHDU(band_cube(73), header=header)
        hdu.header["BANDS"] = "grz"
        hdu.writeto(tmp_path / "w.fits")
        out = load_fits_cutouts(tmp_path / "w.fits")
        assert out.ra[0] == pytest.approx(150.1, abs=1e-9)
        assert out.dec[0] == pytest.approx(2.2, abs=1e-9)

    @pytest.mark.parametrize(
        "keys, expected",
        [({"RA": 12.5, "DEC": -3.25}, (12.5, -3.25)),
         ({"RA_OBJ": 200.0, "DEC_OBJ": 45.0}, (200.0, 45.0)),
         ({"RA": "01:00:00", "DEC": "+10:30:00"}, (15.0, 10.5))],
    )
    def test_header_keyword_coordinates(self, tmp_path, keys, expected):
        write_cube(tmp_path / "a.fits", band_cube(72), BANDS="grz", **keys)
        out = load_fits_cutouts(tmp_path / "a.fits")
        assert (out.ra[0], out.dec[0]) == pytest.approx(expected)


class TestFitsUnitsAndPixelScale:
    """Cutouts come back in nanomaggies at 0.262"/pixel, or are refused with a message."""

    @pytest.mark.parametrize("bunit, factor", [
        ("nanomaggy", 1.0), ("nmgy", 1.0), ("Jy", 1 / 3.631e-6), ("uJy", 1 / 3.631),
        ("maggy", 1e9),
    ])
    def test_flux_densities_are_converted_to_nanomaggies(self, tmp_path, bunit, factor):
        cube = band_cube()
        write_cube(tmp_path / "a.fits", cube, BANDS="grz", BUNIT=bunit)
        out = load_fits_cutouts(tmp_path / "a.fits", image_size=80)
        np.testing.assert_allclose(out.images[0], cube * factor, rtol=1e-5)
        assert out.unit == "nanomaggy"

    def test_no_flux_unit_is_refused_unless_asked_for_raw_pixels(self, tmp_path):
        cube = band_cube()
        write_cube(tmp_path / "a.fits", cube, BANDS="grz", BUNIT="adu")
        with pytest.raises(ValueError, match=r"BUNIT='adu' cannot be converted"):
            load_fits_cutouts(tmp_path / "a.fits")
        raw = load_fits_cutouts(tmp_path / "a.fits", unit=None, image_size=80)
        np.testing.assert_array_equal(raw.images[0], cube)

    def test_another_pixel_scale_is_refused(self, tmp_path):
        header = celestial_header(150.0, 2.0, 80)
        header["CDELT1"], header["CDELT2"] = -1.0 / 3600, 1.0 / 3600
        write_cube(tmp_path / "a.fits", band_cube(), BANDS="grz", BUNIT="Jy", **header)
        with pytest.raises(ValueError, match=r"1 arcsec/pixel, but 0.262"):
            load_fits_cutouts(tmp_path / "a.fits")
        out = load_fits_cutouts(tmp_path / "a.fits", pixel_scale=None)
        assert out.pixel_scale[0] == pytest.approx(1.0)

    def test_the_pixel_scale_is_reported(self, tmp_path):
        write_cube(tmp_path / "a.fits", band_cube(), BANDS="grz",
                   **celestial_header(150.0, 2.0, 80))
        write_cube(tmp_path / "b.fits", band_cube(), BANDS="grz")
        out = load_fits_cutouts(tmp_path)
        assert out.pixel_scale[0] == pytest.approx(0.262) and np.isnan(out.pixel_scale[1])


class TestHeaderGuesses:
    """What a header leaves unsaid is assumed with one warning naming the files, or refused
    with strict=True."""

    def test_every_assumption_is_named_once_per_run(self, tmp_path):
        cube = band_cube()
        write_cube(tmp_path / "bare.fits", cube)  # no BANDS, BUNIT nor WCS
        write_cube(tmp_path / "banded.fits", cube, BANDS="grz")
        with pytest.warns(UserWarning) as record:
            out = load_fits_cutouts(tmp_path, image_size=80)
        assumed = [str(w.message) for w in record if "assumptions" in str(w.message)]
        assert len(assumed) == 1
        message = assumed[0]
        assert "2 file(s)" in message and "strict=True" in message
        band_line = next(line for line in message.splitlines() if "BANDS" in line)
        assert "bare.fits" in band_line and "banded.fits" not in band_line
        unit_line = next(line for line in message.splitlines() if "BUNIT" in line)
        assert "bare.fits" in unit_line and "banded.fits" in unit_line and "nanomaggy" in unit_line
        assert dict(out.assumed) == {str(tmp_path / "banded.fits"): ["unit", "pixel_scale"],
                                     str(tmp_path / "bare.fits"): ["bands", "unit",
                                                                   "pixel_scale"]}

    def test_strict_refuses_or_skips_what_a_header_leaves_unsaid(self, tmp_path):
        cube = band_cube()
        write_cube(tmp_path / "bare.fits", cube)
        with pytest.raises(ValueError, match=r"bare\.fits: no BANDS.*the strict mode"):
            load_fits_cutouts(tmp_path / "bare.fits", image_size=80, strict=True)
        with pytest.warns(UserWarning, match="Skipped 1"):
            out = load_fits_cutouts(tmp_path / "bare.fits", image_size=80, strict=True,
                                    on_error="skip")
        assert out.filenames == []

    def test_a_legacy_survey_header_states_its_unit(self, tmp_path):
        write_cube(tmp_path / "ls.fits", band_cube(), BANDS="grz", SURVEY="DECaLS")
        out = load_fits_cutouts(tmp_path / "ls.fits", image_size=80, pixel_scale=None)
        assert out.assumed == []

    @pytest.mark.parametrize("spelling", ["nanomaggies", "NANOMAGGY", "nmgy", "Nanomaggies"])
    def test_unit_spellings_astronomers_use(self, tmp_path, spelling):
        cube = band_cube()
        write_cube(tmp_path / "a.fits", cube, BANDS="grz", BUNIT=spelling)
        out = load_fits_cutouts(tmp_path / "a.fits", image_size=80, unit="nanomaggies",
                                pixel_scale=None)
        np.testing.assert_allclose(out.images[0], cube, rtol=1e-6)


class TestFitsPerBandHDUs:
    @pytest.mark.parametrize("key", ["BAND", "FILTER", "EXTNAME"])
    def test_one_hdu_per_band_in_any_order(self, tmp_path, key):
        cube = band_cube(72)
        hdus = [fits.PrimaryHDU()]
        for i in (2, 0, 1):  # z, g, r in the file
            hdu = fits.ImageHDU(cube[i])
            name = BANDS[i]
            hdu.header[key] = f"{name} DECam SDSS c0002" if key == "FILTER" else name
            hdus.append(hdu)
        fits.HDUList(hdus).writeto(tmp_path / "a.fits")
        np.testing.assert_array_equal(load_fits_cutouts(tmp_path / "a.fits").images[0], cube)

    def test_hdus_without_band_keywords_in_bands_order(self, tmp_path):
        cube = band_cube(72)
        fits.HDUList([fits.PrimaryHDU(cube[0]), fits.ImageHDU(cube[1]), fits.ImageHDU(cube[2])]
                     ).writeto(tmp_path / "a.fits")
        np.testing.assert_array_equal(load_fits_cutouts(tmp_path / "a.fits").images[0], cube)

    def test_single_band_file(self, tmp_path):
        img = band_cube(72)[0]
        hdu = fits.PrimaryHDU(img, header=celestial_header(30.0, -5.0, 72))
        hdu.header["FILTER"] = "r"
        hdu.writeto(tmp_path / "r.fits")
        out = load_fits_cutouts(tmp_path / "r.fits", bands="r")
        np.testing.assert_array_equal(out.images[0, 0], img)
        assert out.ra[0] == pytest.approx(30.0) and out.dec[0] == pytest.approx(-5.0)


class TestFitsPaths:
    def test_directory_glob_and_list_agree(self, tmp_path):
        for i in range(3):
            write_cube(tmp_path / f"g{i}.fits", band_cube(72, seed=i), BANDS="grz")
        (tmp_path / "notes.txt").write_text("not a cutout")
        by_dir = load_fits_cutouts(tmp_path)
        by_glob = load_fits_cutouts(str(tmp_path / "g*.fits"))
        by_list = load_fits_cutouts([tmp_path / f"g{i}.fits" for i in range(3)])
        assert by_dir.filenames == by_glob.filenames == by_list.filenames
        assert len(by_dir.filenames) == 3
        np.testing.assert_array_equal(by_dir.images, by_list.images)

    def test_ids_index_the_pixels_and_skip_with_their_files(self, tmp_path):
        for name in ("J1", "J2", "bad"):
            write_cube(tmp_path / f"{name}.fits.gz", band_cube(72), BANDS="grz" if name != "bad"
                       else "gr")
        cut = load_fits_cutouts(tmp_path, on_error="skip")
        assert list(cut.ids) == ["J1", "J2"] and cut.ids.name == "id"
        assert list(cut.data.index) == list(cut.ids) and cut.data.shape == (2, 3 * 72 * 72)
        np.testing.assert_array_equal(cut.data.to_numpy().reshape(cut.images.shape),
                                      cut.images)

    def test_ids_are_paths_where_two_files_share_a_name(self, tmp_path):
        for folder in ("a", "b"):
            (tmp_path / folder).mkdir()
            write_cube(tmp_path / folder / "J1.fits", band_cube(72), BANDS="grz")
        cut = load_fits_cutouts([tmp_path / "a" / "J1.fits", tmp_path / "b" / ".." / "b" /
                                 "J1.fits"])
        assert list(cut.ids) == [str(tmp_path / "a" / "J1.fits"), str(tmp_path / "b" /
                                                                       "J1.fits")]

    def test_empty_directory_and_pattern(self, tmp_path):
        with pytest.raises(ValueError, match="No FITS files"):
            load_fits_cutouts(tmp_path)
        with pytest.raises(ValueError, match="No files match"):
            load_fits_cutouts(str(tmp_path / "*.fits"))


@pytest.mark.filterwarnings("ignore:File may have been truncated")
class TestFitsErrors:
    @pytest.fixture
    def files(self, tmp_path):
        good = [write_cube(tmp_path / f"good{i}.fits", band_cube(72, seed=i), BANDS="grz")
                for i in range(2)]
        corrupt = tmp_path / "corrupt.fits"
        corrupt.write_bytes(b"SIMPLE  = this is not a FITS file" * 10)
        truncated = tmp_path / "truncated.fits"
        truncated.write_bytes(good[0].read_bytes()[:5000])
        return good, corrupt, truncated

    @pytest.mark.parametrize("bad", ["corrupt", "truncated"])
    def test_unreadable_file_is_named(self, files, bad):
        good, corrupt, truncated = files
        path = corrupt if bad == "corrupt" else truncated
        with pytest.raises(ValueError, match=path.name):
            load_fits_cutouts([good[0], path])

    def test_skip_warns_with_the_list_and_keeps_the_rest(self, files, tmp_path):
        good, corrupt, truncated = files
        missing = tmp_path / "missing.fits"
        with pytest.warns(UserWarning, match="Skipped 3 unreadable") as record:
            out = load_fits_cutouts([good[0], corrupt, missing, truncated, good[1]],
                                    on_error="skip")
        message = next(str(w.message) for w in record if "Skipped" in str(w.message))
        assert all(p.name in message for p in (corrupt, truncated, missing))
        assert out.filenames == [str(good[0]), str(good[1])]
        assert [p for p, _ in out.skipped] == [str(corrupt), str(missing), str(truncated)]
        np.testing.assert_array_equal(out.images[1], band_cube(72, seed=1))
        assert out.ra.shape == out.dec.shape == (2,)

    def test_skip_everything_gives_an_empty_result(self, files):
        _, corrupt, _ = files
        with pytest.warns(UserWarning, match="Skipped 1"):
            out = load_fits_cutouts(corrupt, on_error="skip")
        assert out.images.shape == (0, 3, 72, 72) and out.filenames == []

    def test_no_skip_warning_when_nothing_is_skipped(self, files):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            load_fits_cutouts(files[0], on_error="skip")
        assert not [w for w in record if "Skipped" in str(w.message)]

    def test_missing_band(self, tmp_path):
        write_cube(tmp_path / "gr.fits", band_cube(72, bands="gr"), BANDS="gr")
        with pytest.raises(ValueError, match=r"gr\.fits.*\['z'\] not in the file"):
            load_fits_cutouts(tmp_path / "gr.fits")

    def test_band_count_mismatch(self, tmp_path):
        write_cube(tmp_path / "a.fits", band_cube(72), BANDS="grzi")
        with pytest.raises(ValueError, match="names 4 bands but the cube has 3"):
            load_fits_cutouts(tmp_path / "a.fits")

    def test_cube_of_unknown_planes(self, tmp_path):
        write_cube(tmp_path / "a.fits", band_cube(72, bands="griz"))
        with pytest.raises(ValueError, match="without a BANDS keyword"):
            load_fits_cutouts(tmp_path / "a.fits")

    def test_band_images_of_different_shapes(self, tmp_path):
        g, r = fits.ImageHDU(np.zeros((72, 72))), fits.ImageHDU(np.zeros((70, 72)))
        g.header["BAND"], r.header["BAND"] = "g", "r"
        fits.HDUList([fits.PrimaryHDU(), g, r]).writeto(tmp_path / "a.fits")
        with pytest.raises(ValueError, match="different shapes"):
            load_fits_cutouts(tmp_path / "a.fits", bands="gr")

    def test_no_image(self, tmp_path):
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(Table({"a": [1]}))]).writeto(
            tmp_path / "t.fits")
        with pytest.raises(ValueError, match="no 2-D or 3-D image"):
            load_fits_cutouts(tmp_path / "t.fits")

    def test_infinite_pixels(self, tmp_path):
        cube = band_cube(72)
        cube[0, 0, 0] = np.inf
        write_cube(tmp_path / "inf.fits", cube, BANDS="grz")
        with pytest.raises(ValueError, match=r"inf\.fits.*infinite"):
            load_fits_cutouts(tmp_path / "inf.fits")

    @pytest.mark.parametrize(
        "kwargs, match",
        [({"on_error": "ignore"}, "on_error"), ({"image_size": 0}, "image_size"),
         ({"bands": ""}, "at least one band")],
    )
    def test_bad_arguments(self, files, kwargs, match):
        with pytest.raises(ValueError, match=match):
            load_fits_cutouts(files[0][0], **kwargs)


# --------------------------------------------------------------------------- GZ votes


def gz_votes_frame(n=30, seed=0, total_suffix="_total-votes"):
    """A GZD-5 volunteer catalogue: counts, fractions and totals walked down the tree."""
    rng = np.random.default_rng(seed)
    df = {"iauname": [f"J{i:06d}" for i in range(n)],
          "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-30, 60, n)}
    for question, answers in QUESTIONS.items():
        total = rng.integers(0, 40, n)
        total[: n // 3] = rng.integers(20, 40, n // 3)  # most galaxies have votes
        total[-2:] = 0  # and some none at all on this question
        split = rng.dirichlet(np.ones(len(answers)) * 0.5, n)
        counts = np.floor(split * total[:, None]).astype(int)
        counts[:, 0] += total - counts.sum(axis=1)
        for j, a in enumerate(answers):
            df[f"{question}_{a}"] = counts[:, j]
            with np.errstate(invalid="ignore", divide="ignore"):
                df[f"{question}_{a}_fraction"] = np.where(total > 0, counts[:, j] / total, np.nan)
        df[f"{question}{total_suffix}"] = total
    return pd.DataFrame(df)


def gzd12_frame(n=12, seed=1):
    """GZD-1/2 answer names (Walmsley et al. 2022): completely-round, merging neither/..."""
    rng = np.random.default_rng(seed)
    df = {"iauname": [f"J{i:06d}" for i in range(n)],
          "RA": rng.uniform(0, 360, n), "DEC": rng.uniform(-30, 60, n)}
    schema = {"how-rounded": ("completely", "in-between", "cigar-shaped"),
              "merging": ("neither", "tidal-debris", "both", "merger"),
              "bar": ("yes", "no"), "bulge-size": ("dominant", "obvious", "none")}
    for question, answers in schema.items():
        total = rng.integers(5, 30, n)
        counts = rng.multinomial(1, np.ones(len(answers)) / len(answers), size=n)
        counts = counts * total[:, None]
        for j, a in enumerate(answers):
            df[f"{question}_{a}"] = counts[:, j]
            df[f"{question}_{a}_fraction"] = counts[:, j] / total
        df[f"{question}_total-votes"] = total
    return pd.DataFrame(df)


class TestReadGzVotes:
    @pytest.mark.parametrize("fmt", ["csv", "parquet"])
    def test_round_trip_and_binary_labels(self, tmp_path, fmt):
        pytest.importorskip("pyarrow") if fmt == "parquet" else None
        df = gz_votes_frame()
        path = tmp_path / f"votes.{fmt}"
        df.to_csv(path, index=False) if fmt == "csv" else df.to_parquet(path, index=False)
        votes = read_gz_votes(path)
        assert votes.index.name == "iauname"
        assert list(votes.index) == list(df["iauname"])
        np.testing.assert_allclose(votes["ra"], df["ra"])
        frac = "bar_strong_fraction"
        np.testing.assert_allclose(votes[frac], df[frac])
        for task in TASKS:
            expected = gz_binary_labels(df, task)
            got = gz_binary_labels(votes, task)
            np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
            assert got.index.equals(votes.index)
            assert got.notna().any()

    def test_older_total_suffix(self, tmp_path):
        df = gz_votes_frame(total_suffix="_total")
        df.to_csv(tmp_path / "old.csv", index=False)
        votes = read_gz_votes(tmp_path / "old.csv")
        assert "smooth-or-featured_total-votes" in votes.columns
        assert not any(c.endswith("_total") for c in votes.columns)
        # the questions with no votes give NaN labels through the renamed totals
        assert gz_binary_labels(votes, "spiral").iloc[-2:].isna().all()

    def test_gzd12_answers_are_mapped_where_they_only_changed_name(self, tmp_path):
        df = gzd12_frame()
        df.to_csv(tmp_path / "gzd12.csv", index=False)
        votes = read_gz_votes(tmp_path / "gzd12.csv")
        for old, new in [("how-rounded_completely", "how-rounded_round"),
                         ("merging_neither", "merging_none")]:
            assert old not in votes.columns and old + "_fraction" not in votes.columns
            np.testing.assert_allclose(votes[new + "_fraction"], df[old + "_fraction"])
            np.testing.assert_array_equal(votes[new], df[old])
        # answers with no GZD-5 twin keep their names
        assert {"bar_yes_fraction", "merging_tidal-debris", "bulge-size_obvious"} <= set(
            votes.columns)
        assert {"ra", "dec"} <= set(votes.columns)
        round_labels = gz_binary_labels(votes, "round")
        expected = (df["how-rounded_completely_fraction"] > 0.5).astype(float)
        expected[(df["how-rounded_in-between_fraction"]
                  + df["how-rounded_cigar-shaped_fraction"]) <= 0.5] = np.nan
        expected[df["how-rounded_completely_fraction"] > 0.5] = 1.0
        np.testing.assert_array_equal(round_labels.to_numpy(), expected.to_numpy())
        with pytest.raises(ValueError, match="minor-disturbance"):
            gz_binary_labels(votes, "merger")  # GZD-1/2 had no disturbance answers

    def test_fractions_from_counts(self, tmp_path):
        df = gz_votes_frame()
        counts_only = df[[c for c in df.columns if not c.endswith("_fraction")]]
        counts_only.to_csv(tmp_path / "counts.csv", index=False)
        votes = read_gz_votes(tmp_path / "counts.csv")
        for col in ("has-spiral-arms_yes_fraction", "merging_major-disturbance_fraction"):
            np.testing.assert_allclose(votes[col], df[col])  # NaN where total is 0
        assert votes["merging_none_fraction"].iloc[-2:].isna().all()

    def test_totals_from_counts_when_absent(self, tmp_path):
        df = gz_votes_frame()
        df = df[[c for c in df.columns if not c.endswith(("_fraction", "_total-votes"))]]
        df.to_csv(tmp_path / "c.csv", index=False)
        votes = read_gz_votes(tmp_path / "c.csv")
        np.testing.assert_allclose(votes["bar_total-votes"],
                                   df[["bar_strong", "bar_weak", "bar_no"]].sum(axis=1))

    def test_automatic_posteriors_fractions_only(self, tmp_path):
        df = gz_votes_frame()
        auto = df[["iauname", "ra", "dec"] + [c for c in df.columns if c.endswith("_fraction")]]
        auto = auto.fillna(1.0 / 3).iloc[: len(df) // 3]  # galaxies that all have votes
        auto.to_csv(tmp_path / "auto.csv", index=False)
        votes = read_gz_votes(tmp_path / "auto.csv")
        assert gz_binary_labels(votes, "smooth").notna().any()

    def test_fractions_that_do_not_sum_to_one_warn(self, tmp_path):
        df = gz_votes_frame()
        df.loc[0, "bar_no_fraction"] = 0.0
        df.loc[0, "bar_strong_fraction"] = 0.0
        df.loc[0, "bar_weak_fraction"] = 0.5
        df.loc[0, "bar_total-votes"] = 10
        df.to_csv(tmp_path / "v.csv", index=False)
        with pytest.warns(UserWarning, match="'bar' fractions of 1 galaxies"):
            read_gz_votes(tmp_path / "v.csv")

    @pytest.mark.parametrize(
        "change, match",
        [(lambda d: d.drop(columns="iauname"), "no 'iauname' column"),
         (lambda d: d.drop(columns="dec"), "no 'dec' column"),
         (lambda d: d.assign(iauname=["J1"] * len(d)), "duplicate 'iauname'"),
         (lambda d: d.assign(bar_no_fraction=1.5), "outside \\[0, 1\\]"),
         (lambda d: d.assign(bar_no=-1), "negative vote counts"),
         (lambda d: d.assign(bar_no="many"), "'bar_no' is not numeric"),
         (lambda d: d.assign(ra=400.0), "ra/dec outside")],
    )
    def test_validation_errors(self, tmp_path, change, match):
        change(gz_votes_frame()).to_csv(tmp_path / "bad.csv", index=False)
        with pytest.raises(ValueError, match=match):
            read_gz_votes(tmp_path / "bad.csv")

    def test_other_key(self, tmp_path):
        df = gz_votes_frame().rename(columns={"iauname": "dr8_id"})
        df.to_csv(tmp_path / "v.csv", index=False)
        assert read_gz_votes(tmp_path / "v.csv", key="dr8_id").index.name == "dr8_id"

    def test_unreadable_files(self, tmp_path):
        (tmp_path / "broken.parquet").write_bytes(b"PAR1 definitely not parquet")
        with pytest.raises(ValueError, match="broken.parquet"):
            read_gz_votes(tmp_path / "broken.parquet")
        (tmp_path / "votes.xlsx").write_bytes(b"")
        with pytest.raises(ValueError, match="unknown table format"):
            read_gz_votes(tmp_path / "votes.xlsx")
        with pytest.raises(FileNotFoundError, match="nowhere.csv"):
            read_gz_votes(tmp_path / "nowhere.csv")


# --------------------------------------------------------------------------- SED catalogues


def zou_table(n=8, seed=0):
    """Zou+2022-like columns: upper-case names, -99 sentinels and masked entries."""
    rng = np.random.default_rng(seed)
    spec = rng.uniform(0.02, 0.5, n)
    spec[::2] = -99.0  # no spectrum
    mass = rng.uniform(8.5, 11.5, n)
    mass[1] = 4.0  # outside the physical range
    sfr = MaskedColumn(rng.uniform(-2, 1.5, n), mask=[False] * (n - 1) + [True])
    return Table({
        "ID": np.arange(n), "RA": rng.uniform(0, 360, n), "DEC": rng.uniform(-20, 30, n),
        "PHOTO_Z": rng.uniform(0.02, 0.6, n), "SPEC_Z": spec, "MASS_BEST": mass,
        "SFR_BEST": sfr, "NAME": [f"obj{i}" for i in range(n)],
    })


class TestReadSedCatalog:
    @pytest.mark.parametrize("fmt", ["fits", "csv"])
    def test_zou_columns(self, tmp_path, fmt):
        table = zou_table()
        path = tmp_path / f"sed.{fmt}"
        table.write(path, format="fits" if fmt == "fits" else "ascii.csv")
        cat = read_sed_catalog(path)
        spec = np.asarray(table["SPEC_Z"])
        expected_z = np.where(spec > 0, spec, np.asarray(table["PHOTO_Z"]))
        np.testing.assert_allclose(cat["redshift"], expected_z)
        np.testing.assert_array_equal(cat["redshift_is_spec"], spec > 0)
        np.testing.assert_allclose(cat["log_mstar"], table["MASS_BEST"])
        assert np.isnan(cat["log_sfr"].iloc[-1])  # masked entry -> NaN
        np.testing.assert_allclose(cat["ra"], table["RA"])
        assert list(cat["NAME"]) == list(table["NAME"]) and "ID" in cat.columns

    def test_physical_cuts(self, tmp_path):
        path = tmp_path / "sed.fits"
        zou_table().write(path)
        cut = read_sed_catalog(path, physical_cuts=True)
        assert len(cut) == 6  # row 1 (log M* = 4) and row 7 (no SFR) are cut
        assert cut["log_mstar"].between(5, 13).all() and cut["log_sfr"].between(-3, 3).all()

    def test_user_mapping(self, tmp_path):
        df = pd.DataFrame({"zz": [0.1, 0.2], "m": [10.0, -99.0], "s": [0.0, 0.5],
                           "alpha": [1.0, 2.0], "delta": [3.0, 4.0]})
        df.to_csv(tmp_path / "own.csv", index=False)
        cat = read_sed_catalog(tmp_path / "own.csv", columns={
            "redshift": "zz", "log_mstar": "m", "log_sfr": "s", "ra": "alpha", "dec": "delta"})
        assert cat["redshift"].tolist() == [0.1, 0.2] and "redshift_is_spec" not in cat
        assert np.isnan(cat["log_mstar"].iloc[1])  # -99 sentinel
        assert cat["dec"].tolist() == [3.0, 4.0]

    @pytest.mark.parametrize(
        "kwargs, match",
        [({"columns": {"mass": "m"}}, "Unknown target names"),
         ({"columns": {"log_mstar": "nope"}}, "mapped columns not in the file")],
    )
    def test_mapping_errors(self, tmp_path, kwargs, match):
        pd.DataFrame({"m": [1.0]}).to_csv(tmp_path / "a.csv", index=False)
        with pytest.raises(ValueError, match=match):
            read_sed_catalog(tmp_path / "a.csv", **kwargs)

    def test_no_known_column_and_cuts_need_targets(self, tmp_path):
        pd.DataFrame({"m": [1.0]}).to_csv(tmp_path / "a.csv", index=False)
        with pytest.raises(ValueError, match="none of the expected columns"):
            read_sed_catalog(tmp_path / "a.csv")
        pd.DataFrame({"photo_z": [0.1]}).to_csv(tmp_path / "z.csv", index=False)
        with pytest.raises(ValueError, match="physical_cuts needs 'log_mstar'"):
            read_sed_catalog(tmp_path / "z.csv", physical_cuts=True)

    def test_corrupt_fits_is_named(self, tmp_path):
        (tmp_path / "bad.fits").write_bytes(b"garbage" * 100)
        with pytest.raises(ValueError, match="bad.fits"):
            read_sed_catalog(tmp_path / "bad.fits")


# --------------------------------------------------------------------------- cross-match


def offset(ra, dec, arcsec, angle_deg=30.0):
    c = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(angle_deg * u.deg,
                                                                arcsec * u.arcsec)
    return c.ra.deg, c.dec.deg


class TestCrossmatch:
    def test_matches_within_radius(self):
        left = pd.DataFrame({"ra": [10.0, 100.0, 200.0, 359.99999], "dec": [0.0, 45.0, -60, 5.0]})
        rows = [offset(10.0, 0.0, 0.5), offset(100.0, 45.0, 2.0), offset(359.99999, 5.0, 0.3),
                (300.0, 0.0)]
        right = pd.DataFrame(rows, columns=["RA", "DEC"])
        m = crossmatch(left, right)
        assert m["left_index"].tolist() == [0, 3] and m["right_index"].tolist() == [0, 2]
        np.testing.assert_allclose(m["separation_arcsec"], [0.5, 0.3], atol=1e-6)
        wide = crossmatch(left, right, radius=3 * u.arcsec)
        assert wide["left_index"].tolist() == [0, 1, 3]
        assert crossmatch(left, right, radius=3.0).equals(wide)  # floats are arcsec
        assert crossmatch(left, right, radius=0.05 * u.arcmin).equals(wide)

    def test_unique_keeps_the_closest_pair(self):
        left = pd.DataFrame([offset(50.0, 10.0, 0.8), offset(50.0, 10.0, 0.2)],
                            columns=["ra", "dec"])
        right = pd.DataFrame({"ra": [50.0], "dec": [10.0]})
        assert crossmatch(left, right)["left_index"].tolist() == [1]
        assert crossmatch(left, right, unique=False)["left_index"].tolist() == [0, 1]

    def test_nan_coordinates_never_match_and_indices_stay_positional(self):
        left = pd.DataFrame({"ra": [np.nan, 20.0], "dec": [0.0, 0.0]}, index=["a", "b"])
        right = pd.DataFrame({"ra": [20.0, np.nan, 20.0], "dec": [np.nan, 1.0, 0.0]})
        m = crossmatch(left, right)
        assert m[["left_index", "right_index"]].values.tolist() == [[1, 2]]
        all_nan = pd.DataFrame({"ra": [np.nan], "dec": [np.nan]})
        assert crossmatch(left, all_nan).empty and list(crossmatch(left, all_nan).columns) == [
            "left_index", "right_index", "separation_arcsec"]

    def test_skycoord_and_arrays(self):
        c = SkyCoord([1.0, 2.0] * u.deg, [3.0, 4.0] * u.deg)
        m = crossmatch(c, (np.array([2.0, 1.0]), np.array([4.0, 3.0])))
        assert m["right_index"].tolist() == [1, 0]
        galactic = c.galactic  # any frame: matched on the sky
        assert crossmatch(galactic, c)["right_index"].tolist() == [0, 1]

    def test_single_rows_and_reading_catalogues(self, tmp_path):
        votes = gz_votes_frame(n=6)
        votes.to_csv(tmp_path / "v.csv", index=False)
        seds = pd.DataFrame({"RA": votes["ra"][::-1].to_numpy(),
                             "DEC": votes["dec"][::-1].to_numpy(), "photo_z": 0.1})
        seds.to_csv(tmp_path / "s.csv", index=False)
        m = crossmatch(read_gz_votes(tmp_path / "v.csv"), read_sed_catalog(tmp_path / "s.csv"))
        assert m["right_index"].tolist() == [5, 4, 3, 2, 1, 0]
        one = crossmatch(votes.iloc[:1], votes.iloc[:1])
        assert one["right_index"].tolist() == [0]

    @pytest.mark.parametrize(
        "kwargs, match",
        [({"radius": 1 * u.kg}, "non-negative angle"), ({"radius": -1.0}, "non-negative"),
         ({"ra": "alpha"}, "No 'alpha' column")],
    )
    def test_errors(self, kwargs, match):
        df = pd.DataFrame({"ra": [1.0], "dec": [1.0]})
        with pytest.raises(ValueError, match=match):
            crossmatch(df, df, **kwargs)
