"""Tables of a benchmark run: one per question, as DataFrames, Markdown or HTML cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from minuet_sk.evaluation.config import PROBE_TASKS

__all__ = ["format_table", "question_tables", "results_markdown"]


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
    if all("latent_factors" in enc[n] for n in names):
        tables.append(((f"1a. Factors held by the latents: linear R^2 from the latents to "
                        f"the truth ({results['settings']['cv_folds']}-fold CV)"),
                       pd.DataFrame({n: enc[n]["latent_factors"] for n in names}), "higher"))
    if all("factors" in enc[n] for n in names):
        for stat, what in (("spearman", "Spearman rank correlation"), ("r2", "linear R^2")):
            tables.append((
                (f"1b. Factors a person sees, kept by the reconstructions: {what} between "
                "input and reconstruction (central source, photutils, flux units)"),
                pd.DataFrame({(n if kind == "reconstruction" else f"{n} ({kind})"):
                              {f: v[stat] for f, v in per_factor.items()}
                              for n in names for kind, per_factor in enc[n]["factors"].items()}),
                "higher"))
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
    if all("tarp" in p for p in posts.values()):
        tables.append((("3. Physical posteriors: joint calibration of all targets, TARP "
                        "(Lemos et al. 2023): largest |expected coverage - credibility| and "
                        "its spread over 10 sets of reference points"),
                       pd.DataFrame({n: {"max deviation": p["tarp"]["max_deviation"],
                                         "spread": p["tarp"]["max_deviation_spread"]}
                                     for n, p in posts.items()}), "lower"))
    tables.append(("4. Similarity search: precision@5 among latent neighbours",
                   pd.DataFrame({n: enc[n]["similarity"] for n in names}), "higher"))
    tables.append((("5. Orientation: latent shift under rotations/flips "
                   "(units of the median nearest-neighbour distance)"),
                   pd.DataFrame({n: enc[n]["orientation"] for n in names}), "lower"))
    tables.append(("7. Cost", pd.DataFrame({n: enc[n]["cost"] for n in names}), None))
    if "real_galaxies" in results:
        real = results["real_galaxies"]
        frame = pd.DataFrame({n: real[n] for n in names})
        where = (f"{real['n_galaxies']} Hubble Deep Field galaxies rendered as DECaLS sees "
                 "them")
        tables.append((f"8. Real galaxies ({where}): rotation shift (median NN distances)",
                       frame.loc[["rotation_shift"]], "lower"))
        tables.append(((f"8. Real galaxies ({where}): Spearman between a galaxy's measured "
                       "property and its 5 latent neighbours' mean"),
                       frame.drop(index="rotation_shift"), "higher"))
    if "reobservation" in results:
        again = results["reobservation"]
        night = {n: {"max |Spearman|": again[n]["conditions"]["max_abs_spearman"],
                     **{f"R^2 {c}": v for c, v in again[n]["conditions"]["r2"].items()}}
                 for n in names}
        tables.append((("9. The night in the latents: largest |Spearman| of a latent with a "
                        "band's sky noise or PSF FWHM, and the conditions' cross-validated "
                        "R^2 from the latents"), pd.DataFrame(night), "lower"))
        questions = (("shift_nn", ("median latent shift (units of the median "
                                   "nearest-neighbour distance)"), "lower"),
                     ("top1", ("re-identified: the galaxy's nearest first observation is "
                               "itself"), "higher"))
        for stat, what, better in questions:
            tables.append((
                f"9. The same galaxies observed again: {what}",
                pd.DataFrame({n: {v: s[stat] for v, s in again[n]["stability"].items()}
                              for n in names}), better))
    return tables


def _best_mask(frame, better):
    if better is None:
        return pd.DataFrame(False, index=frame.index, columns=frame.columns)
    values = frame.apply(pd.to_numeric, errors="coerce")
    signed = [r for r in values.index if "bias" in str(r)]  # the best bias is the smallest |bias|
    values.loc[signed] = values.loc[signed].abs()
    best = values.max(axis=1) if better == "higher" else values.min(axis=1)
    return values.eq(best, axis=0) & (values.notna().sum(axis=1) > 1).to_numpy()[:, None]


def format_table(frame, better, *, bold=("**", "**"), fmt="{:.4g}"):
    """Format a question table's values as strings, the best of each row wrapped in
    ``bold`` (Markdown ``**`` by default; ``("<b>", "</b>")`` for HTML). In a "lower is
    better" row named with "bias", the best is the smallest absolute value.

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
