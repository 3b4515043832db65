"""make_galaxies: the Bunch, reproducibility, cache, and physics that could be wrong."""

import time

import numpy as np
import pandas as pd
import pytest
from astropy.cosmology import Planck18
from scipy import ndimage, stats

from minuet_sk.datasets import _physics, _render, _volunteers, make_galaxies
from minuet_sk.datasets.zoo import QUESTIONS, vote_columns


@pytest.fixture(scope="module")
def galaxies(tmp_path_factory):
    """150 galaxies with neighbours, 40x40, made by two joblib workers."""
    return make_galaxies(150, image_size=40, cache=False, n_jobs=2, random_state=0)


@pytest.fixture(scope="module")
def isolated():
    """Galaxies without neighbours on a larger stamp (noise and photometry checks)."""
    return make_galaxies(40, image_size=48, neighbors=False, cache=False, random_state=1)


@pytest.fixture(scope="module")
def catalog():
    """A large catalogue (no images): population statistics with little sampling noise."""
    rng = np.random.default_rng(7)
    cat = _physics.sample_catalog(4000, rng, 19.0)
    return pd.DataFrame(cat)


class TestBunch:
    def test_fields_shapes_and_types(self, galaxies):
        n = 150
        assert galaxies.images.shape == (n, 3, 40, 40)
        assert galaxies.images.dtype == np.float32
        assert np.isfinite(galaxies.images).all()
        assert galaxies.data.shape == (n, 3 * 40 * 40)
        assert np.shares_memory(galaxies.data, galaxies.images)
        assert galaxies.masks.shape == (n, 40, 40) and galaxies.masks.dtype == bool
        assert list(galaxies.target.columns) == ["redshift", "log_mstar", "log_sfr"]
        assert galaxies.bands == "grz" and galaxies.pixel_scale == 0.262
        for col in ["bulge_fraction", "re_disk_kpc", "re_bulge_kpc", "half_light_radius_arcsec",
                    "axis_ratio", "position_angle", "inclination", "sersic_n", "n_arms",
                    "pitch_angle", "has_bar", "is_merger", "quenched", "sed_bulge", "sed_disk",
                    "mag_g", "mag_r", "mag_z", "psf_fwhm_g", "psf_fwhm_r", "psf_fwhm_z",
                    "has_neighbor"]:
            assert col in galaxies.truth.columns, col
            assert (col[:-1] if col[-2:] in ("_g", "_r", "_z") else col) in galaxies.DESCR, col
        expected = vote_columns("count") + vote_columns("total") + vote_columns("fraction")
        assert set(expected) <= set(galaxies.votes.columns)
        assert len(galaxies.truth) == len(galaxies.votes) == n

    def test_magnitude_limit_and_masks(self, galaxies):
        assert (galaxies.truth["mag_r"] < 19.0).all()
        assert galaxies.masks[:, 19:21, 19:21].all()
        area = galaxies.masks.sum(axis=(1, 2))
        assert stats.spearmanr(area, galaxies.truth["half_light_radius_arcsec"])[0] > 0.4
        assert galaxies.truth["has_neighbor"].mean() > 0.5

    def test_invalid_parameters(self):
        with pytest.raises(ValueError, match="bands"):
            make_galaxies(2, bands="grx")
        with pytest.raises(ValueError, match="n_samples"):
            make_galaxies(0)


class TestReproducibility:
    def test_same_seed_same_arrays_whatever_n_jobs(self, galaxies):
        # The fixture ran on two workers; one process gives the same first galaxies.
        a = make_galaxies(12, image_size=40, cache=False, n_jobs=1, random_state=0)
        np.testing.assert_array_equal(a.images, galaxies.images[:12])
        np.testing.assert_array_equal(a.masks, galaxies.masks[:12])
        pd.testing.assert_frame_equal(a.truth.drop(columns="visibility"),
                                      galaxies.truth.drop(columns="visibility").iloc[:12])
        b = make_galaxies(12, image_size=40, cache=False, n_jobs=1, random_state=0)
        pd.testing.assert_frame_equal(a.votes, b.votes)
        c = make_galaxies(12, image_size=40, cache=False, random_state=4)
        assert not np.allclose(a.images, c.images)

    def test_cache_hit_is_fast_and_identical(self, tmp_path, monkeypatch):
        monkeypatch.setenv("MINUET_SK_DATA", str(tmp_path))
        first = make_galaxies(12, image_size=32, random_state=5)
        assert len(list(tmp_path.glob("galaxies-*.npz"))) == 1
        start = time.perf_counter()
        again = make_galaxies(12, image_size=32, random_state=5)
        assert time.perf_counter() - start < 1.0
        np.testing.assert_array_equal(first.images, again.images)
        pd.testing.assert_frame_equal(first.truth, again.truth)
        pd.testing.assert_frame_equal(first.votes, again.votes)
        make_galaxies(12, image_size=32, random_state=6)
        files = sorted(tmp_path.glob("galaxies-*.npz"))
        assert len(files) == 2
        for f in files:  # a torn file is re-simulated, not an error
            f.write_bytes(b"not a zip file")
        again = make_galaxies(12, image_size=32, random_state=5)
        np.testing.assert_array_equal(first.images, again.images)


class TestPopulation:
    def test_smaller_and_fainter_at_higher_redshift_at_fixed_mass(self, catalog):
        fixed = catalog[catalog["log_mstar"].between(10.4, 10.7) & ~catalog["quenched"]]
        near = fixed[fixed["redshift"] < fixed["redshift"].quantile(0.3)]
        far = fixed[fixed["redshift"] > fixed["redshift"].quantile(0.7)]
        assert far["half_light_radius_arcsec"].median() < 0.7 * near[
            "half_light_radius_arcsec"].median()
        assert far["mag_r"].median() > near["mag_r"].median() + 0.5

    def test_quenched_redder_than_star_forming_at_same_redshift(self, catalog):
        gr = catalog["mag_g"] - catalog["mag_r"]
        for lo, hi in [(0.05, 0.12), (0.12, 0.2), (0.2, 0.3)]:
            sel = catalog["redshift"].between(lo, hi)
            q, sf = gr[sel & catalog["quenched"]], gr[sel & ~catalog["quenched"]]
            assert q.median() > sf.median() + 0.15, (lo, hi)

    def test_quenched_redder_in_the_images(self, isolated):
        truth = isolated.truth
        flux = (isolated.images * isolated.masks[:, None]).sum(axis=(2, 3))
        gr = -2.5 * np.log10(flux[:, 0] / flux[:, 1])
        assert np.median(gr[truth["quenched"]]) > np.median(gr[~truth["quenched"]]) + 0.15

    def test_star_forming_galaxies_follow_the_main_sequence(self, catalog):
        # Speagle et al. (2014) eq. 28, written out here independently of the simulator.
        # Checked where r < 19 is complete for every colour (z < 0.1, M* > 10^10.3): below
        # that, the magnitude limit favours blue, high-SFR galaxies, as in real surveys.
        complete = catalog[(catalog["redshift"] < 0.12) & (catalog["log_mstar"] > 10.4)]
        t = Planck18.age(complete["redshift"].to_numpy()).value
        ms = (0.84 - 0.026 * t) * complete["log_mstar"] - (6.51 - 0.11 * t)
        resid = complete["log_sfr"] - ms
        sf = resid[~complete["quenched"]]
        assert len(sf) > 120
        assert abs(sf.mean()) < 0.06
        assert 0.26 < sf.std() < 0.34
        assert resid[complete["quenched"]].median() < -1.2

    def test_quenched_fraction_rises_with_mass(self, catalog):
        low = catalog.loc[catalog["log_mstar"] < 10.0, "quenched"].mean()
        high = catalog.loc[catalog["log_mstar"] > 11.0, "quenched"].mean()
        assert low < 0.2 and high > 0.7

    def test_brighter_limit_is_nearer(self, catalog):
        bright = pd.DataFrame(_physics.sample_catalog(1000, np.random.default_rng(8), 17.5))
        assert (bright["mag_r"] < 17.5).all()
        assert bright["redshift"].median() < catalog["redshift"].median() - 0.03


class TestImages:
    @pytest.mark.parametrize("size, offset", [(40, (0.3, -0.2)), (33, (0.0, 0.0))])
    def test_shared_k_space_drawing_equals_galsim_draw_image(self, size, offset):
        import galsim

        comps = [galsim.Sersic(n=4, half_light_radius=1.0, trunc=5.0, flux_untruncated=False)
                 .shear(q=0.7, beta=0.3 * galsim.radians),
                 galsim.Exponential(half_light_radius=2.0).shift(1.0, -0.5)]
        fluxes = np.array([[10.0, 20.0, 30.0], [5.0, 6.0, 7.0]])
        psfs = [galsim.Moffat(beta=3.5, fwhm=f) for f in (1.4, 1.3, 1.2)]
        out = _render.draw_bands([(comps, fluxes)], psfs, size, 0.262, offset)
        for b, psf in enumerate(psfs):
            galaxy = galsim.Add([c * f for c, f in zip(comps, fluxes[:, b])])
            ref = galsim.Convolve(galaxy, psf).drawImage(
                nx=size, ny=size, scale=0.262, method="fft", offset=offset).array
            np.testing.assert_allclose(out[0, b], ref, atol=1e-6 * ref.max())

    def test_total_flux_matches_magnitude(self, isolated):
        truth = isolated.truth
        # Mergers carry a companion's light; large galaxies spill out of the stamp.
        small = ((truth["half_light_radius_arcsec"] < 1.5) & ~truth["is_merger"]).to_numpy()
        assert small.sum() >= 5
        measured = isolated.images[small, 1].sum(axis=(1, 2))
        expected = 10 ** (-0.4 * (truth.loc[small, "mag_r"] - 22.5))
        np.testing.assert_allclose(measured / expected, 1.0, atol=0.1)

    def test_point_sources_have_the_psf_width(self, isolated):
        import galsim

        row = isolated.truth.iloc[0].to_dict()
        row.update(is_merger=False, has_bar=False, n_arms=0, knot_fraction=0.0,
                   re_bulge_arcsec=1e-3, sersic_n=1.0)
        for b in "grz":
            row[f"flux_disk_{b}"] = row[f"flux_arms_{b}"] = 0.0
            row[f"flux_bulge_{b}"] = 100.0
            row[f"noise_sigma_{b}"] = 1e-6
        images, _, _ = _render.render_galaxy(row, "grz", 48, 0.262, False, seed=0)
        for j, b in enumerate("grz"):
            image = galsim.Image(images[j].astype(np.float64), scale=0.262)
            centre = galsim.hsm.FindAdaptiveMom(image).moments_centroid
            fwhm = image.calculateFWHM(center=centre)
            # The pixel response broadens a 3.5-6 pixel FWHM by up to ~7%.
            assert 0.98 < fwhm / row[f"psf_fwhm_{b}"] < 1.08, b

    def test_noise_level_matches_the_configured_depth(self, isolated):

        truth = isolated.truth
        in_plane = ndimage.generate_binary_structure(2, 1)[None]  # dilate along H, W only
        far = ~ndimage.binary_dilation(isolated.masks, structure=in_plane, iterations=6)
        for j, b in enumerate("grz"):
            sigma = np.array([1.4826 * stats.median_abs_deviation(img[m]) if m.sum() > 50
                              else np.nan for img, m in zip(isolated.images[:, j], far)])
            ratio = sigma / truth[f"noise_sigma_{b}"]
            assert np.isfinite(ratio).sum() > 20
            assert abs(np.nanmedian(ratio) - 1) < 0.05, b
            # The 5-sigma PSF depth from the measured noise and the drawn PSF's NEA.
            for i in range(3):
                row = truth.iloc[i].to_dict()
                psf = _render.psf_profile(row, b).drawImage(nx=64, ny=64, scale=0.262).array
                nea = 1.0 / np.sum((psf / psf.sum()) ** 2)
                depth = 22.5 - 2.5 * np.log10(5 * truth[f"noise_sigma_{b}"].iloc[i] * np.sqrt(nea))
                assert abs(depth - row[f"psf_depth_{b}"]) < 0.05


class TestVotes:
    def test_fractions_sum_to_one_where_asked(self, galaxies):
        votes = galaxies.votes
        for q, answers in QUESTIONS.items():
            total = votes[f"{q}_total-votes"]
            frac = votes[[f"{q}_{a}_fraction" for a in answers]]
            counts = votes[[f"{q}_{a}" for a in answers]].sum(axis=1)
            np.testing.assert_array_equal(counts, total)
            asked = total > 0
            np.testing.assert_allclose(frac[asked].sum(axis=1), 1.0)
            assert frac[~asked].isna().all().all()
        # Children are asked exactly of the volunteers who gave the parent answer.
        np.testing.assert_array_equal(votes["has-spiral-arms_total-votes"], votes["disk-edge-on_no"])
        np.testing.assert_array_equal(
            votes["merging_total-votes"],
            votes["smooth-or-featured_smooth"] + votes["smooth-or-featured_featured-or-disk"])

    def test_edge_on_truth_raises_edge_on_votes(self, galaxies):
        truth, votes = galaxies.truth, galaxies.votes
        frac = votes["disk-edge-on_yes_fraction"]
        edge = (truth["inclination"] > 80) & (truth["bulge_fraction"] < 0.5) & frac.notna()
        face = (truth["inclination"] < 60) & frac.notna()
        assert edge.sum() >= 5
        assert frac[edge].mean() > frac[face].mean() + 0.3

    def test_visible_features_get_the_votes(self, catalog):
        truth = catalog.assign(seeing=1.3, nearest_neighbor_arcsec=np.nan,
                               brightest_neighbor_mag_r=np.nan)
        votes = _volunteers.simulate_votes(truth, np.random.default_rng(0))
        spiral = votes["has-spiral-arms_yes_fraction"]
        visible = _volunteers.visibility(truth) > 0.7
        arms = truth["n_arms"] > 0
        assert spiral[visible & arms].mean() > spiral[visible & ~arms].mean() + 0.4
        smooth = votes["smooth-or-featured_smooth_fraction"]
        assert smooth[truth["quenched"]].mean() > smooth[~truth["quenched"]].mean() + 0.2
        merging = votes["merging_minor-disturbance_fraction"] + votes[
            "merging_major-disturbance_fraction"]
        assert merging[truth["is_merger"]].mean() > merging[~truth["is_merger"]].mean() + 0.2


class TestReobserve:
    """The same simulated galaxies, observed again: same light, other noise and conditions."""

    @pytest.fixture(scope="class")
    @classmethod
    def galaxies(cls):
        from minuet_sk.datasets import make_galaxies

        return make_galaxies(12, image_size=40, cache=False, random_state=3)

    def test_the_noiseless_galaxy_is_the_same_whatever_the_noise_seed(self, galaxies):
        from minuet_sk.datasets import reobserve

        a = reobserve(galaxies, noiseless=True, random_state=1)
        b = reobserve(galaxies, noiseless=True, random_state=2)
        np.testing.assert_array_equal(a.images, b.images)
        # the original is that galaxy plus its own sky noise, of the truth's sigma per band
        residual = galaxies.images - a.images
        for k, band in enumerate("grz"):
            sigma = galaxies.truth[f"noise_sigma_{band}"].to_numpy()
            np.testing.assert_allclose(residual[:, k].std(axis=(1, 2)), sigma, rtol=0.08)
            # zero mean: within 5 standard errors (sigma / 40 for 40 x 40 pixels)
            assert (np.abs(residual[:, k].mean(axis=(1, 2))) < 5 * sigma / 40).all()

    def test_a_new_noise_draw_at_the_same_conditions(self, galaxies):
        from minuet_sk.datasets import reobserve

        again = reobserve(galaxies, random_state=1)
        pd.testing.assert_frame_equal(again.truth[galaxies.truth.columns], galaxies.truth)
        difference = again.images - galaxies.images  # two independent noise draws
        sigma = galaxies.truth["noise_sigma_r"].to_numpy()
        np.testing.assert_allclose(difference[:, 1].std(axis=(1, 2)), np.sqrt(2) * sigma,
                                   rtol=0.08)

    def test_deeper_data_have_less_noise_by_the_expected_factor(self, galaxies):
        from minuet_sk.datasets import reobserve

        clean = reobserve(galaxies, noiseless=True, random_state=0).images
        deeper = reobserve(galaxies, depth_shift=0.5, random_state=4)
        ratio = (deeper.images - clean)[:, 1].std(axis=(1, 2)) / \
            (galaxies.images - clean)[:, 1].std(axis=(1, 2))
        np.testing.assert_allclose(np.median(ratio), 10 ** -0.2, rtol=0.05)
        np.testing.assert_allclose(deeper.truth["psf_depth_r"],
                                   galaxies.truth["psf_depth_r"] + 0.5)

    def test_seeing_rotation_and_shift_are_recorded_and_change_the_image(self, galaxies):
        from minuet_sk.datasets import reobserve

        sharp = reobserve(galaxies, seeing=1.1, noiseless=True, random_state=0)
        blurred = reobserve(galaxies, seeing=1.6, noiseless=True, random_state=0)
        assert (sharp.truth["psf_fwhm_r"] == 1.1).all()
        assert (sharp.images.max(axis=(1, 2, 3)) > blurred.images.max(axis=(1, 2, 3))).all()
        turned = reobserve(galaxies, rotation=90.0, noiseless=True, random_state=0)
        np.testing.assert_allclose(turned.truth["position_angle"],
                                   (galaxies.truth["position_angle"] + 90) % 180)
        plain = reobserve(galaxies, noiseless=True, random_state=0)
        assert not np.allclose(turned.images, plain.images)
        # a turned galaxy keeps its flux (to the little that turns out of the stamp)
        np.testing.assert_allclose(turned.images.sum(axis=(1, 2, 3)),
                                   plain.images.sum(axis=(1, 2, 3)), rtol=0.01)
        moved = reobserve(galaxies, shift=(0.4, -0.3), random_state=0)
        assert (moved.truth["shift_x"] == 0.4).all() and (moved.truth["shift_y"] == -0.3).all()

    def test_new_conditions_and_bad_requests(self, galaxies):
        from minuet_sk.datasets import reobserve

        new = reobserve(galaxies, conditions="new", random_state=5)
        assert not np.allclose(new.truth["seeing"], galaxies.truth["seeing"])
        with pytest.raises(ValueError, match="make_galaxies"):
            reobserve({"images": galaxies.images})
        with pytest.raises(ValueError, match="rotation"):
            reobserve(galaxies, rotation="sideways")
        with pytest.raises(ValueError, match="seeing must be a number, one per galaxy;"):
            reobserve(galaxies, seeing="random")  # no distribution to draw seeing from
        some = reobserve(galaxies, rows=[5, 2], noiseless=True, random_state=0)
        np.testing.assert_array_equal(
            some.images, reobserve(galaxies, noiseless=True, random_state=0).images[[5, 2]])
        with pytest.raises(ValueError, match="whole simulation"):
            sub = dict(galaxies, truth=galaxies.truth.iloc[:3])
            from sklearn.utils import Bunch

            reobserve(Bunch(**sub))

    def test_pairs_a_view_on_a_random_night_with_the_galaxy_at_reference(self, galaxies):
        from minuet_sk.datasets import reobserve, reobserve_pairs

        n = len(galaxies.truth)
        pairs = reobserve_pairs(galaxies, n_views=2, reference_seeing=1.3, depth_range=0.4,
                                random_state=6)
        assert pairs.images.shape == pairs.reference.shape == (2 * n, 3, 40, 40)
        np.testing.assert_array_equal(pairs.rows, np.tile(np.arange(n), 2))
        truth = pairs.truth
        # each view: another night, another angle and a sub-pixel shift
        assert not np.allclose(truth["seeing"][:n], galaxies.truth["seeing"])
        assert not np.allclose(truth["seeing"][:n], truth["seeing"][n:])
        assert (truth[["shift_x", "shift_y"]].abs() <= 0.5).all().all()
        turn = truth["rotation"]
        assert turn.min() >= 0 and turn.max() < 360 and turn.std() > 40
        np.testing.assert_allclose(
            truth["position_angle"],
            (np.tile(galaxies.truth["position_angle"], 2) + turn) % 180)
        # its reference: the galaxy turned by that angle, noiseless, at the reference
        # seeing, centred (rendered again, the same pixels)
        for k in (0, n + 7):
            again = reobserve(galaxies, rows=[pairs.rows[k]], noiseless=True, seeing=1.3,
                              shift=(0, 0), rotation=turn[k])
            np.testing.assert_allclose(pairs.reference[k], again.images[0], atol=1e-6)
        # the view is that galaxy on its night: noisy around its own noiseless rendering
        k = 3
        clean = reobserve(galaxies, rows=[k], noiseless=True, seeing=truth["seeing"][k],
                          shift=(truth["shift_x"][k], truth["shift_y"][k]),
                          rotation=turn[k]).images[0]
        residual = (pairs.images[k] - clean)[1]
        assert 0.7 < residual.std() / truth["noise_sigma_r"][k] < 1.3
        # depths move by at most depth_range around the simulator's nights
        depth = truth["psf_depth_r"]
        assert 23.0 - 0.4 < depth.min() and depth.max() < 24.8 + 0.4
        same = reobserve_pairs(galaxies, n_views=2, reference_seeing=1.3, depth_range=0.4,
                               random_state=6)
        np.testing.assert_array_equal(same.images, pairs.images)
        for bad in ({"n_views": 0}, {"depth_range": -1.0}):
            with pytest.raises(ValueError, match=next(iter(bad))):
                reobserve_pairs(galaxies, **bad)


def test_reobserve_finds_every_galaxys_seed_in_one_pass(monkeypatch):
    """The seeds of all galaxies are spawned once, not once per galaxy (quadratic: hours
    for 20,000 galaxies)."""
    from minuet_sk.datasets import make_galaxies, reobserve, simulate

    galaxies = make_galaxies(6, image_size=16, cache=False, random_state=0)
    calls = []
    spawn = simulate._galaxy_seeds
    monkeypatch.setattr(simulate, "_galaxy_seeds",
                        lambda *args: calls.append(args) or spawn(*args))
    again = reobserve(galaxies, noiseless=True, random_state=0)
    assert len(calls) == 1 and again.images.shape == galaxies.images.shape
