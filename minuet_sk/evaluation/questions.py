"""One function per question of the benchmark: reconstruction, the factors reconstructions
keep and latents hold, probes, posteriors, similarity, orientation, correlations and real
galaxies; each takes fitted encoders and data and returns figures.

:func:`~minuet_sk.evaluation.harness.run_benchmark` asks them all. A benchmark script that asks
one of these questions on its own data calls its function here rather than writing it again:
``benchmarks/screen_minuet.py`` (:func:`factors`), ``benchmarks/quality_transfer.py``
(:func:`real_galaxies`) and ``benchmarks/quality_fine_tune.py`` (the real-galaxy question's
galaxies and measure, :func:`xdf_as_decals` and :func:`neighbour_properties`, before and after
fine-tuning).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler

from minuet_sk.evaluation.config import PROBE_TASKS, TRUTH_CLASSES

__all__ = [
    "correlations",
    "factors",
    "latent_factors",
    "neighbour_properties",
    "pixel_probes",
    "posteriors",
    "probes",
    "real_galaxies",
    "reconstruction",
    "rotated_copies",
    "similarity",
    "truth_classes",
    "xdf_as_decals",
]


def truth_classes(truth):
    classes = pd.DataFrame(index=truth.index)
    classes["quenched"] = truth["quenched"].astype(float)
    classes["spiral"] = (truth["n_arms"] > 0).astype(float)
    classes["edge_on"] = (truth["inclination"] > 70).astype(float)
    classes["merger"] = truth["is_merger"].astype(float)
    return classes


def _image_scores(X, recon, suffix="", drawn=None):
    """Pixel MSE per band of ``recon``, and the power-spectrum error per band of ``drawn``
    (the reconstructions as drawn, default ``recon``: a radial spectrum needs no turning,
    and turning smooths): the fractional error curve (per radial bin) and its summary, the
    mean |log10(P_recon / P_truth)| over bins."""
    from minuet_sk.metrics import power_spectrum_error

    curve = np.asarray(power_spectrum_error(X, recon if drawn is None else drawn))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.abs(np.log10(np.clip(1.0 + curve, 1e-6, None)))
    return {
        f"mse_per_band{suffix}": np.nanmean((recon - X) ** 2, axis=(0, 2, 3)).tolist(),
        f"power_spectrum_log_error_per_band{suffix}": np.nanmean(log_ratio, axis=1).tolist(),
        f"power_spectrum_fractional_error{suffix}": curve.tolist(),
    }


def reconstruction(name, encoder, X, Z, config, clock):
    """Pixel scores of the reconstructions, the images for the figures, and the
    reconstructions themselves (for Minuet also the mean of posterior samples and one
    sample) for :func:`factors`."""
    recon = clock(f"{name}.inverse_transform", encoder.inverse_transform, Z).reshape(X.shape)
    # pixels are compared like with like: a Minuet that draws galaxies in their canonical
    # frame has its reconstructions turned back into each input's orientation for the pixel
    # scores and the figures; the orientation-free factors are measured on them as drawn
    turn = getattr(encoder, "to_input_frame", lambda images, X: images)
    turned = turn(recon, X)
    out = _image_scores(X, turned, drawn=recon)
    figures = {"recon": turned[:8], "recon_drawn": recon[:8]}
    images = {"reconstruction": recon}
    if name == "minuet":
        samples = encoder.sample(Z, n_samples=config.n_posterior_samples,
                                 random_state=config.seed)
        mean = samples.mean(axis=1)
        out.update(_image_scores(X, turn(mean, X), "_posterior_mean", drawn=mean))
        figures["samples"] = turn(samples[:8], X[:8])
        images.update({"mean of samples": mean, "one sample": samples[:, 0]})
    return out, figures, images


def factors(truth, images, to_flux):
    """How each kind of reconstruction keeps the orientation-free factors of the inputs:
    ``{kind: {factor: {spearman, r2, n}}}``, measured in flux units (``to_flux``) with
    :func:`~minuet_sk.metrics.central_source_morphology`; ``truth`` is the inputs'
    measurement."""
    from minuet_sk.metrics import central_source_morphology, factor_agreement

    return {kind: factor_agreement(truth, central_source_morphology(to_flux(x)))
            .to_dict(orient="index") for kind, x in images.items()}


def latent_factors(Z, truth, config):
    """Cross-validated linear R^2 from the latents to the truth's r magnitude, log
    half-light radius, g - r, bulge fraction and axis ratio (``config.cv_folds`` folds over
    the galaxies of ``Z``)."""
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold

    targets = {
        "r magnitude": truth["mag_r"],
        "log half-light radius": np.log10(truth["half_light_radius_arcsec"]),
        "g - r": truth["mag_g"] - truth["mag_r"],
        "bulge fraction": truth["bulge_fraction"],
        "axis ratio": truth["axis_ratio"],
    }
    folds = KFold(config.cv_folds, shuffle=True, random_state=config.seed)
    return {name: float(np.mean(cross_val_score(LinearRegression(), Z, np.asarray(y),
                                                cv=folds, scoring="r2")))
            for name, y in targets.items()}


def xdf_as_decals(image_size, random_state, *, min_area=60, isolate=True,
                  source_pixel_scale=0.45, colours="simulator"):
    """The Hubble eXtreme Deep Field's galaxies as DECaLS sees them, those whose stamp lies
    wholly in the picture: ``(images, data)`` (nanomaggies; the rows of
    :func:`~minuet_sk.datasets.load_hubble_deep_field`'s ``data``).

    The defaults are the settings closest to the simulator: each galaxy alone, at the
    simulator's median size (``source_pixel_scale=0.45``) and colours (``colours=
    "simulator"``: :data:`~minuet_sk.datasets.XDF_BAND_GAINS`; ``"display"``: the picture's
    own balance), sources of ``min_area`` XDF pixels or more.
    """
    from minuet_sk.datasets import XDF_BAND_GAINS, load_hubble_deep_field

    gains = {"simulator": XDF_BAND_GAINS, "display": None}[colours]
    hdf = load_hubble_deep_field(image_size=image_size, min_area=min_area, as_survey="decals",
                                 isolate=isolate, source_pixel_scale=source_pixel_scale,
                                 band_gains=gains, random_state=random_state)
    whole = ((hdf.data["blank_fraction"] == 0) & ~hdf.data["touches_edge"]).to_numpy()
    return hdf.images[whole], hdf.data[whole].reset_index(drop=True)


def neighbour_properties(images):
    """Size (log half-light radius), colour and concentration of each image's central
    source, the properties whose agreement among latent neighbours the real-galaxy question
    measures (a DataFrame with those three columns; images in flux units)."""
    from minuet_sk.metrics import central_source_morphology

    measured = central_source_morphology(images)
    return pd.DataFrame({"size": measured["log_half_light_radius"],
                         "colour": measured["colour"],
                         "concentration": measured["concentration"]})


def real_galaxies(encoders, stretch, config, **rendering):
    """How encoders fitted on simulations organise real galaxies.

    The galaxies of :func:`xdf_as_decals` (by default the settings closest to the
    simulator; ``rendering`` passes others, e.g. ``isolate=False``), stretched as the
    simulated galaxies are (``stretch``, fitted). Per encoder: the rotation shift
    (:func:`~minuet_sk.neighbors.orientation_shift`) and how much a galaxy's 5 latent
    neighbours share its measured size, colour and concentration
    (:func:`~minuet_sk.neighbors.neighbor_agreement` of :func:`neighbour_properties`).
    Returns ``(figures, X, latents)``: ``X`` the stretched images, ``latents`` each
    encoder's latents of them.
    """
    from minuet_sk.neighbors import neighbor_agreement, orientation_shift

    flux, _ = xdf_as_decals(config.image_size, config.seed, **rendering)
    X = stretch.transform(flux).reshape(flux.shape)
    properties = neighbour_properties(flux)
    figures, latents = {"n_galaxies": len(flux)}, {}
    for name, encoder in encoders.items():
        Z = latents[name] = encoder.transform(X)
        agreement = neighbor_agreement(Z, properties)
        figures[name] = {"rotation_shift": orientation_shift(encoder, X, Z)["mean"],
                         **{f"neighbours' {k}": float(v) for k, v in agreement.items()}}
    return figures, X, latents


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


def probes(encoder, X, labels, config, Z):
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


def pixel_probes(X, labels, config):
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


def posteriors(features_train, y_train, features_test, y_test, config):
    from minuet_sk.flow import FlowPropertyRegressor
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
        "crps": posterior.crps(y_test).mean().to_dict(),
        "coverage_68": posterior.coverage(y_test, level=0.68).to_dict(),
        "coverage_95": posterior.coverage(y_test, level=0.95).to_dict(),
        "tarp": posterior.tarp(y_test[list(posterior.names)]).to_dict(),
        "fit_seconds": fit_seconds,
        "samples_per_s": posterior.samples.shape[0] * posterior.samples.shape[1] / sample_seconds,
    }
    return out, posterior


def rotated_copies(encoders, X, n_show=3):
    """The first ``n_show`` galaxies, rotated by 90 degrees and mirrored, and each encoder's
    reconstructions of the three copies: ``{"inputs": (n_show, 3, C, H, W), "recon": {name:
    (n_show, 3, C, H, W)}}``. An orientation-free model reconstructs the copies alike."""
    from minuet_sk.neighbors import _turned

    turned = _turned(X[:n_show])
    copies = np.stack([X[:n_show], turned["rot90"], turned["flip_lr"]], axis=1)
    flat = np.ascontiguousarray(copies.reshape(-1, *X.shape[1:]))
    recon = {name: encoder.inverse_transform(encoder.transform(flat)).reshape(copies.shape)
             for name, encoder in encoders.items()}
    return {"inputs": copies, "recon": recon}


def similarity(Z, labels, classes):
    from minuet_sk.neighbors import precision_at_k

    out = {}
    for name, y in {**{f"gz_{t}": labels[t] for t in PROBE_TASKS},
                    **{f"truth_{c}": classes[c] for c in TRUTH_CLASSES}}.items():
        if y.notna().sum() > 10 and y.nunique() == 2:
            out[name] = float(precision_at_k(Z, y.to_numpy(), k=5)["all"])
    return out


def correlations(Z, frame):
    from minuet_sk.plotting import correlation_table

    table = correlation_table(Z, frame)
    return {method: table[method].to_dict(orient="index")
            for method in table.columns.get_level_values(0).unique()}


#: The re-observations of :func:`reobservation`: keyword arguments of
#: :func:`~minuet_sk.datasets.reobserve`, each a night a survey could have had.
REOBSERVATIONS = {
    "new noise": {},
    "0.5 mag shallower": {"depth_shift": -0.5},
    "0.5 mag deeper": {"depth_shift": 0.5},
    "seeing 1.1 arcsec": {"seeing": 1.1},
    "seeing 1.6 arcsec": {"seeing": 1.6},
    "sub-pixel shift": {"shift": "random"},
    "any angle": {"rotation": "random"},
}
#: The observing conditions the latents should ignore, per band.
CONDITIONS = ("noise_sigma", "psf_fwhm")
#: The physical factors whose prediction from the latents should not move.
FACTORS = ("mag_r", "half_light_radius_arcsec", "colour_gr", "bulge_fraction", "axis_ratio")


def _factor_table(truth):
    table = pd.DataFrame({"mag_r": truth["mag_r"],
                          "half_light_radius_arcsec": np.log10(
                              truth["half_light_radius_arcsec"]),
                          "colour_gr": truth["mag_g"] - truth["mag_r"],
                          "bulge_fraction": truth["bulge_fraction"],
                          "axis_ratio": truth["axis_ratio"]})
    return table.rename(columns={"half_light_radius_arcsec": "log_half_light_radius"})


def reobservation(encoders, galaxies, rows, latents, prepare, config):
    """Do the latents describe the galaxy or the night it was observed?

    For every encoder, on the galaxies ``rows`` of the simulation ``galaxies`` (whose
    ``latents`` are given; ``prepare`` turns images into the encoders' input):

    - ``conditions``: Spearman of each latent with each band's sky noise and PSF FWHM
      (``max_abs_spearman`` the largest), and the cross-validated linear R^2 of each
      condition from the latents;
    - ``stability``: per re-observation of :data:`REOBSERVATIONS` (the same galaxies,
      :func:`~minuet_sk.datasets.reobserve`),
      :func:`~minuet_sk.neighbors.reobservation_shift` (median shift in standard deviations
      and in nearest-neighbour distances, re-identification top-1 and top-5);
    - ``factor_bias``: per re-observation, the mean change of each physical factor predicted
      linearly from the latents, in standard deviations of the factor.
    """
    from scipy.stats import spearmanr
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import cross_val_score

    from minuet_sk.datasets import reobserve
    from minuet_sk.neighbors import reobservation_shift

    truth = galaxies.truth.iloc[rows].reset_index(drop=True)
    conditions = truth[[f"{c}_{b}" for c in CONDITIONS for b in galaxies.bands]]
    factors = _factor_table(truth)
    again = {name: reobserve(galaxies, rows=rows, random_state=config.seed + k, **kwargs)
             for k, (name, kwargs) in enumerate(REOBSERVATIONS.items())}
    out = {}
    for name, encoder in encoders.items():
        Z = np.asarray(latents[name], np.float64)
        rho = {latent: {c: float(spearmanr(Z[:, i], conditions[c])[0]) for c in conditions}
               for i, latent in enumerate(encoder.get_feature_names_out())}
        r2 = {c: float(cross_val_score(LinearRegression(), Z, conditions[c], cv=3,
                                       scoring="r2").mean()) for c in conditions}
        fits = {f: LinearRegression().fit(Z, factors[f]) for f in factors}
        stability, bias = {}, {}
        for variant, observed in again.items():
            Z_again = np.asarray(encoder.transform(prepare(observed.images)), np.float64)
            stability[variant] = reobservation_shift(Z, Z_again)
            bias[variant] = {f: float(np.mean(fit.predict(Z_again) - fit.predict(Z))
                                      / factors[f].std()) for f, fit in fits.items()}
        out[name] = {"conditions": {"spearman": rho, "r2": r2,
                                    "max_abs_spearman": max(abs(v) for latent in rho.values()
                                                            for v in latent.values())},
                     "stability": stability, "factor_bias": bias}
    return out


def reobserved_example(encoders, galaxies, row, prepare, config):
    """One galaxy observed as it was and under each re-observation of
    :data:`REOBSERVATIONS`, and each encoder's reconstruction of each (Minuet's turned into
    the input's orientation): ``{"inputs": (1 + k, C, H, W), "recon": {name: ...}}`` in the
    encoders' (stretched) units, for the report's picture."""
    from minuet_sk.datasets import reobserve

    images = [galaxies.images[row]] + [
        reobserve(galaxies, rows=[row], random_state=config.seed + k, **kwargs).images[0]
        for k, kwargs in enumerate(REOBSERVATIONS.values())]
    X = prepare(np.stack(images))
    recon = {}
    for name, encoder in encoders.items():
        Z = np.asarray(encoder.transform(X))
        drawn = np.asarray(encoder.inverse_transform(Z)).reshape(X.shape)
        turn = getattr(encoder, "to_input_frame", lambda images, X: images)
        recon[name] = turn(drawn, X)
    return {"inputs": X, "recon": recon, "labels": ["as observed", *REOBSERVATIONS]}
