"""Latent traversals, correlation tables and the figure functions."""

import numpy as np
import pandas as pd
import pytest
from _helpers import TINY_VAE, make_blobs_images

from minuet_sk import EigengalaxyPCA, VAEEncoder, plotting
from minuet_sk.plotting import correlation_table, latent_traversal

SHAPE = (2, 8, 8)
NAMES = ["redshift", "log_mstar"]  # the targets of the toy posteriors

# X and fitted (conftest.py)
IMAGES = {"n": 30, "shape": SHAPE, "random_state": 3}
ESTIMATOR = VAEEncoder(2, image_shape=SHAPE, **TINY_VAE)


class TestLatentTraversal:
    @pytest.mark.parametrize("ref", ["chw", "1chw", "flat", "1flat"])
    def test_shapes_for_every_reference_layout(self, fitted, X, ref):
        x = {"chw": X[0], "1chw": X[:1], "flat": X[0].ravel(), "1flat": X[:1].reshape(1, -1)}
        images = latent_traversal(fitted, x[ref], 0, np.linspace(-2, 2, 5))
        assert images.shape == (5, *SHAPE)

    def test_only_the_chosen_latent_moves(self, fitted, X):
        values = [-1.0, 0.0, 1.0]
        images = latent_traversal(fitted, X[0], 1, values)
        codes = fitted.transform(X[:1])
        expected = np.repeat(codes, 3, axis=0)
        expected[:, 1] = values
        np.testing.assert_allclose(images.reshape(3, -1), fitted.inverse_transform(expected))
        assert not np.allclose(images[0], images[2])

    def test_works_with_pca_and_pandas_output(self, X):
        pca = EigengalaxyPCA(n_components=3, image_shape=SHAPE).fit(X)
        pca.set_output(transform="pandas")
        assert latent_traversal(pca, X[0], 2, [0.0, 1.0]).shape == (2, *SHAPE)

    def test_errors(self, fitted, X):
        with pytest.raises(ValueError, match="one image"):
            latent_traversal(fitted, X[:2], 0, [0.0])
        with pytest.raises(ValueError, match="component"):
            latent_traversal(fitted, X[0], 5, [0.0])


class TestCorrelationTable:
    def test_values_layout_and_nan_pairs(self):
        rng = np.random.default_rng(0)
        z = rng.normal(size=(200, 2))
        frame = pd.DataFrame({
            "mass": 2 * z[:, 0] + 0.01 * rng.normal(size=200),
            "noise": rng.normal(size=200),
            "name": ["g"] * 200,
            "spiral": z[:, 1] > 0,
        })
        frame.loc[:9, "mass"] = np.nan
        table = correlation_table(z, frame)
        assert table.shape == (2, 6)
        assert list(table.index) == ["latent0", "latent1"]
        assert set(table.columns.get_level_values("method")) == {"pearson", "spearman"}
        assert table.loc["latent0", ("pearson", "mass")] > 0.99
        assert abs(table.loc["latent1", ("spearman", "noise")]) < 0.2
        assert table.loc["latent1", ("pearson", "spiral")] > 0.7
        assert "name" not in table.columns.get_level_values("property")

    def test_dataframe_latents_keep_names(self, fitted, X):
        z = fitted.set_output(transform="pandas").transform(X)
        fitted.set_output(transform="default")
        frame = pd.DataFrame({"flux": X.sum(axis=(1, 2, 3))}, index=np.arange(100, 130))
        table = correlation_table(z, frame)
        assert list(table.index) == ["vae0", "vae1"]
        assert np.isfinite(table.to_numpy()).all()

    def test_errors(self):
        with pytest.raises(ValueError, match="rows"):
            correlation_table(np.zeros((3, 2)), pd.DataFrame({"a": [1.0, 2.0]}))
        with pytest.raises(ValueError, match="numeric"):
            correlation_table(np.zeros((2, 2)), pd.DataFrame({"a": ["x", "y"]}))


@pytest.fixture
def _agg():
    """pyplot on the Agg backend; the figures a test draws are closed after it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.mark.usefixtures("_agg")
class TestFigures:
    """The plot_* functions draw into the axes or figure they are given and return it."""

    def test_rgb_composite_maps_z_to_red_and_clips(self):
        images = np.zeros((1, 3, 2, 2))
        images[0, 2] = 2.0  # z band only, brighter than the scale
        images[0, 0, 0, 0] = 1.0
        rgb = plotting.rgb_composite(images, percentile=100)
        assert rgb.shape == (1, 2, 2, 3)
        assert rgb[0, 1, 1].tolist() == [1.0, 0.0, 0.0]  # z -> red
        assert rgb[0, 0, 0, 2] == 0.5  # g -> blue, on the shared scale
        assert rgb.max() <= 1.0

    def test_reconstructions_into_a_given_figure(self, _agg):
        X = np.random.default_rng(0).random((5, 3, 8, 8))
        fig = _agg.figure()
        out = plotting.plot_reconstructions(X, {"a": X, "b": 0 * X}, n_show=3, fig=fig,
                                            row_labels=["x", "y", "z"])
        assert out is fig and len(fig.axes) == 9
        assert [ax.get_title() for ax in fig.axes[:3]] == ["input", "a", "b"]
        assert fig.axes[3].get_ylabel() == "y"
        shown = fig.axes[2].get_images()[0].get_array()
        assert np.all(np.asarray(shown) == 0)  # the zero reconstruction is black

    def test_power_spectra_into_given_axes(self, _agg):
        X = np.random.default_rng(0).random((4, 2, 8, 8))
        fig, axes = _agg.subplots(1, 2)
        assert plotting.plot_power_spectra(X, {"copy": X}, bands="gr", axes=axes) is fig
        truth, copy = axes[1].get_lines()
        np.testing.assert_allclose(truth.get_ydata(), copy.get_ydata())
        assert axes[1].get_title() == "r band"

    def test_corner_colour_bar_and_layout(self):
        Z = np.random.default_rng(0).normal(size=(40, 3))
        fig = plotting.plot_latent_corner(Z, colour=Z[:, 0], colour_label="redshift")
        assert len(fig.axes) == 10  # 3 x 3 panels and the colour bar
        assert fig.axes[-1].get_ylabel() == "redshift"
        assert not fig.axes[2].axison  # above the diagonal: empty

    def test_posteriors_mark_truth_and_interval(self, _agg):
        from minuet_sk import PropertyPosterior

        draws = np.random.default_rng(0).normal(size=(3, 200, 2))
        post = PropertyPosterior(draws, ["z", "m"])
        fig, axes = _agg.subplots(2, 2)
        out = plotting.plot_posteriors(post, pd.DataFrame({"z": [0.5, 1, 2], "m": [3, 4, 5]}),
                                       n_show=2, axes=axes)
        assert out is fig
        assert axes[1, 0].get_lines()[0].get_xdata()[0] == 1  # the truth of galaxy 1
        low, high = post.interval(0.68)
        ax = axes[0, 1]  # the span's corners in data units (a Rectangle or a Polygon by version)
        xs = ax.transData.inverted().transform(ax.patches[-1].get_verts())[:, 0]
        np.testing.assert_allclose([xs.min(), xs.max()], [low[0, 1], high[0, 1]], rtol=1e-6)

    def test_roc_on_a_given_axis(self, _agg):
        fig, ax = _agg.subplots()
        assert plotting.plot_roc({"m": ([0, 0.5, 1], [0, 0.9, 1], 0.7)}, ax=ax) is fig
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["m 0.70"]
        np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [0, 0.9, 1])

    def test_neighbours_put_the_query_first(self):
        images = np.random.default_rng(0).random((6, 3, 4, 4))
        Z = np.arange(6.0)[:, None]
        fig = plotting.plot_neighbours(images, Z, n_query=2, k=2)
        assert len(fig.axes) == 6
        first = np.asarray(fig.axes[0].get_images()[0].get_array())
        np.testing.assert_allclose(first, plotting.rgb_composite(images)[0])

    def test_traversals_one_row_per_latent(self):
        grz = make_blobs_images(20, (3, 8, 8), random_state=0)
        pca = EigengalaxyPCA(2, image_shape=(3, 8, 8)).fit(grz)
        fig = plotting.plot_latent_traversals(pca, grz[:1], pca.transform(grz), n_values=3)
        assert len(fig.axes) == 2 * 3
        assert [ax.get_ylabel() for ax in fig.axes[::3]] == ["latent 0", "latent 1"]


def test_rgb_composite_on_a_reference_scale():
    inputs = np.full((1, 3, 2, 2), 2.0)
    faint = np.full((1, 3, 2, 2), 1.0)
    assert plotting.rgb_composite(faint).max() == 1.0  # its own scale: full brightness
    assert plotting.rgb_composite(faint, reference=inputs).max() == 0.5


@pytest.mark.usefixtures("_agg")
class TestPosteriorFigures:
    """PIT, coverage, corner and predicted-vs-true figures of a PropertyPosterior."""

    @staticmethod
    def _toy(n=2000, n_samples=300, width=1.0, seed=0):
        """Truths and draws from the same normal distributions per galaxy (calibrated when
        ``width`` is 1; over-confident below 1), as a posterior and a truth DataFrame."""
        from minuet_sk import PropertyPosterior

        rng = np.random.default_rng(seed)
        centre = rng.uniform(0.1, 1.0, size=(n, 2))
        scale = np.array([0.05, 0.3])
        truth = centre + scale * rng.normal(size=(n, 2))
        draws = centre[:, None] + width * scale * rng.normal(size=(n, n_samples, 2))
        post = PropertyPosterior(draws, NAMES,
                                 index=[f"g{i}" for i in range(n)])
        return post, pd.DataFrame(truth, columns=NAMES)

    @staticmethod
    def _band(ax):
        """The (low, high) of the calibrated band drawn by plot_pit (an axhspan)."""
        band = ax.patches[0]
        ys = ax.transData.inverted().transform(band.get_verts())[:, 1]
        return ys.min(), ys.max()

    def test_pit_of_a_calibrated_posterior_stays_in_the_band(self, _agg):
        post, y = self._toy()
        fig, ax = _agg.subplots()
        assert plotting.plot_pit(post, y, bins=10, ax=ax) is fig
        stairs = ax.patches[1:]
        assert len(stairs) == 2 and len(ax.get_lines()) == 1  # one per target; the line at 1
        assert ax.get_lines()[0].get_ydata()[0] == 1
        low, high = self._band(ax)
        np.testing.assert_allclose([low, high], 1 + np.array([-2, 2]) * np.sqrt(9 / 2000))
        for patch in stairs:
            density, edges, _ = patch.get_data()
            assert len(density) == 10 and np.isclose((density * np.diff(edges)).sum(), 1)
            assert np.mean((density >= low) & (density <= high)) >= 0.8
            assert np.all(np.abs(density - 1) < 1.5 * (high - 1))

    def test_pit_of_an_over_confident_posterior_is_a_u_outside_the_band(self, _agg):
        post, y = self._toy(width=0.5)
        ax = plotting.plot_pit(post, y, bins=10).axes[0]
        _, high = self._band(ax)
        density = ax.patches[1].get_data().values
        assert density[0] > high and density[-1] > high and density[5] < 1

    def test_pit_from_an_array_truth(self, _agg):
        post, y = self._toy(n=200)
        ax = plotting.plot_pit(post, y.to_numpy()).axes[0]
        assert [t.get_text() for t in ax.get_legend().get_texts()][1:] == NAMES

    def test_coverage_of_a_calibrated_posterior_follows_the_diagonal(self, _agg):
        post, y = self._toy()
        fig, ax = _agg.subplots()
        assert plotting.plot_coverage(post, y, ax=ax) is fig
        *curves, diagonal = ax.get_lines()
        assert len(curves) == 2
        np.testing.assert_array_equal(diagonal.get_xydata(), [[0, 0], [1, 1]])
        for line, name in zip(curves, NAMES):
            levels, coverage = line.get_xdata(), line.get_ydata()
            np.testing.assert_allclose(levels, np.linspace(0.05, 0.95, 19))
            np.testing.assert_allclose(coverage, levels, atol=0.04)
            assert np.isclose(coverage[-1], post.coverage(y, levels[-1])[name])

    def test_coverage_of_an_over_confident_posterior_falls_below(self, _agg):
        post, y = self._toy(width=0.5)
        line = plotting.plot_coverage(post, y, levels=[0.5, 0.9]).axes[0].get_lines()[0]
        assert np.all(line.get_ydata() < np.array([0.5, 0.9]) - 0.1)

    def test_tarp_of_a_calibrated_posterior_follows_the_diagonal(self, _agg):
        post, y = self._toy()
        fig, ax = _agg.subplots()
        assert plotting.plot_tarp(post, y, ax=ax) is fig
        curve, _ = ax.get_lines()
        np.testing.assert_allclose(curve.get_ydata(), curve.get_xdata(), atol=0.06)
        expected = post.tarp(y)["max_deviation"]
        assert f"max dev. {expected:.3f}" in ax.get_legend().get_texts()[1].get_text()

    def test_tarp_of_an_over_confident_posterior_falls_off_the_diagonal(self, _agg):
        post, y = self._toy(width=0.5)
        curve = plotting.plot_tarp(post, y, n_references=3).axes[0].get_lines()[0]
        assert np.abs(curve.get_ydata() - curve.get_xdata()).max() > 0.15

    def test_corner_hides_the_upper_triangle_and_marks_the_truth(self, _agg):
        post, y = self._toy(n=5)
        fig = _agg.figure()
        assert plotting.plot_posterior_corner(post, 3, truth=y, fig=fig) is fig
        assert len(fig.axes) == 4
        assert [ax.axison for ax in fig.axes] == [True, False, True, True]
        assert fig.texts[0].get_text() == "galaxy g3"
        lower = fig.axes[2]  # row log_mstar, column redshift
        marker = next(line for line in lower.get_lines() if line.get_marker() == "s")
        np.testing.assert_allclose(marker.get_xydata()[0], y.iloc[3])
        diagonal = fig.axes[0]
        assert diagonal.get_title().startswith("redshift = ")
        dashed = [line.get_xdata()[0] for line in diagonal.get_lines()
                  if line.get_linestyle() == "--"]
        np.testing.assert_allclose(dashed, np.quantile(post.samples[3, :, 0], [0.16, 0.5, 0.84]))

    def test_corner_takes_a_galaxy_by_its_identifier(self, _agg):
        post, y = self._toy(n=5)
        by_id = plotting.plot_posterior_corner(post, "g3", truth=y)
        assert by_id.texts[0].get_text() == "galaxy g3"
        by_position = plotting.plot_posterior_corner(post, 3, truth=y)
        assert by_id.axes[0].get_title() == by_position.axes[0].get_title()
        with pytest.raises(ValueError, match="neither an identifier.*'g0'"):
            plotting.plot_posterior_corner(post, "AT0005")
        with pytest.raises(ValueError, match=r"must be in \[0, 5\)"):
            plotting.plot_posterior_corner(post, 7)

    def test_corner_of_three_targets_with_an_array_truth(self, _agg):
        from minuet_sk import PropertyPosterior

        post = PropertyPosterior(np.random.default_rng(0).normal(size=(2, 100, 3)))
        fig = plotting.plot_posterior_corner(post, truth=np.zeros((2, 3)))
        assert len(fig.axes) == 9
        hidden = [r < c for r in range(3) for c in range(3)]
        assert [not ax.axison for ax in fig.axes] == hidden
        assert fig.axes[6].get_xlabel() == "target0" and fig.axes[6].get_ylabel() == "target2"

    def test_predicted_vs_true_one_panel_per_target_with_metrics(self, _agg):
        from minuet_sk import metrics

        post, y = self._toy(n=300)
        fig, axes = _agg.subplots(1, 2)
        assert plotting.plot_predicted_vs_true(post, y, max_points=50, axes=axes) is fig
        assert len(fig.axes) == 2
        z_text, m_text = (ax.texts[0].get_text() for ax in axes)
        z_nmad = metrics.sigma_nmad(y["redshift"], post.median()[:, 0])
        assert f"sigma_{{NMAD}}$ = {z_nmad:.3f}" in z_text and "outliers" in z_text
        assert "NMAD" not in m_text
        coverage = post.coverage(y, 0.68)
        assert f"68% coverage = {coverage['log_mstar']:.2f}" in m_text
        assert f"68% coverage = {coverage['redshift']:.2f}" in z_text
        bars = axes[0].containers[0]
        x, mid = bars.lines[0].get_data()
        rows = np.unique(np.linspace(0, 299, 50).round().astype(int))  # evenly subsampled
        np.testing.assert_allclose(x, y["redshift"].to_numpy()[rows])
        np.testing.assert_allclose(mid, post.median()[rows, 0])
        low, high = post.interval(0.68)
        ends = np.array([seg[:, 1] for seg in bars.lines[2][0].get_segments()])
        np.testing.assert_allclose(ends, np.column_stack([low[rows, 0], high[rows, 0]]))

    def test_predicted_vs_true_makes_its_own_row(self):
        post, y = self._toy(n=50)
        fig = plotting.plot_predicted_vs_true(post, y)
        assert [ax.get_title() for ax in fig.axes] == NAMES

    @pytest.mark.parametrize("call, message", [
        (lambda p: plotting.plot_pit(p, np.zeros((5, 3))), r"y of shape \(5, 3\)"),
        (lambda p: plotting.plot_coverage(p, np.zeros(4)), r"expected \(5, 2\)"),
        (lambda p: plotting.plot_predicted_vs_true(p, np.zeros((6, 2))), "does not match"),
        (lambda p: plotting.plot_posterior_corner(p, 5), r"i must be in \[0, 5\)"),
        (lambda p: plotting.plot_posterior_corner(p, -1), r"i must be in \[0, 5\)"),
        (lambda p: plotting.plot_posterior_corner(p, truth=np.zeros((5, 3))),
         r"truth of shape \(5, 3\)"),
        (lambda p: plotting.plot_pit(p, np.zeros((5, 2)), bins=0), "bins"),
        (lambda p: plotting.plot_predicted_vs_true(p, np.zeros((5, 2)), level=1.5), "level"),
        (lambda p: plotting.plot_predicted_vs_true(p, np.zeros((5, 2)), axes=[None]),
         "one Axes per target"),
    ])
    def test_bad_input_is_a_clear_error(self, call, message):
        post, _ = self._toy(n=5, n_samples=20)
        with pytest.raises(ValueError, match=message):
            call(post)
