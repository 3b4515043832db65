"""The benchmark harness: Minuet vs VAE vs PCA eigengalaxies on the same simulated galaxies.

One data set (train/test split fixed by the seed; the test set is never seen by any fit), the
three encoders at the same ``n_components``, each fitted once and reused through sklearn's
:class:`~sklearn.frozen.FrozenEstimator`, and for each encoder: reconstruction (and the
factors a person sees that it keeps), the truth factors the latents hold, Galaxy Zoo
probes, physical posteriors, similarity search, orientation robustness, correlations, cost
and, with ``real_galaxies``, how it organises real galaxies (the Hubble Deep Field rendered
as DECaLS sees it).
``minuet benchmark`` and ``benchmarks/quality_encoders.py`` call :func:`run_benchmark`; ``minuet demo`` runs
it with the ``"demo"`` preset and renders the report.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from minuet_sk.evaluation import questions
from minuet_sk.evaluation.config import PRESETS, PROBE_TASKS
from minuet_sk.evaluation.tables import results_markdown
from minuet_sk.neighbors import orientation_shift

__all__ = ["run_benchmark"]


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
    from minuet_sk.datasets import gz_binary_labels, make_galaxies
    from minuet_sk.preprocessing import AsinhStretch

    if isinstance(config, str):
        config = PRESETS[config]
    stages = ["simulate", "fit", "reconstruct", "factors", "probes", "posteriors", "similarity",
              "orientation", "correlations"] + ["real galaxies"] * config.real_galaxies
    bar = tqdm(total=len(stages), desc="benchmark", disable=not progress)
    clock = questions.Clock()
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
    encoders, prefitted = questions.encoders(config, verbose=int(progress))
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
    reconstructions = {}
    for name, encoder in encoders.items():
        rec, figs, reconstructions[name] = questions.reconstruction(
            name, encoder, X_test[:n_rec], latents_test[name][:n_rec], config, clock)
        results["encoders"][name] = {"reconstruction": rec}
        artifacts["figures"][name] = figs

    stage("factors")  # what a person sees, measured in flux units (photutils)
    from minuet_sk.metrics import central_source_morphology

    def to_flux(images):
        return stretch.inverse_transform(images).reshape(images.shape)

    truth_factors = central_source_morphology(to_flux(X_test[:n_rec]))
    for name in encoders:
        results["encoders"][name]["factors"] = questions.factors(
            truth_factors, reconstructions[name], to_flux)
        results["encoders"][name]["latent_factors"] = questions.latent_factors(
            latents_test[name], artifacts["truth_test"], config)

    stage("probes")
    artifacts["roc"] = {}
    for name, encoder in encoders.items():
        results["encoders"][name]["probes"], artifacts["roc"][name] = questions.probes(
            encoder, X_test, labels_test, config, latents_test[name])
    results["pixel_probes"] = questions.pixel_probes(X_test, labels_test, config)

    stage("posteriors")
    artifacts["posteriors"] = {}
    for name in encoders:
        post, posterior = questions.posteriors(latents_train[name], y_train, latents_test[name],
                                      y_test, config)
        results["encoders"][name]["posteriors"] = post
        artifacts["posteriors"][name] = posterior
    oracle_columns = ["mag_g", "mag_r", "mag_z", "half_light_radius_arcsec"]
    truth = data.truth[oracle_columns].to_numpy()
    results["oracle_posteriors"], _ = questions.posteriors(truth[train], y_train, truth[test], y_test,
                                                  config)

    stage("similarity")
    for name in encoders:
        results["encoders"][name]["similarity"] = questions.similarity(
            latents_test[name], labels_test, classes_test)

    stage("orientation")
    for name, encoder in encoders.items():
        results["encoders"][name]["orientation"] = orientation_shift(
            encoder, X_test, latents_test[name])
    artifacts["rotated"] = questions.rotated_copies(encoders, X_test)

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
            "properties": questions.correlations(latents_test[name], properties),
            "galaxy_zoo": questions.correlations(latents_test[name], gz_fractions),
        }
    if config.real_galaxies:
        stage("real galaxies")
        results["real_galaxies"], X_real, latents_real = questions.real_galaxies(
            encoders, stretch, config)
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
    results["peak_memory_mb"] = questions.peak_memory_mb()

    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=float))
        (out_dir / "results.md").write_text(results_markdown(results))
    return results, artifacts
