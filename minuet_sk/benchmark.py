"""The benchmark harness: Minuet vs VAE vs PCA eigengalaxies on the same simulated galaxies.

One data set (train/test split fixed by the seed; the test set is never seen by any fit), the
three encoders at the same ``n_components``, each fitted once and reused through sklearn's
:class:`~sklearn.frozen.FrozenEstimator`, and for each encoder: reconstruction, Galaxy Zoo
probes, physical posteriors, similarity search, orientation robustness, correlations and cost.
``minuet benchmark`` and ``benchmarks/run.py`` call :func:`run_benchmark`; ``minuet demo`` runs
it with the ``"demo"`` preset and renders the report.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.model_selection import (
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
    train_test_split,
)
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

__all__ = [
    "PRESETS", "BenchmarkConfig", "format_table", "question_tables", "results_markdown",
    "run_benchmark",
]

#: Galaxy Zoo tasks probed, and truth classes used for similarity search.
PROBE_TASKS = ("merger", "spiral", "edge_on", "round", "smooth", "bar")
TRUTH_CLASSES = ("quenched", "spiral", "edge_on", "merger")
TARGETS = ("redshift", "log_mstar", "log_sfr")


@dataclasses.dataclass
class BenchmarkConfig:
    """Settings of one benchmark run (see :data:`PRESETS`).

    Parameters
    ----------
    n_galaxies : int
        Simulated galaxies in all (train + test).
    image_size : int
        Cutout side in pixels.
    test_fraction : float
        Held-out share, never seen in any fit.
    n_components : int
        Latents of every encoder.
    minuet, vae, flow : dict
        Extra parameters of MinuetEncoder, VAEEncoder and FlowPropertyRegressor.
    cv_folds : int
        Folds of the stratified probes.
    n_posterior_samples : int
        Minuet posterior reconstructions per galaxy (the mean of these is scored too).
    n_reconstruct : int
        Held-out galaxies whose reconstructions are scored (DDIM decoding is the slow part).
    vae_study : bool
        Also fit a 2-latent VAE (the latent-space VAE study) for its correlation tables.
    seed : int
    device : str

    Examples
    --------
    >>> from minuet_sk.benchmark import PRESETS, BenchmarkConfig
    >>> BenchmarkConfig(n_galaxies=500, image_size=32).n_components
    5
    >>> PRESETS["quick"].n_galaxies, PRESETS["quick"].image_size
    (2000, 48)
    """

    n_galaxies: int = 3000
    image_size: int = 72
    test_fraction: float = 0.3
    n_components: int = 5
    minuet: dict = dataclasses.field(default_factory=dict)
    vae: dict = dataclasses.field(default_factory=dict)
    flow: dict = dataclasses.field(default_factory=dict)
    cv_folds: int = 5
    n_posterior_samples: int = 5
    n_reconstruct: int = 200
    vae_study: bool = True
    seed: int = 0
    device: str = "auto"


#: ``tiny`` for tests, ``demo`` for ``minuet demo`` (minutes), ``quick`` for ``--quick`` (a
#: few minutes on 2 CPU cores), ``full`` for a paper-style table (hours).
PRESETS = {
    "tiny": BenchmarkConfig(
        n_galaxies=120, image_size=24, cv_folds=2, n_posterior_samples=2, vae_study=False,
        minuet={"max_epochs": 1, "width": 16, "encoder_depth": 1, "decoder_depth": 1,
                "patch_size": 6, "sampling_steps": 2, "n_heads": 2},
        vae={"max_epochs": 1, "channels": (4, 8)},
        flow={"max_epochs": 2, "n_transforms": 2, "hidden_features": 8, "n_samples": 50},
    ),
    "demo": BenchmarkConfig(
        n_galaxies=1000, image_size=48, n_reconstruct=100, n_posterior_samples=4,
        # small batches: a diffusion model needs optimizer steps more than epochs
        minuet={"max_epochs": 30, "batch_size": 32, "sampling_steps": 20},
        vae={"max_epochs": 10},
        flow={"n_transforms": 3, "hidden_features": 32, "max_epochs": 80, "n_samples": 500},
    ),
    "quick": BenchmarkConfig(
        n_galaxies=2000, image_size=48,
        minuet={"max_epochs": 30, "batch_size": 32, "sampling_steps": 20},
        vae={"max_epochs": 20},
        flow={"max_epochs": 200},
    ),
    "full": BenchmarkConfig(
        n_galaxies=50000, image_size=72, minuet={"preset": "paper", "max_epochs": 200},
        vae={"max_epochs": 200}, flow={"max_epochs": 500},
    ),
}


class _Clock:
    """Wall seconds and peak resident memory of each stage."""

    def __init__(self):
        self.seconds = {}

    def __call__(self, name, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - start
        return out


def _peak_memory_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def _truth_classes(truth):
    classes = pd.DataFrame(index=truth.index)
    classes["quenched"] = truth["quenched"].astype(float)
    classes["spiral"] = (truth["n_arms"] > 0).astype(float)
    classes["edge_on"] = (truth["inclination"] > 70).astype(float)
    classes["merger"] = truth["is_merger"].astype(float)
    return classes


def _encoders(config, verbose=0):
    """The three encoders, and the names of those already fitted (shipped weights)."""
    from minuet_sk import EigengalaxyPCA, MinuetEncoder, VAEEncoder

    shape = (3, config.image_size, config.image_size)
    common = {"image_shape": shape, "random_state": config.seed}
    torch_common = {**common, "device": config.device, "verbose": verbose}
    minuet_params = dict(config.minuet)
    preset = minuet_params.pop("preset", None)
    pretrained = minuet_params.pop("pretrained", None)
    if pretrained:
        minuet = _without_own_stretch(
            MinuetEncoder.from_pretrained(pretrained, device=config.device))
        if minuet.image_shape_ != shape:
            raise ValueError(f"the pretrained model {pretrained!r} takes images of shape "
                             f"{minuet.image_shape_}; set image_size={minuet.image_shape_[-1]}")
    elif preset:
        minuet = MinuetEncoder.from_preset(preset, n_components=config.n_components,
                                           **torch_common, **minuet_params)
    else:
        minuet = MinuetEncoder(config.n_components, **torch_common, **minuet_params)
    encoders = {
        "minuet": minuet,
        "vae": VAEEncoder(config.n_components, **torch_common, **config.vae),
        "pca": EigengalaxyPCA(config.n_components, **common),
    }
    return encoders, {"minuet"} if pretrained else set()


def _without_own_stretch(model):
    """The harness stretches every encoder's input itself (its metrics are in stretched
    units): a shipped model whose own stretch is that same ``AsinhStretch()`` takes it off."""
    from minuet_sk import AsinhStretch

    own = model.stretch_
    if own is not None:
        harness = AsinhStretch(image_shape=own.image_shape)
        if own.get_params() != harness.get_params():
            raise ValueError(f"the pretrained model stretches with {own!r}, the benchmark "
                             f"with {harness!r}; their results would not compare")
        model.set_params(stretch=None)
        model.stretch_ = None
    return model


def _image_scores(X, recon, suffix=""):
    """Pixel MSE per band, and the power-spectrum error per band: the fractional error curve
    (per radial bin) and its summary, the mean |log10(P_recon / P_truth)| over bins."""
    from minuet_sk.metrics import power_spectrum_error

    curve = np.asarray(power_spectrum_error(X, recon))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.abs(np.log10(np.clip(1.0 + curve, 1e-6, None)))
    return {
        f"mse_per_band{suffix}": np.nanmean((recon - X) ** 2, axis=(0, 2, 3)).tolist(),
        f"power_spectrum_log_error_per_band{suffix}": np.nanmean(log_ratio, axis=1).tolist(),
        f"power_spectrum_fractional_error{suffix}": curve.tolist(),
    }


def _reconstruction(name, encoder, X, Z, config, clock):
    recon = clock(f"{name}.inverse_transform", encoder.inverse_transform, Z).reshape(X.shape)
    out = _image_scores(X, recon)
    figures = {"recon": recon[:8]}
    if name == "minuet":
        samples = encoder.sample(Z, n_samples=config.n_posterior_samples,
                                 random_state=config.seed)
        out.update(_image_scores(X, samples.mean(axis=1), "_posterior_mean"))
        figures["samples"] = samples[:8]
    return out, figures


def _probe_models(seed):
    return {
        "logistic": LogisticRegression(max_iter=2000),
        "mlp": MLPClassifier((32,), max_iter=300, random_state=seed),
    }


def _labelled(labels, config):
    """For each task: the galaxies with a label, their 0/1 labels, and whether both classes
    have at least one galaxy per fold (else the task cannot be scored)."""
    for task in PROBE_TASKS:
        known = labels[task].notna().to_numpy()
        y = labels[task][known].astype(int).to_numpy()
        counts = np.bincount(y, minlength=2)
        yield task, known, y, counts, counts.min() >= config.cv_folds


def _probes(encoder, X, labels, config, Z):
    """ROC AUC of linear and MLP probes on frozen latents, stratified k-fold; and the ROC
    curve of the linear probe from out-of-fold probabilities (same folds) on latents ``Z``."""
    cv = StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.seed)
    scores, curves = {}, {}
    for task, known, y, counts, scorable in _labelled(labels, config):
        row = scores[task] = {"n": int(known.sum()), "n_positive": int(counts[1])}
        if not scorable:
            continue
        for probe_name, probe in _probe_models(config.seed).items():
            model = sk_make_pipeline(FrozenEstimator(encoder), StandardScaler(), probe)
            with warnings.catch_warnings():  # a probe has a fixed iteration budget by design
                warnings.simplefilter("ignore", ConvergenceWarning)
                auc = cross_val_score(model, X[known], y, cv=cv, scoring="roc_auc")
            row[probe_name] = float(auc.mean())
            row[f"{probe_name}_std"] = float(auc.std())
        linear = sk_make_pipeline(StandardScaler(), _probe_models(config.seed)["logistic"])
        proba = cross_val_predict(linear, Z[known], y, cv=cv, method="predict_proba")[:, 1]
        fpr, tpr, _ = roc_curve(y, proba)
        curves[task] = (fpr, tpr, row["logistic"])
    return scores, curves


def _pixel_probes(X, labels, config):
    cv = StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.seed)
    flat = X.reshape(len(X), -1)
    scores = {}
    for task, known, y, _, scorable in _labelled(labels, config):
        if not scorable:
            continue
        model = sk_make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
        scores[task] = {"logistic": float(cross_val_score(
            model, flat[known], y, cv=cv, scoring="roc_auc").mean())}
    return scores


def _posteriors(features_train, y_train, features_test, y_test, config):
    from minuet_sk import FlowPropertyRegressor
    from minuet_sk.metrics import bias, outlier_fraction, sigma_nmad

    flow = FlowPropertyRegressor(random_state=config.seed, device=config.device, **config.flow)
    start = time.perf_counter()
    flow.fit(features_train, y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    posterior = flow.predict_dist(features_test)
    sample_seconds = time.perf_counter() - start
    z_true = y_test["redshift"].to_numpy()
    z_pred = posterior.median()[:, list(posterior.names).index("redshift")]
    out = {
        "redshift": {
            "sigma_nmad": float(sigma_nmad(z_true, z_pred)),
            "outlier_fraction": float(outlier_fraction(z_true, z_pred)),
            "bias": float(bias(z_true, z_pred)),
        },
        "crps": dict(zip(posterior.names, np.nanmean(posterior.crps(y_test), axis=0).tolist())),
        "coverage_68": dict(zip(posterior.names, np.atleast_1d(
            posterior.coverage(y_test, level=0.68)).tolist())),
        "coverage_95": dict(zip(posterior.names, np.atleast_1d(
            posterior.coverage(y_test, level=0.95)).tolist())),
        "fit_seconds": fit_seconds,
        "samples_per_s": posterior.samples.shape[0] * posterior.samples.shape[1] / sample_seconds,
    }
    return out, posterior


def _orientation(encoder, X, Z):
    """Mean latent shift under 90-degree rotations and flips, in units of the median
    nearest-neighbour distance between galaxies."""
    from minuet_sk.neighbors import latent_neighbors

    scale = StandardScaler().fit(Z)
    nn_dist = np.median(latent_neighbors(scale.transform(Z), k=1, standardize=False)[0])
    moves = {
        "rot90": np.rot90(X, 1, axes=(2, 3)),
        "rot180": np.rot90(X, 2, axes=(2, 3)),
        "flip_lr": X[..., ::-1],
        "flip_ud": X[..., ::-1, :],
    }
    out = {}
    for move, Xm in moves.items():
        Zm = encoder.transform(np.ascontiguousarray(Xm))
        shift = np.linalg.norm(scale.transform(Zm) - scale.transform(Z), axis=1)
        out[move] = float(np.median(shift) / nn_dist)
    out["mean"] = float(np.mean(list(out.values())))
    return out


def _similarity(Z, labels, classes):
    from minuet_sk.neighbors import precision_at_k

    out = {}
    for name, y in {**{f"gz_{t}": labels[t] for t in PROBE_TASKS},
                    **{f"truth_{c}": classes[c] for c in TRUTH_CLASSES}}.items():
        if y.notna().sum() > 10 and y.nunique() == 2:
            out[name] = float(precision_at_k(Z, y.to_numpy(), k=5)["all"])
    return out


def _correlations(Z, frame):
    from minuet_sk.plotting import correlation_table

    table = correlation_table(Z, frame)
    return {method: table[method].to_dict(orient="index")
            for method in table.columns.get_level_values(0).unique()}


def run_benchmark(config="quick", *, out_dir=None, progress=True):
    """Run every benchmark question and write ``results.json`` and ``results.md``.

    Parameters
    ----------
    config : str or BenchmarkConfig, default="quick"
        A preset name of :data:`PRESETS` or a full configuration.
    out_dir : str or Path or None
        Where ``results.json``, ``results.md`` and ``figures.npz`` go; None writes nothing.
    progress : bool, default=True
        A tqdm bar over the stages.

    Returns
    -------
    results : dict
        Every figure, with the package version, seed, settings and machine.
    artifacts : dict
        Arrays behind the figures (test images, reconstructions, latents, posteriors).

    Examples
    --------
    The ``tiny`` preset runs every question end to end in about a minute on a laptop:

    >>> from minuet_sk.benchmark import run_benchmark
    >>> results, artifacts = run_benchmark("tiny", out_dir="bench")  # doctest: +SKIP
    >>> sorted(results["encoders"])  # doctest: +SKIP
    ['minuet', 'pca', 'vae']
    """
    import minuet_sk
    from minuet_sk import AsinhStretch
    from minuet_sk.datasets import gz_binary_labels, make_galaxies

    if isinstance(config, str):
        config = PRESETS[config]
    stages = ["simulate", "fit", "reconstruct", "probes", "posteriors", "similarity",
              "orientation", "correlations"]
    bar = tqdm(total=len(stages), desc="benchmark", disable=not progress)
    clock = _Clock()
    stage_seconds = {}
    current = {}

    def stage(name):
        """Close the running stage (its wall time) and open ``name``."""
        now = time.perf_counter()
        if current:
            stage_seconds[current["name"]] = now - current["start"]
            bar.update()
        current.update(name=name, start=now)
        bar.set_postfix_str(name)

    stage("simulate")
    data = clock("simulate", make_galaxies, config.n_galaxies, image_size=config.image_size,
                 random_state=config.seed)
    index = np.arange(len(data.images))
    train, test = train_test_split(index, test_size=config.test_fraction,
                                   random_state=config.seed)
    # all encoders see the same asinh-stretched images; metrics are in stretched units
    stretch = AsinhStretch(image_shape=data.images.shape[1:]).fit(data.images[train])
    X = stretch.transform(data.images).reshape(data.images.shape)
    X_train, X_test = X[train], X[test]
    y_train, y_test = data.target.iloc[train], data.target.iloc[test]
    labels = pd.DataFrame({t: gz_binary_labels(data.votes, t) for t in PROBE_TASKS})
    labels_test = labels.iloc[test].reset_index(drop=True)
    classes_test = _truth_classes(data.truth).iloc[test].reset_index(drop=True)

    results = {
        "package_version": minuet_sk.__version__,
        "seed": config.seed,
        "settings": dataclasses.asdict(config),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine()},
        "data": {"n_train": len(train), "n_test": len(test),
                 "image_shape": list(data.images.shape[1:])},
        "encoders": {},
    }
    artifacts = {"X_test": X_test, "y_test": y_test.reset_index(drop=True),
                 "truth_test": data.truth.iloc[test].reset_index(drop=True), "latents": {},
                 "figures": {}, "encoders": {}}

    stage("fit")
    encoders, prefitted = _encoders(config, verbose=int(progress))
    for name, encoder in encoders.items():
        if name in prefitted:
            clock.seconds[f"{name}.fit"] = 0.0
        else:
            clock(f"{name}.fit", encoder.fit, X_train)
        if "verbose" in encoder.get_params():  # progress for training only, not every probe
            encoder.set_params(verbose=0)
        artifacts["encoders"][name] = encoder

    latents_train, latents_test = {}, {}
    for name, encoder in encoders.items():
        latents_train[name] = encoder.transform(X_train)
        latents_test[name] = clock(f"{name}.transform", encoder.transform, X_test)
        artifacts["latents"][name] = latents_test[name]

    stage("reconstruct")
    n_rec = min(config.n_reconstruct, len(X_test))
    for name, encoder in encoders.items():
        rec, figs = _reconstruction(name, encoder, X_test[:n_rec], latents_test[name][:n_rec],
                                    config, clock)
        results["encoders"][name] = {"reconstruction": rec}
        artifacts["figures"][name] = figs

    stage("probes")
    artifacts["roc"] = {}
    for name, encoder in encoders.items():
        results["encoders"][name]["probes"], artifacts["roc"][name] = _probes(
            encoder, X_test, labels_test, config, latents_test[name])
    results["pixel_probes"] = _pixel_probes(X_test, labels_test, config)

    stage("posteriors")
    artifacts["posteriors"] = {}
    for name in encoders:
        post, posterior = _posteriors(latents_train[name], y_train, latents_test[name],
                                      y_test, config)
        results["encoders"][name]["posteriors"] = post
        artifacts["posteriors"][name] = posterior
    oracle_columns = ["mag_g", "mag_r", "mag_z", "half_light_radius_arcsec"]
    truth = data.truth[oracle_columns].to_numpy()
    results["oracle_posteriors"], _ = _posteriors(truth[train], y_train, truth[test], y_test,
                                                  config)

    stage("similarity")
    for name in encoders:
        results["encoders"][name]["similarity"] = _similarity(
            latents_test[name], labels_test, classes_test)

    stage("orientation")
    for name, encoder in encoders.items():
        results["encoders"][name]["orientation"] = _orientation(
            encoder, X_test, latents_test[name])

    stage("correlations")
    properties = pd.concat(
        [artifacts["y_test"], artifacts["truth_test"][oracle_columns + ["bulge_fraction",
                                                                       "axis_ratio"]]],
        axis=1)
    gz_fractions = data.votes.iloc[test].reset_index(drop=True)[[
        "smooth-or-featured_smooth_fraction", "disk-edge-on_yes_fraction",
        "has-spiral-arms_yes_fraction", "merging_none_fraction"]]
    for name in encoders:
        results["encoders"][name]["correlations"] = {
            "properties": _correlations(latents_test[name], properties),
            "galaxy_zoo": _correlations(latents_test[name], gz_fractions),
        }
    if config.vae_study:
        from minuet_sk import VAEEncoder

        vae2 = VAEEncoder(2, image_shape=X.shape[1:], random_state=config.seed,
                          device=config.device, **config.vae).fit(X_train)
        results["vae_study_2_latents"] = {
            "properties": _correlations(vae2.transform(X_test), properties),
            "galaxy_zoo": _correlations(vae2.transform(X_test), gz_fractions),
        }
    stage("done")
    bar.close()

    for name, encoder in encoders.items():
        history = getattr(encoder, "history_", None)
        cost = {
            "fit_seconds": clock.seconds[f"{name}.fit"],
            "transform_galaxies_per_s": len(X_test) / clock.seconds[f"{name}.transform"],
            "inverse_transform_galaxies_per_s":
                n_rec / clock.seconds[f"{name}.inverse_transform"],
            "flow_samples_per_s": results["encoders"][name]["posteriors"]["samples_per_s"],
        }
        if history:
            cost["training_images_per_s"] = float(np.median(
                [epoch.get("images_per_s", np.nan) for epoch in history]))
        results["encoders"][name]["cost"] = cost
    results["simulate_seconds"] = clock.seconds["simulate"]
    results["stage_seconds"] = stage_seconds
    results["peak_memory_mb"] = _peak_memory_mb()

    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=float))
        (out_dir / "results.md").write_text(results_markdown(results))
    return results, artifacts


def question_tables(results):
    """The benchmark's tables, one per question: ``[(title, DataFrame, better), ...]``.

    Each DataFrame has one column per encoder (plus references such as raw pixels or the
    oracle) and one row per figure; ``better`` is ``"higher"``, ``"lower"`` or None (no
    ordering, e.g. coverage). :func:`results_markdown` and the HTML report both render these.

    Parameters
    ----------
    results : dict
        As returned by :func:`run_benchmark`.

    Returns
    -------
    list of tuple

    Examples
    --------
    >>> import json
    >>> results = json.load(open("bench/results.json"))  # doctest: +SKIP
    >>> [title for title, frame, better in question_tables(results)][0]  # doctest: +SKIP
    '1. Reconstruction of held-out galaxies (asinh-stretched units)'
    """
    enc = results["encoders"]
    names = list(enc)
    tables = []
    rows = {}
    for n in names:
        rec = enc[n]["reconstruction"]
        for suffix, label in (("", n), ("_posterior_mean", f"{n} (mean of samples)")):
            if f"mse_per_band{suffix}" in rec:
                rows[label] = {
                    **{f"MSE {b}": v for b, v in zip("grz", rec[f"mse_per_band{suffix}"])},
                    **{f"P(k) log-ratio error {b}": v for b, v in zip(
                        "grz", rec[f"power_spectrum_log_error_per_band{suffix}"])}}
    tables.append(("1. Reconstruction of held-out galaxies (asinh-stretched units)",
                   pd.DataFrame(rows), "lower"))
    for probe in ("logistic", "mlp"):
        rows = {n: {t: enc[n]["probes"][t].get(probe) for t in PROBE_TASKS} for n in names}
        if probe == "logistic":
            rows["raw pixels"] = {t: results["pixel_probes"].get(t, {}).get("logistic")
                                  for t in PROBE_TASKS}
        tables.append(((f"2. Galaxy Zoo probes: ROC AUC of a {probe} probe "
                       f"({results['settings']['cv_folds']}-fold stratified CV)"),
                       pd.DataFrame(rows, dtype=float), "higher"))
    posts = {n: enc[n]["posteriors"] for n in names}
    posts["oracle (true photometry + size)"] = results["oracle_posteriors"]
    tables.append(("3. Physical posteriors: redshift point metrics and CRPS", pd.DataFrame({
        n: {**{f"redshift {k}": v for k, v in p["redshift"].items()},
            **{f"CRPS {k}": v for k, v in p["crps"].items()}} for n, p in posts.items()}),
        "lower"))
    tables.append(("3. Physical posteriors: interval coverage (nominal 0.68 and 0.95)",
                   pd.DataFrame({n: {**{f"68% {k}": v for k, v in p["coverage_68"].items()},
                                     **{f"95% {k}": v for k, v in p["coverage_95"].items()}}
                                 for n, p in posts.items()}), None))
    tables.append(("4. Similarity search: precision@5 among latent neighbours",
                   pd.DataFrame({n: enc[n]["similarity"] for n in names}), "higher"))
    tables.append((("5. Orientation: latent shift under rotations/flips "
                   "(units of the median nearest-neighbour distance)"),
                   pd.DataFrame({n: enc[n]["orientation"] for n in names}), "lower"))
    tables.append(("7. Cost", pd.DataFrame({n: enc[n]["cost"] for n in names}), None))
    return tables


def _best_mask(frame, better):
    if better is None:
        return pd.DataFrame(False, index=frame.index, columns=frame.columns)
    values = frame.apply(pd.to_numeric, errors="coerce")
    best = values.max(axis=1) if better == "higher" else values.min(axis=1)
    return values.eq(best, axis=0) & (values.notna().sum(axis=1) > 1).to_numpy()[:, None]


def format_table(frame, better, *, bold=("**", "**"), fmt="{:.4g}"):
    """Format a question table's values as strings, the best of each row wrapped in
    ``bold`` (Markdown ``**`` by default; ``("<b>", "</b>")`` for HTML).

    Parameters
    ----------
    frame : pandas.DataFrame
    better : {"higher", "lower"} or None
    bold : tuple of str
    fmt : str

    Returns
    -------
    pandas.DataFrame of str
    """
    best = _best_mask(frame, better)
    out = frame.copy().astype(object)
    for r in frame.index:
        for c in frame.columns:
            v = frame.loc[r, c]
            if v is None or (isinstance(v, float) and not np.isfinite(v)):
                out.loc[r, c] = "–"
            else:
                text = fmt.format(v)
                out.loc[r, c] = f"{bold[0]}{text}{bold[1]}" if best.loc[r, c] else text
    return out


def _markdown(frame):
    lines = ["| | " + " | ".join(map(str, frame.columns)) + " |",
             "|---" * (len(frame.columns) + 1) + "|"]
    lines += [f"| {r} | " + " | ".join(frame.loc[r]) + " |" for r in frame.index]
    return "\n".join(lines)


def results_markdown(results):
    """One Markdown table per benchmark question, encoders side by side, best in bold.

    Parameters
    ----------
    results : dict
        As returned by :func:`run_benchmark`.

    Returns
    -------
    str

    Examples
    --------
    >>> import json
    >>> results = json.load(open("bench/results.json"))  # doctest: +SKIP
    >>> print(results_markdown(results).splitlines()[0])  # doctest: +SKIP
    # Benchmark: minuet vs vae vs pca
    """
    out = [
        f"# Benchmark: {' vs '.join(results['encoders'])}",
        "",
        (f"minuet_sk {results['package_version']}, seed {results['seed']}, "
        f"{results['data']['n_train']} training / {results['data']['n_test']} held-out "
        f"simulated galaxies of shape {tuple(results['data']['image_shape'])}, "
        f"{results['machine']['platform']}. Best of each row in bold."),
    ]
    for title, frame, better in question_tables(results):
        note = {"higher": " (higher is better)", "lower": " (lower is better)", None: ""}
        out += ["", f"## {title}{note[better]}", "", _markdown(format_table(frame, better))]
    out += ["", "## 6. Correlations", "",
            ("Pearson and Spearman correlations of each latent with physical properties and "
            "Galaxy Zoo vote fractions are in results.json (`correlations`, and "
            "`vae_study_2_latents` for the 2-latent VAE study)."), "",
            (f"Peak memory {results['peak_memory_mb']:.0f} MB; simulation "
            f"{results['simulate_seconds']:.1f} s."), ""]
    return "\n".join(out)
