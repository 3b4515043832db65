"""metrics.central_source_morphology and factor_agreement, on GalSim galaxies of known
half-light radius, axis ratio and Sersic index."""

import galsim
import numpy as np
import pandas as pd
import pytest

from minuet_sk.metrics import FACTORS, central_source_morphology, factor_agreement

SIZE = 48
COLOURS = (0.5, 1.0, 1.5)  # g, r, z flux ratios: g - r = 2.5 log10(2) = 0.753


def galaxy(n, hlr, q, beta=0.7, flux=1000.0, seed=0):
    """grz image of a Sersic galaxy (pixel units), a small PSF and a little noise."""
    profile = galsim.Sersic(n=n, half_light_radius=hlr, flux=flux)
    profile = profile.shear(q=q, beta=beta * galsim.radians)
    image = galsim.Convolve(profile, galsim.Gaussian(fwhm=1.0)).drawImage(
        nx=SIZE, ny=SIZE, scale=1.0).array
    noise = 0.005 * np.random.default_rng(seed).normal(size=(3, SIZE, SIZE))
    return np.stack([c * image for c in COLOURS]) + noise


@pytest.fixture(scope="module")
def grid():
    params = [(n, hlr, q) for n in (1.0, 4.0) for hlr in (3.0, 5.0) for q in (0.4, 0.8)]
    images = np.stack([galaxy(n, hlr, q, seed=i) for i, (n, hlr, q) in enumerate(params)])
    return pd.DataFrame(params, columns=["n", "hlr", "q"]), images


def test_known_axis_ratio_size_colour_and_concentration(grid):
    truth, images = grid
    m = central_source_morphology(images)
    np.testing.assert_allclose(m["axis_ratio"], truth["q"], atol=0.05)
    np.testing.assert_allclose(m["colour"], 2.5 * np.log10(2), atol=0.01)
    exponential = truth["n"] == 1
    np.testing.assert_allclose(m["half_light_radius"][exponential], truth["hlr"][exponential],
                               rtol=0.2)
    # a de Vaucouleurs profile is more concentrated than an exponential of the same size
    for hlr in (3.0, 5.0):
        for q in (0.4, 0.8):
            pick = (truth["hlr"] == hlr) & (truth["q"] == q)
            c1, c4 = (m["concentration"][pick & (truth["n"] == n)].item() for n in (1, 4))
            assert c4 > c1 + 0.7, (hlr, q, c1, c4)
    assert m["concentration"][exponential].between(2.4, 3.2).all()  # 2.7 for n = 1
    # the larger galaxy is larger, whatever its profile
    assert (m["half_light_radius"][truth["hlr"] == 5].to_numpy()
            > m["half_light_radius"][truth["hlr"] == 3].to_numpy()).all()


def test_brightness_in_magnitudes_and_radii_in_arcsec():
    faint, bright = galaxy(1, 4, 0.6, flux=500.0), galaxy(1, 4, 0.6, flux=2000.0)
    m = central_source_morphology(np.stack([faint, bright]), pixel_scale=0.262)
    assert m["mag"][0] - m["mag"][1] == pytest.approx(2.5 * np.log10(4), abs=0.02)
    pixels = central_source_morphology(faint[None])["half_light_radius"][0]
    assert m["half_light_radius"][0] == pytest.approx(0.262 * pixels, rel=1e-6)
    assert m["log_half_light_radius"][0] == pytest.approx(np.log10(0.262 * pixels))


@pytest.mark.parametrize("turn", ["rot90", "rot180", "flip_lr", "flip_ud"])
def test_orientation_free(turn):
    image = galaxy(2.0, 4.0, 0.5, beta=0.3)
    moved = {"rot90": np.rot90(image, 1, axes=(1, 2)), "rot180": np.rot90(image, 2, axes=(1, 2)),
             "flip_lr": image[:, :, ::-1], "flip_ud": image[:, ::-1]}[turn]
    a, b = central_source_morphology(np.stack([image, np.ascontiguousarray(moved)])).to_numpy()
    assert np.isfinite(a).all()
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_neighbours_are_masked_and_empty_stamps_give_nan():
    alone = galaxy(1, 3, 0.7)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    neighbour = 20 * np.exp(-((xx - 40) ** 2 + (yy - 8) ** 2) / 4.0)  # bright, off centre
    crowded = alone + neighbour
    sky = 0.005 * np.random.default_rng(1).normal(size=(3, SIZE, SIZE))
    m = central_source_morphology(np.stack([alone, crowded, sky]))
    assert m["mag"][1] == pytest.approx(m["mag"][0], abs=0.05)
    assert m["axis_ratio"][1] == pytest.approx(m["axis_ratio"][0], abs=0.05)
    assert m.iloc[2].isna().all()


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        central_source_morphology(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="2 band names for 3 channels"):
        central_source_morphology(np.zeros((1, 3, 8, 8)), bands="gr")


def test_factor_agreement_ranks_and_r2():
    rng = np.random.default_rng(0)
    truth = pd.DataFrame(rng.normal(size=(50, len(FACTORS))), columns=FACTORS)
    kept = truth * 2 + 1  # a monotone, linear copy
    shuffled = truth.sample(frac=1, random_state=0).reset_index(drop=True)
    table = factor_agreement(truth, kept)
    assert list(table.index) == list(FACTORS)
    np.testing.assert_allclose(table[["spearman", "r2"]], 1.0)
    assert (factor_agreement(truth, shuffled)["r2"] < 0.2).all()
    kept.loc[:9, "axis_ratio"] = np.nan  # unmeasured galaxies are left out
    assert factor_agreement(truth, kept).loc["axis_ratio", "n"] == 40
    with pytest.raises(ValueError, match="same galaxies"):
        factor_agreement(truth, kept.iloc[:10])


def test_statmorph_recovers_sersic_index_ellipticity_and_concentration():
    pytest.importorskip("statmorph")
    from minuet_sk.metrics import STATMORPH_COLUMNS, statmorph_morphology

    params = [(n, q) for n in (1.0, 4.0) for q in (0.4, 0.8)]
    images = np.stack([galaxy(n, 5.0, q, seed=i) for i, (n, q) in enumerate(params)])
    psf = galsim.Gaussian(fwhm=1.0).drawImage(nx=9, ny=9, scale=1.0).array
    m = statmorph_morphology(images, psf=psf)
    assert list(m.columns) == list(STATMORPH_COLUMNS)
    n, q = (np.array(p) for p in zip(*params))
    assert (m["flag_sersic"] == 0).all() and (m["flag"] <= 1).all()
    np.testing.assert_allclose(m["sersic_n"][n == 1], 1.0, atol=0.1)
    np.testing.assert_allclose(m["sersic_ellip"][n == 1], 1 - q[n == 1], atol=0.05)
    assert (m["sersic_n"][n == 4] > 3).all()
    for axis_ratio in (0.4, 0.8):  # the de Vaucouleurs galaxy is the more concentrated
        one, four = (m[(n == k) & (q == axis_ratio)].iloc[0] for k in (1, 4))
        assert four["gini"] > one["gini"] + 0.05
        assert four["concentration"] > one["concentration"] + 0.7


def test_statmorph_without_a_central_source_and_without_statmorph(monkeypatch):
    pytest.importorskip("statmorph")
    from minuet_sk.metrics import statmorph_morphology

    sky = 0.01 * np.random.default_rng(0).normal(size=(1, 3, SIZE, SIZE))
    m = statmorph_morphology(sky)
    assert m[["gini", "sersic_n"]].isna().all(axis=None) and m["flag"][0] == 4
    with pytest.raises(ValueError, match="band 3"):
        statmorph_morphology(sky, band=3)
    monkeypatch.setitem(__import__("sys").modules, "statmorph", None)
    with pytest.raises(ImportError, match=r"minuet-sk\[statmorph\]"):
        statmorph_morphology(sky)
