"""FlowPropertyRegressor and the PropertyPosterior it returns: known-answer calibration, API,
persistence.

PropertyPosterior on its own (summaries and scores of given draws):
``tests/flow/test_posterior.py``.
"""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import TINY_FLOW
from scipy import stats
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from minuet_sk import FlowPropertyRegressor, PropertyPosterior
from minuet_sk.datasets._known_answers import bimodal, heteroscedastic_linear
from minuet_sk.nn.flows import build_spline_flow, flow_log_prob, flow_sample

# The default flow for the known-answer problems (one thread, about 10 s each).
KNOWN_ANSWER = {
    "n_samples": 200,
    "random_state": 0,
}
TINY = {**TINY_FLOW, "max_epochs": 5, "batch_size": 64, "n_samples": 50}


def toy(n=200, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = X[:, :k] + 0.3 * rng.standard_normal((n, k))
    return X, y


class TestKnownAnswer:
    @pytest.mark.parametrize("problem", [heteroscedastic_linear, bimodal])
    def test_calibrated(self, problem):
        rng = np.random.default_rng(0)
        X, y, _ = problem(4000, rng)
        X_test, y_test, true_log_density = problem(2000, rng)
        reg = FlowPropertyRegressor(**KNOWN_ANSWER).fit(X, y)
        post = reg.predict_dist(X_test)

        assert abs(post.coverage(y_test, 0.68).iloc[0] - 0.68) < 0.04
        assert abs(post.coverage(y_test, 0.95).iloc[0] - 0.95) < 0.03
        assert stats.kstest(post.pit(y_test).iloc[:, 0], "uniform").pvalue > 0.01
        assert abs(reg.log_prob(X_test, y_test).mean() - true_log_density.mean()) < 0.1
        np.testing.assert_allclose(post.log_prob(y_test), reg.log_prob(X_test, y_test))


def steep_flow(kind, gen):
    """A float64 flow of 3 targets and 4 context features, its weights perturbed (from
    ``gen``) so that its splines are steep: ``kind`` is "autoregressive", "coupling" or
    "embedding" (a MAF with a context embedding)."""
    options = {"autoregressive": {}, "coupling": {"transform": "coupling"},
               "embedding": {"embedding_features": 8, "num_blocks": 1}}[kind]
    flow = build_spline_flow(3, 4, n_transforms=3, hidden_features=16, **options)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
    return flow.double()


class TestFlowModule:
    @pytest.mark.parametrize("k", [1, 3])
    def test_shapes_gradients_and_round_trip(self, k):
        flow = build_spline_flow(k, 2, n_transforms=2, hidden_features=8)
        y = torch.randn(16, k) * 2
        context = torch.randn(16, 2)
        log_prob = flow.log_prob(y, context=context)
        assert log_prob.shape == (16,)
        log_prob.sum().backward()
        assert all(p.grad is not None for p in flow.parameters())
        with torch.no_grad():
            noise, _ = flow._transform(y, context=context)
            back = flow_sample(flow, context, noise[:, None, :])
        torch.testing.assert_close(back[:, 0], y, atol=1e-4, rtol=1e-4)

    def test_sample_log_prob_matches_density(self):
        flow = build_spline_flow(2, 1, n_transforms=2, hidden_features=8)
        noise = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(0))
        context = torch.randn(4, 1)
        with torch.no_grad():
            samples, log_prob = flow_sample(flow, context, noise, return_log_prob=True)
            direct = flow.log_prob(samples.reshape(-1, 2), context=context.repeat_interleave(3, 0))
        torch.testing.assert_close(log_prob.reshape(-1), direct, atol=1e-4, rtol=1e-4)


    @pytest.mark.parametrize("kind", ["autoregressive", "coupling", "embedding"])
    def test_sample_equals_nflows_inverse_including_tails(self, kind):
        # flow_sample rearranges nflows' pass (context once per row, bins-first splines); it
        # must do nflows' own arithmetic, also for draws in the linear tails (|y| > 3). In
        # float64 the two agree to rounding; these perturbed weights make the splines so
        # steep that float32 rounding alone moves log densities by ~1e-4 (in nflows too).
        gen = torch.Generator().manual_seed(1)
        flow = steep_flow(kind, gen)
        with torch.no_grad():
            context = torch.randn(6, 4, generator=gen, dtype=torch.float64)
            noise = 2.0 * torch.randn(6, 50, 3, generator=gen, dtype=torch.float64)
            samples, log_prob = flow_sample(flow, context, noise, return_log_prob=True)
            flat = noise.reshape(-1, 3)
            expected, logabsdet = flow._transform.inverse(
                flat, context=flow._embedding_net(context.repeat_interleave(50, dim=0))
            )
        assert (expected.abs() > 3).any() and (expected.abs() < 3).any()
        torch.testing.assert_close(samples.reshape(-1, 3), expected, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(
            log_prob.reshape(-1), flow._distribution.log_prob(flat) - logabsdet,
            rtol=1e-10, atol=1e-10,
        )

    @pytest.mark.parametrize("kind", ["autoregressive", "coupling", "embedding"])
    def test_log_prob_equals_nflows_including_tails(self, kind):
        # flow_log_prob is nflows' density pass with the bins-first inverse splines
        gen = torch.Generator().manual_seed(4)
        flow = steep_flow(kind, gen)
        context = torch.randn(300, 4, generator=gen, dtype=torch.float64)
        y = 2.0 * torch.randn(300, 3, generator=gen, dtype=torch.float64)
        assert (y.abs() > 3).any()
        ours = flow_log_prob(flow, y, context)
        torch.testing.assert_close(ours, flow.log_prob(y, context=context), rtol=1e-10,
                                   atol=1e-10)
        ours.sum().backward()  # differentiable, as nflows' pass
        assert all(p.grad is not None and torch.isfinite(p.grad).all()
                   for p in flow.parameters())

    @pytest.mark.parametrize("transform", ["autoregressive", "coupling"])
    def test_sample_is_differentiable(self, transform):
        flow = build_spline_flow(3, 2, n_transforms=2, hidden_features=8, transform=transform,
                                 embedding_features=4)
        noise = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(0))
        context = torch.randn(2, 2, generator=torch.Generator().manual_seed(1))
        flow_sample(flow, context, noise, return_log_prob=True)[1].sum().backward()
        ours = [p.grad.clone() for p in flow.parameters()]
        assert any(g.abs().sum() > 0 for g in ours)
        # the same gradients as nflows' own pass (the in-place steps keep autograd's record)
        flow.zero_grad()
        flat = noise.reshape(-1, 3)
        _, logabsdet = flow._transform.inverse(
            flat, context=flow._embedding_net(context.repeat_interleave(5, dim=0)))
        (flow._distribution.log_prob(flat) - logabsdet).sum().backward()
        for g, expected in zip(ours, (p.grad for p in flow.parameters()), strict=True):
            torch.testing.assert_close(g, expected, rtol=1e-4, atol=1e-5)

    def test_float32_sample_as_close_to_float64_as_nflows(self):
        flow = build_spline_flow(3, 4, n_transforms=3, hidden_features=16)
        gen = torch.Generator().manual_seed(2)
        with torch.no_grad():
            for p in flow.parameters():
                p.add_(0.3 * torch.randn(p.shape, generator=gen))
            context = torch.randn(6, 4, generator=gen)
            noise = 2.0 * torch.randn(6, 50, 3, generator=gen)
            flat, repeated = noise.reshape(-1, 3), context.repeat_interleave(50, dim=0)
            ours = flow_sample(flow, context, noise, return_log_prob=True)[1].reshape(-1)
            theirs = flow._distribution.log_prob(flat) - flow._transform.inverse(
                flat, context=repeated)[1]
            flow = flow.double()
            exact = flow._distribution.log_prob(flat.double()) - flow._transform.inverse(
                flat.double(), context=repeated.double())[1]
        ours_error = (ours.double() - exact).abs().max()
        assert ours_error <= 2 * (theirs.double() - exact).abs().max() + 1e-6

class TestRegressor:
    def test_shapes(self):
        X, y = toy()
        reg = FlowPropertyRegressor(**TINY).fit(X, y)
        assert reg.predict(X).shape == (200, 2)
        assert reg.sample(X[:5], 7).shape == (5, 7, 2)
        assert reg.log_prob(X, y).shape == (200,)
        assert reg.n_iter_ == len(reg.history_) <= 5
        assert set(reg.history_[0]) == {"epoch", "train_loss", "valid_loss", "dur"}
        assert all(h["dur"] > 0 for h in reg.history_)
        assert reg.target_names_ == ["target0", "target1"]
        reg1 = FlowPropertyRegressor(**TINY).fit(X, y[:, 0])
        assert reg1.predict(X).shape == (200,)
        assert reg1.log_prob(X, y[:, 0]).shape == (200,)

    def test_log_prob_includes_standardisation_jacobian(self):
        X, y = toy(k=1)
        reg = FlowPropertyRegressor(**TINY).fit(X, y)
        scaled = FlowPropertyRegressor(**TINY).fit(X, 10.0 * y)
        np.testing.assert_allclose(
            scaled.log_prob(X, 10.0 * y), reg.log_prob(X, y) - np.log(10.0), atol=1e-4
        )

    def test_dataframe_targets_and_nan_rows(self):
        X, y = toy()
        frame = pd.DataFrame(y, columns=["redshift", "log_mstar"])
        frame.iloc[:3, 0] = np.nan
        with pytest.warns(UserWarning, match="Dropped 3 of 200 rows"):
            reg = FlowPropertyRegressor(**TINY).fit(X, frame)
        assert reg.target_names_ == ["redshift", "log_mstar"]
        post = reg.predict_dist(X[:4])
        assert post.names == ["redshift", "log_mstar"]
        assert post.log_prob(frame.iloc[3:7]).shape == (4,)

    def test_single_transform_warns_for_several_targets(self):
        X, y = toy()
        with pytest.warns(UserWarning, match="n_transforms >= 2"):
            FlowPropertyRegressor(**{**TINY, "n_transforms": 1}).fit(X, y)

    def test_nan_in_X_is_an_error(self):
        X, y = toy()
        X[0, 0] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            FlowPropertyRegressor(**TINY).fit(X, y)

    def test_deterministic_and_batch_invariant(self):
        X, y = toy()
        a = FlowPropertyRegressor(**TINY).fit(X, y)
        b = FlowPropertyRegressor(**TINY).fit(X, y)
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
        # a galaxy's draws do not depend on the other galaxies in the call
        np.testing.assert_array_equal(a.sample(X[::-1], 20)[::-1], a.sample(X, 20))
        assert not np.array_equal(a.sample(X, 20, random_state=1), a.sample(X, 20))
        other = FlowPropertyRegressor(**{**TINY, "random_state": 1}).fit(X, y)
        assert not np.array_equal(a.predict(X), other.predict(X))

    def test_fit_leaves_global_rng_alone(self):
        X, y = toy()
        state = torch.get_rng_state()
        np_state = np.random.get_state()[1].copy()
        FlowPropertyRegressor(**TINY).fit(X, y).predict(X)
        assert torch.equal(state, torch.get_rng_state())
        np.testing.assert_array_equal(np_state, np.random.get_state()[1])

    @pytest.mark.parametrize("point_estimate", ["mean", "median", "mode"])
    def test_point_estimates(self, point_estimate):
        X, y = toy()
        params = {
            "n_transforms": 2,
            "hidden_features": 16,
            "max_epochs": 20,
            "lr": 1e-2,
            "batch_size": 32,
        }
        reg = FlowPropertyRegressor(**{**TINY, **params})
        reg.set_params(point_estimate=point_estimate).fit(X, y)
        assert reg.score(X, y) > 0.5

    def test_mode_is_the_densest_draw(self):
        X, y = toy(k=1)
        reg = FlowPropertyRegressor(**{**TINY, "point_estimate": "mode"}).fit(X, y[:, 0])
        samples = reg.sample(X[:3])
        densities = np.stack(
            [reg.log_prob(np.repeat(X[i : i + 1], 50, 0), samples[i]) for i in range(3)]
        )
        np.testing.assert_allclose(
            reg.predict(X[:3]), samples[np.arange(3), densities.argmax(axis=1), 0], rtol=1e-5
        )

    def test_sklearn_model_selection(self):
        X, y = toy(k=1)
        scores = cross_val_score(FlowPropertyRegressor(**TINY), X, y, cv=2)
        assert scores.shape == (2,)
        grid = GridSearchCV(FlowPropertyRegressor(**TINY), {"hidden_features": [4, 8]}, cv=2)
        assert grid.fit(X, y).best_params_["hidden_features"] in (4, 8)


class TestArchitectures:
    @pytest.mark.parametrize("params", [
        {"flow_type": "coupling"}, {"embedding_features": 8}, {"n_blocks": 0},
        {"flow_type": "coupling", "embedding_features": 8, "n_blocks": 1, "n_bins": 4},
    ])
    def test_fit_sample_density_and_save(self, params, tmp_path):
        X, y = toy()
        reg = FlowPropertyRegressor(**{**TINY, **params}).fit(X, y)
        samples, log_prob = reg._draw(reg._validate_x(X[:4]), 6, return_log_prob=True)
        # the density carried by the draws is the flow's density at them
        direct = reg.log_prob(np.repeat(X[:4], 6, axis=0), samples.reshape(-1, 2))
        np.testing.assert_allclose(log_prob.reshape(-1), direct, atol=2e-3, rtol=1e-4)
        back = FlowPropertyRegressor.load(reg.save(tmp_path / "model"))
        np.testing.assert_array_equal(back.sample(X[:5], 10), reg.sample(X[:5], 10))

    def test_embedding_is_computed_once_per_galaxy_and_learns(self):
        X, y = toy()
        reg = FlowPropertyRegressor(**{**TINY, "embedding_features": 8}).fit(X, y)
        assert reg.flow_._embedding_net[0].in_features == 3
        assert reg.history_[-1]["train_loss"] < reg.history_[0]["train_loss"]

    def test_coupling_needs_two_targets(self):
        X, y = toy()
        with pytest.raises(ValueError, match="at least 2 targets"):
            FlowPropertyRegressor(**{**TINY, "flow_type": "coupling"}).fit(X, y[:, 0])
        with pytest.warns(UserWarning, match="odd targets untransformed"):
            FlowPropertyRegressor(**{**TINY, "flow_type": "coupling", "n_transforms": 1}).fit(
                X, y)

    def test_flow_saved_before_the_architecture_parameters_loads_as_saved(self, tmp_path):
        # config.json of a flow saved before n_blocks, flow_type and embedding_features
        # existed lacks them: it must load with the architecture it was trained with
        X, y = toy()
        old = FlowPropertyRegressor(**{**TINY, "n_blocks": 2, "flow_type": "autoregressive",
                                        "embedding_features": None}).fit(X, y)
        path = old.save(tmp_path / "old")
        config = json.loads((path / "config.json").read_text())
        for key in ("n_blocks", "flow_type", "embedding_features"):
            del config["params"][key]
        (path / "config.json").write_text(json.dumps(config))
        back = FlowPropertyRegressor.load(path)
        assert (back.n_blocks, back.flow_type, back.embedding_features) == (
            2, "autoregressive", None)
        np.testing.assert_array_equal(back.sample(X[:5], 10), old.sample(X[:5], 10))
        np.testing.assert_array_equal(back.log_prob(X, y), old.log_prob(X, y))


class TestPipeline:
    def test_predict_dist_and_sample_through_a_pipeline(self):
        pipeline = pytest.importorskip("minuet_sk.pipeline")
        from sklearn.preprocessing import StandardScaler

        X, y = toy()
        pipe = pipeline.make_pipeline(StandardScaler(), FlowPropertyRegressor(**TINY)).fit(X, y)
        post = pipe.predict_dist(X[:5], n_samples=20)
        assert isinstance(post, PropertyPosterior) and post.samples.shape == (5, 20, 2)
        assert pipe.sample(X[:5], n_samples=7, random_state=0).shape == (5, 7, 2)
        assert pipe.predict(X[:5]).shape == (5, 2)


class TestPersistence:
    def test_save_load_round_trip(self, tmp_path):
        X, y = toy()
        frame = pd.DataFrame(X, columns=["a", "b", "c"])
        reg = FlowPropertyRegressor(**TINY).fit(frame, y)
        reg.save(tmp_path / "model")
        loaded = FlowPropertyRegressor.load(tmp_path / "model")
        np.testing.assert_array_equal(loaded.predict(frame), reg.predict(frame))
        np.testing.assert_allclose(loaded.log_prob(frame, y), reg.log_prob(frame, y))
        assert loaded.get_params() == reg.get_params()
        assert list(loaded.feature_names_in_) == ["a", "b", "c"]
        assert loaded.history_ == reg.history_
        assert not any(p.suffix == ".pkl" for p in (tmp_path / "model").iterdir())

    def test_pickle(self):
        X, y = toy()
        reg = FlowPropertyRegressor(**TINY).fit(X, y)
        again = pickle.loads(pickle.dumps(reg))
        np.testing.assert_array_equal(again.predict(X), reg.predict(X))
        post = pickle.loads(pickle.dumps(reg.predict_dist(X[:3])))
        assert post.log_prob(y[:3]).shape == (3,)

    def test_load_rejects_other_folders(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="not a saved minuet_sk model"):
            FlowPropertyRegressor.load(tmp_path)

    def test_clone_is_unfitted(self):
        X, y = toy()
        reg = FlowPropertyRegressor(**TINY).fit(X, y)
        assert not hasattr(clone(reg), "flow_")


def test_no_validation_rows_trains_every_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    flow = FlowPropertyRegressor(n_transforms=2, hidden_features=8, max_epochs=3,
                                 validation_fraction=0.0, random_state=0).fit(X, X[:, 0])
    assert len(flow.history_) == 3 and all(h["valid_loss"] is None for h in flow.history_)


@pytest.fixture(scope="module")
def near_zero():
    """Redshift-like targets piled up against 0: an unbounded flow spills below it."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (600, 1))
    z = rng.exponential(0.05 + 0.2 * X[:, 0])
    return X, pd.DataFrame({"redshift": z, "mass": 10 + X[:, 0] + 0.1 * rng.normal(size=600)})


class TestTargetBounds:
    def test_no_draw_leaves_the_support(self, near_zero):
        X, y = near_zero
        params = {**TINY_FLOW, "max_epochs": 30, "lr": 1e-2, "n_samples": 200}
        free = FlowPropertyRegressor(**params).fit(X, y)
        bounded = FlowPropertyRegressor(**params, target_bounds={"redshift": (0, None)}).fit(X, y)
        assert (free.sample(X[:100])[..., 0] < 0).mean() > 0.01  # what bounds prevent
        draws = bounded.sample(X[:100])
        assert (draws[..., 0] > 0).all()
        assert (draws[..., 1] < 10).any()  # the unbounded target stays unbounded
        np.testing.assert_array_equal(bounded.target_low_, [0.0, -np.inf])
        post = bounded.predict_dist(X[:5])
        assert np.isfinite(post.log_prob(post.median())).all()
        outside = post.median().copy()
        outside[0, 0] = -0.1
        assert post.log_prob(outside)[0] == -np.inf and np.isfinite(post.log_prob(outside)[1:]).all()

    @pytest.mark.parametrize("bounds", [(0.0, None), (None, 2.0), (0.0, 2.0)])
    def test_density_integrates_to_one_over_the_support(self, bounds):
        rng = np.random.default_rng(1)
        X = rng.uniform(0, 1, (400, 1))
        y = np.clip(rng.gamma(2.0, 0.25, 400), 0.01, 1.99)
        flow = FlowPropertyRegressor(**{**TINY_FLOW, "max_epochs": 10},
                                     target_bounds=[bounds]).fit(X, y)
        # the data lie in (0, 2): an open side's density is negligible beyond -3 or 12
        low = -3.0 if bounds[0] is None else bounds[0]
        high = 12.0 if bounds[1] is None else bounds[1]
        grid = np.linspace(low, high, 40001)[1:-1]
        density = np.exp(flow.log_prob(np.repeat(X[:1], len(grid), axis=0), grid))
        assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=0.02)
        draws = flow.sample(X[:3], 200)
        lo = -np.inf if bounds[0] is None else bounds[0]
        hi = np.inf if bounds[1] is None else bounds[1]
        assert ((draws > lo) & (draws < hi)).all()

    def test_bad_bounds_and_targets_outside_them(self, near_zero, tmp_path):
        X, y = near_zero
        with pytest.raises(ValueError, match="not targets"):
            FlowPropertyRegressor(**TINY_FLOW, target_bounds={"z": (0, None)}).fit(X, y)
        with pytest.raises(ValueError, match="low must be < high"):
            FlowPropertyRegressor(**TINY_FLOW, target_bounds=[(1, 0), None]).fit(X, y)
        with pytest.raises(ValueError, match="1 pairs for 2 targets"):
            FlowPropertyRegressor(**TINY_FLOW, target_bounds=[(0, None)]).fit(X, y)
        with pytest.raises(ValueError, match="on or outside target_bounds"):
            FlowPropertyRegressor(**TINY_FLOW, target_bounds={"redshift": (0.01, None)}).fit(X, y)
        flow = FlowPropertyRegressor(**TINY_FLOW, target_bounds={"redshift": (0, None)}).fit(X, y)
        loaded = FlowPropertyRegressor.load(flow.save(tmp_path / "bounded"))
        np.testing.assert_array_equal(loaded.sample(X[:4]), flow.sample(X[:4]))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (300, 2))
    return X, np.c_[X[:, 0] + 0.1 * rng.normal(size=300), X[:, 1] ** 2]


class TestCheckpoints:
    def test_a_stopped_fit_resumes_exactly(self, data, tmp_path):
        X, y = data
        params = {k: v for k, v in TINY_FLOW.items() if k != "max_epochs"}
        params.update(n_samples=30, patience=2)
        whole = FlowPropertyRegressor(**params, max_epochs=8).fit(X, y)
        FlowPropertyRegressor(**params, max_epochs=3, checkpoint_dir=tmp_path).fit(X, y)
        resumed = FlowPropertyRegressor(**params, max_epochs=8, checkpoint_dir=tmp_path)
        resumed.fit(X, y)
        assert resumed.n_iter_ == whole.n_iter_ and resumed.best_epoch_ == whole.best_epoch_
        assert [h["train_loss"] for h in resumed.history_] == pytest.approx(
            [h["train_loss"] for h in whole.history_], rel=1e-6)
        np.testing.assert_allclose(resumed.sample(X[:5]), whole.sample(X[:5]), rtol=1e-5,
                                   atol=1e-6)
        again = FlowPropertyRegressor(**params, max_epochs=8, checkpoint_dir=tmp_path).fit(X, y)
        assert again.n_iter_ == resumed.n_iter_  # a finished fit stays finished

    def test_refuses_a_checkpoint_of_other_parameters_or_data(self, data, tmp_path):
        X, y = data
        FlowPropertyRegressor(**TINY_FLOW, checkpoint_dir=tmp_path).fit(X, y)
        with pytest.raises(ValueError, match="hidden_features"):
            FlowPropertyRegressor(**{**TINY_FLOW, "hidden_features": 4},
                                  checkpoint_dir=tmp_path).fit(X, y)
        with pytest.raises(ValueError, match="other data"):
            FlowPropertyRegressor(**TINY_FLOW, checkpoint_dir=tmp_path).fit(X + 1, y)

    def test_progress_bar_with_verbose(self, data, capsys):
        X, y = data
        FlowPropertyRegressor(**TINY_FLOW, verbose=1).fit(X, y)
        assert "flow" in capsys.readouterr().err
        FlowPropertyRegressor(**TINY_FLOW).fit(X, y)
        assert capsys.readouterr().err == ""
