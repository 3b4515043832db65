"""The benchmark harness: Minuet vs VAE vs PCA eigengalaxies on the same simulated galaxies.

One data set (:func:`simulated_split`: the held-out galaxies are never seen by any fit), the
three encoders at the same ``n_components`` (:func:`encoders`), each fitted once and reused
through sklearn's :class:`~sklearn.frozen.FrozenEstimator`, and for each encoder the
questions of :mod:`~minuet_sk.evaluation.questions`: reconstruction (and the factors a
person sees that it keeps), the truth factors the latents hold, Galaxy Zoo probes, physical
posteriors, similarity search, orientation robustness, correlations, cost and, with
``real_galaxies``, how it organises real galaxies (the Hubble Deep Field rendered as DECaLS
sees it).
``minuet benchmark`` (and ``benchmarks/quality_encoders.py`` through it) calls
:func:`run_benchmark`; ``minuet demo`` runs it with the ``"demo"`` preset and renders the
report. The scripts of ``benchmarks/`` that set the same encoders on the same kind of data
build them with :func:`simulated_split` and :func:`encoders`.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from minuet_sk.evaluation import questions
from minuet_sk.evaluation.config import PRESETS, PROBE_TASKS
from minuet_sk.evaluation.tables import results_markdown
from minuet_sk.neighbors import orientation_shift

__all__ = ["encoders", "run_benchmark", "simulated_split"]


def simulated_split(config):
    """The benchmark's galaxies, and which of them train and which are held out.

    ``make_galaxies(config.n_galaxies, image_size=config.image_size,
    random_state=config.seed)``; the last ``config.test_fraction`` of them are held out and
    the others train. The simulator draws every galaxy independently, so the held-out part
    is a random sample, and the same galaxies are held out whatever is fitted on the others.

    Parameters
    ----------
    config : BenchmarkConfig

    Returns
    -------
    galaxies : Bunch
        :func:`~minuet_sk.datasets.make_galaxies`' galaxies.
    train, test : ndarray of int
        Row numbers of the training and the held-out galaxies.

    Examples
    --------
    >>> from minuet_sk.evaluation import BenchmarkConfig
    >>> from minuet_sk.evaluation.harness import simulated_split
    >>> galaxies, train, test = simulated_split(
    ...     BenchmarkConfig(n_galaxies=10, image_size=16, test_fraction=0.3))
    >>> train.tolist(), test.tolist()
    ([0, 1, 2, 3, 4, 5, 6], [7, 8, 9])
    >>> galaxies.images.shape
    (10, 3, 16, 16)
    """
    from minuet_sk.datasets import make_galaxies

    galaxies = make_galaxies(config.n_galaxies, image_size=config.image_size,
                             random_state=config.seed)
    n_train = len(galaxies.images) - round(config.test_fraction * len(galaxies.images))
    index = np.arange(len(galaxies.images))
    return galaxies, index[:n_train], index[n_train:]


#: MinuetEncoder parameters that a benchmark may set on shipped weights: they change how
#: the trained network is used, not the network.
_INFERENCE_PARAMS = {"sampling_steps", "eta", "batch_size"}


def encoders(config, verbose=0):
    """The three encoders ``config`` asks for, and the names of those already fitted.

    Minuet (the shipped weights of ``config.minuet["pretrained"]``, a preset of
    ``config.minuet["preset"]``, or the estimator with ``config.minuet``'s parameters), the
    VAE and PCA eigengalaxies, all at ``config.n_components`` latents on
    ``config.image_size`` cutouts. Each takes images already stretched by the benchmark's
    ``AsinhStretch()``, the stretch the shipped weights carry (they give theirs up, and
    :class:`ValueError` says so when theirs is another).

    Parameters
    ----------
    config : BenchmarkConfig
    verbose : int, default=0
        The torch encoders' ``verbose``.

    Returns
    -------
    encoders : dict
        ``{"minuet": ..., "vae": ..., "pca": ...}``.
    prefitted : set of str
        ``{"minuet"}`` with shipped weights, else empty: the names not to fit.
    """
    from minuet_sk.encoders import EigengalaxyPCA, MinuetEncoder, VAEEncoder

    shape = (3, config.image_size, config.image_size)
    common = {"image_shape": shape, "random_state": config.seed}
    torch_common = {**common, "device": config.device, "verbose": verbose}
    minuet_params = dict(config.minuet)
    preset = minuet_params.pop("preset", None)
    pretrained = minuet_params.pop("pretrained", None)
    if pretrained:
        minuet = _without_own_stretch(
            MinuetEncoder.from_pretrained(pretrained, device=config.device))
        changed = set(minuet_params) - _INFERENCE_PARAMS
        if changed:
            raise ValueError(f"the shipped weights {pretrained!r} are used as trained; only "
                             f"{sorted(_INFERENCE_PARAMS)} can be set, not {sorted(changed)}")
        minuet.set_params(**minuet_params)
        if minuet.image_shape_ != shape:
            raise ValueError(f"the pretrained model {pretrained!r} takes images of shape "
                             f"{minuet.image_shape_}; set image_size={minuet.image_shape_[-1]}")
    elif preset:
        minuet = MinuetEncoder.from_preset(preset, n_components=config.n_components,
                                           **torch_common, **minuet_params)
    else:
        minuet = MinuetEncoder(config.n_components, **torch_common, **minuet_params)
    built = {
        "minuet": minuet,
        "vae": VAEEncoder(config.n_components, **torch_common, **config.vae),
        "pca": EigengalaxyPCA(config.n_components, **common),
    }
    return built, {"minuet"} if pretrained else set()


def _without_own_stretch(model):
    """The harness stretches every encoder's input itself (its metrics are in stretched
    units): a shipped model whose own stretch is that same ``AsinhStretch()`` takes it off."""
    from minuet_sk.preprocessing import AsinhStretch

    own = model.stretch_
    if own is not None:
        harness = AsinhStretch(image_shape=own.image_shape)
        if own.get_params() != harness.get_params():
            raise ValueError(f"the pretrained model stretches with {own!r}, the benchmark "
                             f"with {harness!r}; their results would not compare")
        model.set_params(stretch=None)
        model.stretch_ = None
    return model


class _Clock:
    """Wall seconds of each timed call, by name."""

    def __init__(self):
        self.seconds = {}

    def __call__(self, name, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        self.seconds[name] = time.perf_counter() - start
        return out


def _peak_memory_mb():
    """Peak resident memory of this process so far (``ru_maxrss``: KiB on Linux, bytes on
    macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


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

    >>> from minuet_sk.evaluation import run_benchmark
    >>> results, artifacts = run_benchmark("tiny", out_dir="bench")  # doctest: +SKIP
    >>> sorted(results["encoders"])  # doctest: +SKIP
    ['minuet', 'pca', 'vae']
    """
    from minuet_sk._version import __version__
    from minuet_sk.datasets import gz_binary_labels
    from minuet_sk.preprocessing import AsinhStretch

    if isinstance(config, str):
        config = PRESETS[config]
    stages = ["simulate", "fit", "reconstruct", "factors", "probes", "posteriors", "similarity",
              "orientation", "correlations"] + ["re-observation"] * config.reobservation \
        + ["real galaxies"] * config.real_galaxies
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
    data, train, test = clock("simulate", simulated_split, config)
    # all encoders see the same asinh-stretched images; metrics are in stretched units
    stretch = AsinhStretch(image_shape=data.images.shape[1:]).fit(data.images[train])
    X = stretch.transform(data.images).reshape(data.images.shape)
    X_train, X_test = X[train], X[test]
    y_train, y_test = data.target.iloc[train], data.target.iloc[test]
    labels = pd.DataFrame({t: gz_binary_labels(data.votes, t) for t in PROBE_TASKS})
    labels_test = labels.iloc[test].reset_index(drop=True)
    classes_test = questions.truth_classes(data.truth).iloc[test].reset_index(drop=True)

    results = {
        "package_version": __version__,
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
    models, prefitted = encoders(config, verbose=int(progress))
    for name, encoder in models.items():
        if name in prefitted:
            clock.seconds[f"{name}.fit"] = 0.0
        else:
            clock(f"{name}.fit", encoder.fit, X_train)
        if "verbose" in encoder.get_params():  # progress for training only, not every probe
            encoder.set_params(verbose=0)
        artifacts["encoders"][name] = encoder

    latents_train, latents_test = {}, {}
    for name, encoder in models.items():
        latents_train[name] = encoder.transform(X_train)
        latents_test[name] = clock(f"{name}.transform", encoder.transform, X_test)
        artifacts["latents"][name] = latents_test[name]

    stage("reconstruct")
    n_rec = min(config.n_reconstruct, len(X_test))
    reconstructions = {}
    for name, encoder in models.items():
        rec, figs, reconstructions[name] = questions.reconstruction(
            name, encoder, X_test[:n_rec], latents_test[name][:n_rec], config, clock)
        results["encoders"][name] = {"reconstruction": rec}
        artifacts["figures"][name] = figs

    stage("factors")  # what a person sees, measured in flux units (photutils)
    from minuet_sk.metrics import central_source_morphology

    def to_flux(images):
        return stretch.inverse_transform(images).reshape(images.shape)

    truth_factors = central_source_morphology(to_flux(X_test[:n_rec]))
    for name in models:
        results["encoders"][name]["factors"] = questions.factors(
            truth_factors, reconstructions[name], to_flux)
        results["encoders"][name]["latent_factors"] = questions.latent_factors(
            latents_test[name], artifacts["truth_test"], config)

    stage("probes")
    artifacts["roc"] = {}
    for name, encoder in models.items():
        results["encoders"][name]["probes"], artifacts["roc"][name] = questions.probes(
            encoder, X_test, labels_test, config, latents_test[name])
    results["pixel_probes"] = questions.pixel_probes(X_test, labels_test, config)

    stage("posteriors")
    artifacts["posteriors"] = {}
    for name in models:
        post, posterior = questions.posteriors(latents_train[name], y_train,
                                               latents_test[name], y_test, config)
        results["encoders"][name]["posteriors"] = post
        artifacts["posteriors"][name] = posterior
    oracle_columns = ["mag_g", "mag_r", "mag_z", "half_light_radius_arcsec"]
    truth = data.truth[oracle_columns].to_numpy()
    results["oracle_posteriors"], _ = questions.posteriors(truth[train], y_train, truth[test],
                                                           y_test, config)

    stage("similarity")
    for name in models:
        results["encoders"][name]["similarity"] = questions.similarity(
            latents_test[name], labels_test, classes_test)

    stage("orientation")
    for name, encoder in models.items():
        results["encoders"][name]["orientation"] = orientation_shift(
            encoder, X_test, latents_test[name])
    artifacts["rotated"] = questions.rotated_copies(models, X_test)

    stage("correlations")
    properties = pd.concat(
        [artifacts["y_test"], artifacts["truth_test"][oracle_columns + ["bulge_fraction",
                                                                       "axis_ratio"]]],
        axis=1)
    gz_fractions = data.votes.iloc[test].reset_index(drop=True)[[
        "smooth-or-featured_smooth_fraction", "disk-edge-on_yes_fraction",
        "has-spiral-arms_yes_fraction", "merging_none_fraction"]]
    for name in models:
        results["encoders"][name]["correlations"] = {
            "properties": questions.correlations(latents_test[name], properties),
            "galaxy_zoo": questions.correlations(latents_test[name], gz_fractions),
        }
    if config.reobservation:
        stage("re-observation")
        rows = test[:config.n_reobserve]

        def prepare(images):
            return stretch.transform(images).reshape(images.shape)

        results["reobservation"] = questions.reobservation(
            models, data, rows, {name: z[:len(rows)] for name, z in latents_test.items()},
            prepare, config)
        # the picture's galaxy: an elongated one (a turn shows) of typical brightness
        truth = data.truth.iloc[rows]  # labels are positions in the simulation
        shown = truth[truth["axis_ratio"] < 0.6] if (truth["axis_ratio"] < 0.6).any() else truth
        row = int((shown["mag_r"] - shown["mag_r"].median()).abs().idxmin())
        artifacts["reobserved"] = questions.reobserved_example(models, data, row, prepare,
                                                                config)
    if config.real_galaxies:
        stage("real galaxies")
        results["real_galaxies"], X_real, latents_real = questions.real_galaxies(
            models, stretch, config)
        artifacts["real"] = {"X": X_real, "latents": latents_real}
    if config.vae_study:
        from minuet_sk.encoders import VAEEncoder

        vae2 = VAEEncoder(2, image_shape=X.shape[1:], random_state=config.seed,
                          device=config.device, **config.vae).fit(X_train)
        results["vae_study_2_latents"] = {
            "properties": questions.correlations(vae2.transform(X_test), properties),
            "galaxy_zoo": questions.correlations(vae2.transform(X_test), gz_fractions),
        }
    stage("done")
    bar.close()

    for name, encoder in models.items():
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
