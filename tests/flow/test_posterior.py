"""PropertyPosterior on its own: summaries, scores and checks of given posterior draws.

Posteriors drawn by a fitted FlowPropertyRegressor (``predict_dist``, its exact
``log_prob``): ``tests/flow/test_regressor.py``; bad truths given to their scores:
``tests/test_bad_inputs.py``.
"""

import re

import numpy as np
import pandas as pd
import pytest
from _helpers import TINY_FLOW
from scipy import stats

from minuet_sk import FlowPropertyRegressor, PropertyPosterior, metrics


class TestPropertyPosterior:
    def make(self):
        rng = np.random.default_rng(0)
        mu = rng.standard_normal((300, 2))
        samples = mu[:, None, :] + rng.standard_normal((300, 2000, 2))
        truth = mu + rng.standard_normal((300, 2))
        return PropertyPosterior(samples, names=["redshift", "log_mstar"]), mu, truth

    def test_summaries(self):
        post, mu, truth = self.make()
        np.testing.assert_allclose(post.mean(), mu, atol=0.1)
        np.testing.assert_allclose(post.median(), mu, atol=0.15)
        np.testing.assert_allclose(post.std(), 1.0, atol=0.1)
        low, high = post.interval(0.68)
        np.testing.assert_allclose(high - low, 2 * stats.norm.ppf(0.84), atol=0.2)
        assert post.quantile([0.1, 0.9]).shape == (2, 300, 2)
        np.testing.assert_allclose(post.coverage(truth, 0.68), 0.68, atol=0.08)
        assert post.pit(truth).shape == post.crps(truth).shape == (300, 2)
        assert len(post) == 300 and post.n_samples == 2000

    def test_to_frame_is_tidy(self):
        post, _, _ = self.make()
        frame = post.to_frame()
        assert frame.shape == (600, 7)
        assert frame.target.tolist()[:2] == ["redshift", "log_mstar"]
        first = frame.iloc[0]
        assert first.p16 < first["median"] < first.p84

    def test_log_prob_needs_a_model(self):
        post, _, truth = self.make()
        with pytest.raises(AttributeError, match="samples only"):
            post.log_prob(truth)

    def test_shape_errors(self):
        post, _, truth = self.make()
        with pytest.raises(ValueError, match="does not match"):
            post.pit(truth[:, :1])
        with pytest.raises(ValueError, match="shape"):
            PropertyPosterior(np.zeros((3, 4)))

    def test_scores_of_known_draws(self):
        # galaxy 0 draws 0, 1, 2, 3; galaxy 1 always draws 2 (a point forecast)
        samples = np.array([[0.0, 1.0, 2.0, 3.0], [2.0, 2.0, 2.0, 2.0]])[:, :, None]
        post = PropertyPosterior(samples)
        truth = np.array([0.5, 0.5])  # one target: a 1-D truth is read as a column
        np.testing.assert_allclose(post.pit(truth), [[0.25], [0.0]])
        # E|X - y| - E|X - X'| / 2: 1.25 - 0.625, and the absolute error of the point forecast
        np.testing.assert_allclose(post.crps(truth), [[0.625], [1.5]])
        np.testing.assert_allclose(post.mean(), [[1.5], [2.0]])
        np.testing.assert_allclose(post.median(), post.quantile(0.5))
        assert post.quantile(0.5).shape == (2, 1)
        np.testing.assert_allclose(post.std(), [[np.sqrt(1.25)], [0.0]])
        np.testing.assert_allclose(post.coverage([1.5, 2.5], 0.5), [0.5])

    def test_log_prob_is_the_models_density_of_the_checked_truths(self):
        seen = []

        def log_prob_fn(y):
            seen.append(y)
            return -y.sum(axis=1)

        post = PropertyPosterior(np.zeros((2, 5, 2)), names=["z", "m"], log_prob_fn=log_prob_fn)
        frame = pd.DataFrame({"m": [1.0, 2.0], "z": [10.0, 20.0]})
        np.testing.assert_array_equal(post.log_prob(frame), [-11.0, -22.0])
        np.testing.assert_array_equal(seen[0], [[10.0, 1.0], [20.0, 2.0]])  # columns by name
        with pytest.raises(ValueError, match="NaN or inf"):
            post.log_prob(np.array([[np.nan, 1.0], [0.0, 0.0]]))
        assert len(seen) == 1  # refused before the model is asked

    def test_names(self):
        post = PropertyPosterior(np.zeros((4, 3, 2)))
        assert post.names == ["target0", "target1"]
        assert repr(post) == (
            "PropertyPosterior(n_galaxies=4, n_samples=3, names=['target0', 'target1'])"
        )
        assert PropertyPosterior(np.zeros((1, 3, 2)), names=[1, "b"]).names == ["1", "b"]
        with pytest.raises(ValueError, match="1 names for 2 targets"):
            PropertyPosterior(np.zeros((4, 3, 2)), names=["z"])

    @pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 68])
    def test_interval_level_must_be_between_0_and_1(self, level):
        post = PropertyPosterior(np.zeros((2, 3, 1)))
        with pytest.raises(ValueError, match="level must be in"):
            post.interval(level)


def catalogue_posterior(index=None):
    """Float32 draws of two targets for three galaxies, with the given identifiers."""
    samples = np.random.default_rng(1).normal(size=(3, 7, 2)).astype(np.float32)
    return PropertyPosterior(samples, names=["redshift", "log_mstar"], index=index)


CATALOGUE_INDEXES = {
    "default": None,
    "object ids": pd.Index(["J0001+0002", "J0003-0004", "J0005+0006"], name="objid"),
    "integers": pd.Index([907, 12, 33], name="row"),
    "range": pd.RangeIndex(10, 16, 2),
}


class TestIndex:
    def test_default_is_0_to_n(self):
        post = PropertyPosterior(np.zeros((3, 4, 1)))
        pd.testing.assert_index_equal(post.index, pd.RangeIndex(3), exact=True)
        assert post.to_frame()["galaxy"].tolist() == [0, 1, 2]

    def test_identifiers_label_the_summary_and_the_scores(self):
        index = pd.Index(["b", "a", "c"], name="objid")
        post = catalogue_posterior(index)
        assert post.to_frame()["galaxy"].tolist() == ["b", "b", "a", "a", "c", "c"]
        truth = pd.DataFrame(post.median(), columns=post.names)
        for score in (post.pit(truth), post.crps(truth)):
            assert isinstance(score, pd.DataFrame)
            pd.testing.assert_index_equal(score.index, index)
            assert list(score.columns) == ["redshift", "log_mstar"]
        # the labels travel with the numbers: row "a" is the second galaxy's score
        np.testing.assert_allclose(post.pit(truth)["log_mstar"], 0.5)
        np.testing.assert_allclose(
            post.crps(truth).loc["a"], metrics.crps(truth.to_numpy()[1:2], post.samples[1:2])[0]
        )

    def test_coverage_is_a_series_by_target(self):
        post = catalogue_posterior(list("xyz"))
        low, high = post.interval(0.5)
        inside = np.array([[True, False], [True, True], [True, False]])
        coverage = post.coverage(np.where(inside, low, high + 1.0), level=0.5)
        assert isinstance(coverage, pd.Series)
        assert coverage.name == "coverage_0.5"
        assert coverage.to_dict() == pytest.approx({"redshift": 1.0, "log_mstar": 1 / 3})

    @pytest.mark.parametrize("index", [[1, 2], np.arange(4), []])
    def test_one_identifier_per_galaxy(self, index):
        with pytest.raises(ValueError, match=f"index has {len(index)} entries for 3 galaxies"):
            PropertyPosterior(np.zeros((3, 5, 1)), index=index)

    def test_predict_dist_keeps_a_dataframes_index(self):
        rng = np.random.default_rng(0)
        X = pd.DataFrame(rng.normal(size=(40, 2)), columns=["f0", "f1"],
                         index=pd.Index([f"gal{i:02d}" for i in range(40)], name="objid"))
        y = pd.DataFrame({"redshift": X.f0 + 0.1 * rng.normal(size=40), "log_mstar": X.f1})
        flow = FlowPropertyRegressor(**TINY_FLOW).fit(X, y)
        test = X.iloc[[5, 3, 30]]
        post = flow.predict_dist(test)
        pd.testing.assert_index_equal(post.index, test.index)
        assert post.to_frame()["galaxy"].tolist()[::2] == ["gal05", "gal03", "gal30"]
        assert post.crps(y.iloc[[5, 3, 30]]).index.tolist() == ["gal05", "gal03", "gal30"]
        # the same draws as from the rows renumbered 0 .. n-1
        bare = flow.predict_dist(test.reset_index(drop=True))
        np.testing.assert_array_equal(bare.samples, post.samples)
        pd.testing.assert_index_equal(bare.index, pd.RangeIndex(3), exact=True)


class TestFiles:
    @pytest.mark.parametrize("index", CATALOGUE_INDEXES.values(), ids=CATALOGUE_INDEXES.keys())
    @pytest.mark.parametrize("fmt", ["hdf5", "parquet"])
    def test_round_trip_is_whole(self, tmp_path, fmt, index):
        post = catalogue_posterior(index)
        path = tmp_path / f"posterior.{fmt}"
        getattr(post, f"to_{fmt}")(path)
        back = getattr(PropertyPosterior, f"read_{fmt}")(path)
        np.testing.assert_array_equal(back.samples, post.samples)
        assert back.samples.dtype == post.samples.dtype
        assert back.names == post.names
        assert back.index.identical(post.index), (back.index, post.index)
        pd.testing.assert_frame_equal(back.to_frame(), post.to_frame())
        with pytest.raises(AttributeError, match="samples only"):
            back.log_prob(post.median())

    def test_parquet_is_long(self, tmp_path):
        post = catalogue_posterior(CATALOGUE_INDEXES["object ids"])
        post.to_parquet(tmp_path / "p.parquet")
        table = pd.read_parquet(tmp_path / "p.parquet")
        assert list(table.columns) == ["galaxy", "draw", "redshift", "log_mstar"]
        assert len(table) == 3 * 7
        row = table.iloc[7 + 4]  # second galaxy, fifth draw
        assert (row.galaxy, row.draw) == ("J0003-0004", 4)
        assert row.log_mstar == post.samples[1, 4, 1]

    def test_parquet_from_another_tool_is_read(self, tmp_path):
        table = pd.DataFrame({"galaxy": np.repeat(["u", "v"], 3), "draw": np.tile([0, 1, 2], 2),
                              "redshift": np.arange(6.0)})
        table.to_parquet(tmp_path / "t.parquet", index=False)
        post = PropertyPosterior.read_parquet(tmp_path / "t.parquet")
        assert post.index.tolist() == ["u", "v"] and post.names == ["redshift"]
        np.testing.assert_array_equal(post.samples[:, :, 0], [[0, 1, 2], [3, 4, 5]])

    def test_parquet_refuses_clashing_names_and_other_layouts(self, tmp_path):
        with pytest.raises(ValueError, match="distinct target names"):
            PropertyPosterior(np.zeros((2, 3, 1)), names=["draw"]).to_parquet(tmp_path / "a")
        catalogue_posterior().to_parquet(tmp_path / "b.parquet")
        reversed_rows = pd.read_parquet(tmp_path / "b.parquet").iloc[::-1]
        reversed_rows.to_parquet(tmp_path / "c.parquet")
        with pytest.raises(ValueError, match="not a posterior in long format"):
            PropertyPosterior.read_parquet(tmp_path / "c.parquet")

    def test_read_hdf5_refuses_other_files(self, tmp_path):
        import h5py

        with h5py.File(tmp_path / "other.h5", "w") as f:
            f["samples"] = np.zeros((2, 3, 1))
        with pytest.raises(ValueError, match="not a PropertyPosterior file"):
            PropertyPosterior.read_hdf5(tmp_path / "other.h5")


class TestHTML:
    def test_header_and_summary_table(self):
        rng = np.random.default_rng(0)
        samples = np.stack(
            [rng.normal(0.5, 0.1, (1234, 400)), rng.normal(10.0, 0.3, (1234, 400))], axis=-1
        )
        html = PropertyPosterior(samples, names=["redshift", "log_mstar"])._repr_html_()
        assert "1,234 galaxies" in html and "400 samples" in html
        assert re.findall(r"<th>(median [^<]*)</th>", html) == [
            "median posterior mean", "median posterior std", "median 68% width"
        ]
        rows = re.findall(r"<th>([^<]*)</th>\s*" + r"<td>([^<]*)</td>\s*" * 3, html)
        assert [row[0] for row in rows] == ["redshift", "log_mstar"]
        values = np.array([row[1:] for row in rows], dtype=float)
        np.testing.assert_allclose(values[:, 0], [0.5, 10.0], atol=0.01)
        np.testing.assert_allclose(values[:, 1], [0.1, 0.3], rtol=0.05)
        np.testing.assert_allclose(values[:, 2], [0.2, 0.6], rtol=0.05)

    def test_names_are_escaped_and_repr_is_kept(self):
        post = PropertyPosterior(np.zeros((2, 3, 1)), names=["<i>z</i>"])
        assert "&lt;i&gt;z&lt;/i&gt;" in post._repr_html_()
        assert "<i>" not in post._repr_html_()
        assert repr(post) == "PropertyPosterior(n_galaxies=2, n_samples=3, names=['<i>z</i>'])"


class TestTruthsAlignedByIdentifier:
    """A truth given as a pandas object is matched to the posterior's galaxies by
    identifier, as pandas aligns, never silently by position."""

    @staticmethod
    def labelled():
        rng = np.random.default_rng(0)
        centres = np.arange(40, dtype=float)
        draws = centres[:, None, None] + 0.1 * rng.standard_normal((40, 300, 1))
        ids = [f"AT{i:04d}" for i in range(40)]
        return PropertyPosterior(draws, ["redshift"], index=ids), pd.Series(centres, ids)

    def test_shuffled_identifiers_give_the_scores_of_the_ordered_truth(self):
        post, truth = self.labelled()
        shuffled = truth.sample(frac=1.0, random_state=0)
        assert not shuffled.index.equals(truth.index)
        for score in ("coverage", "pit", "crps"):
            got, want = getattr(post, score)(shuffled), getattr(post, score)(truth)
            np.testing.assert_allclose(np.asarray(got), np.asarray(want))
        assert post.coverage(shuffled.to_frame("redshift"), 0.68).iloc[0] > 0.6

    def test_other_identifiers_are_refused_and_say_which(self):
        post, truth = self.labelled()
        other = truth.rename(index={"AT0003": "AT9999"})
        with pytest.raises(ValueError, match=r"1 galaxies have no truth \('AT0003'\).*AT9999"):
            post.coverage(other)
        with pytest.raises(ValueError, match="identifiers repeat"):
            post.pit(pd.concat([truth, truth.iloc[:1]]))

    def test_arrays_default_indexes_and_unlabelled_posteriors_stay_positional(self):
        post, truth = self.labelled()
        np.testing.assert_allclose(post.crps(truth.to_numpy()), post.crps(truth))
        np.testing.assert_allclose(post.crps(truth.reset_index(drop=True)), post.crps(truth))
        plain = PropertyPosterior(post.samples, ["redshift"])  # no identifiers given
        shuffled = truth.sample(frac=1.0, random_state=0)
        np.testing.assert_allclose(plain.pit(shuffled), plain.pit(shuffled.to_numpy()))


class TestTarp:
    """TARP expected coverage as a method, averaged over reference draws."""

    @staticmethod
    def posterior(width):
        rng = np.random.default_rng(3)
        centre = rng.standard_normal((500, 2))
        draws = centre[:, None] + width * rng.standard_normal((500, 300, 2))
        return PropertyPosterior(draws, ["redshift", "log_mstar"]), \
            centre + rng.standard_normal((500, 2))

    def test_a_calibrated_posterior_passes_and_an_overconfident_one_fails(self):
        calibrated, truth = self.posterior(1.0)
        good = calibrated.tarp(truth)
        assert good["max_deviation"] < 0.05 and good["pvalue"] > 0.01
        narrow, truth = self.posterior(0.5)
        bad = narrow.tarp(truth)
        assert bad["max_deviation"] > 0.15 and bad["pvalue"] < 1e-3
        curve = good.attrs["curve"]
        assert curve["alpha"].iloc[0] == 0 and curve["alpha"].iloc[-1] == 1
        assert (np.diff(curve["ecp"]) >= 0).all()

    def test_the_same_figure_every_call_and_an_average_over_references(self):
        post, truth = self.posterior(1.0)
        pd.testing.assert_series_equal(post.tarp(truth), post.tarp(truth))
        one = post.tarp(truth, n_references=1)
        many = post.tarp(truth, n_references=20)
        assert one["max_deviation_spread"] == 0 and many["max_deviation_spread"] > 0
