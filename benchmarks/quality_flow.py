"""How good and how fast are FlowPropertyRegressor posteriors of redshift, stellar mass and SFR?

On ``minuet_sk.datasets.make_galaxies`` (falls back to a documented synthetic stand-in when
the simulator is not installed): two feature sets, (a) true magnitudes + size + colours and
(b) PCA-5 of the asinh-stretched images; a flow with default settings per feature set;
training seconds, sigma_NMAD, outlier fraction, bias, CRPS, 68%/95% coverage, mean log
density and the TARP p-value per property; k-nearest-neighbour and random-forest point
estimates on the same split; the redshift's sigma_NMAD, outlier fraction and bias of each
model in quartiles of r magnitude and of true redshift (the photo-z convention); and the
time and memory of ``predict_dist`` for 1,000 draws of each of 10,000 galaxies.

Calibration over several fits (``--seeds``, default 5): the same split, flows trained with
``random_state`` seed, seed + 1, ...; per fit the 68% and 95% coverage of each property and
the TARP largest deviation of the joint posterior (``PropertyPosterior.tarp``, averaged over
10 sets of reference points), summarised as mean, standard deviation, minimum and maximum
over the fits, so that one lucky fit is not the figure. Targets (issue "Posteriors for a
whole survey"): TARP max deviation <= 0.02, coverage within +-0.02 of 0.68 and 0.95. The TARP
curves of every fit are drawn in ``tarp_curves.png``.

Run from the repository root::

    python benchmarks/quality_flow.py                # 4,000 simulated galaxies
    python benchmarks/quality_flow.py --quick        # small smoke run

Results: ``benchmarks/results/quality_flow/`` (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from minuet_sk import FlowPropertyRegressor, metrics

from _common import command, machine, record, results_dir
from _data import photometry_features, stretched_pixels

TARGETS = ["redshift", "log_mstar", "log_sfr"]
# |residual| above which a galaxy is an outlier: the photo-z convention 0.15 (1 + z) for
# redshift, 0.5 dex for the log quantities.
OUTLIER = {"redshift": (0.15, True), "log_mstar": (0.5, False), "log_sfr": (0.5, False)}


def load_data(n, seed):
    """Features and targets from make_galaxies, or the synthetic stand-in without it."""
    try:
        from minuet_sk.datasets import make_galaxies
    except ImportError:
        return synthetic_stand_in(n, seed), "synthetic stand-in (make_galaxies not available)"
    galaxies = make_galaxies(n, random_state=seed, n_jobs=2)
    return (
        {"photometry": photometry_features(galaxies.truth),
         "images": stretched_pixels(galaxies.data)},
        galaxies.target[TARGETS].to_numpy(),
    ), f"make_galaxies({n}, random_state={seed})"


def synthetic_stand_in(n, seed):
    """Toy population: z, log M*, log SFR and noisy magnitudes/size/colours (no images)."""
    rng = np.random.default_rng(seed)
    z = rng.gamma(3.0, 0.08, n) + 0.02
    log_mstar = rng.normal(10.3, 0.6, n) + 0.8 * z
    quenched = rng.random(n) < 1 / (1 + np.exp(-(log_mstar - 10.6) / 0.2))
    log_sfr = 0.8 * (log_mstar - 10) + 2.0 * np.log10(1 + z) + rng.normal(0, 0.3, n)
    log_sfr -= 1.5 * quenched
    mag_r = 22.5 - 2.5 * (log_mstar - 10.0) + 5 * np.log10(1 + 10 * z) + rng.normal(0, 0.1, n)
    g_r = 0.4 + 0.5 * quenched + 0.8 * z + rng.normal(0, 0.05, n)
    r_z = 0.3 + 0.3 * quenched + 0.6 * z + rng.normal(0, 0.05, n)
    size = 0.3 * (log_mstar - 10) - 0.6 * np.log10(1 + z) + rng.normal(0, 0.1, n)
    features = np.c_[mag_r + g_r, mag_r, mag_r - r_z, g_r, r_z, size]
    return {"photometry": features}, np.c_[z, log_mstar, log_sfr]


def point_metrics(y_true, y_pred):
    out = {}
    for j, name in enumerate(TARGETS):
        threshold, relative = OUTLIER[name]
        out[name] = {
            "sigma_nmad": metrics.sigma_nmad(y_true[:, j], y_pred[:, j], relative=relative),
            "outlier_fraction": metrics.outlier_fraction(
                y_true[:, j], y_pred[:, j], threshold=threshold, relative=relative
            ),
            "bias": metrics.bias(y_true[:, j], y_pred[:, j], relative=relative),
        }
    return out


def evaluate_flow(X_train, X_test, y_train, y_test, seed):
    flow = FlowPropertyRegressor(random_state=seed)
    start = time.perf_counter()
    flow.fit(X_train, pd.DataFrame(y_train, columns=TARGETS))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    post = flow.predict_dist(X_test)
    sample_seconds = time.perf_counter() - start
    result = point_metrics(y_test, post.median())
    crps = post.crps(y_test).mean()
    coverage_68, coverage_95 = post.coverage(y_test, 0.68), post.coverage(y_test, 0.95)
    for name in TARGETS:
        result[name].update(
            crps=float(crps[name]),
            coverage_68=float(coverage_68[name]),
            coverage_95=float(coverage_95[name]),
        )
    tarp = metrics.tarp_coverage(y_test, post.samples, random_state=seed)
    return flow, post.median(), {
        "fit_seconds": fit_seconds,
        "epochs": flow.n_iter_,
        "best_epoch": flow.best_epoch_,
        "samples_per_second": post.samples.shape[0] * post.samples.shape[1] / sample_seconds,
        "mean_log_prob": float(post.log_prob(y_test).mean()),
        "tarp_pvalue": tarp.pvalue,
        "tarp_max_deviation": tarp.max_deviation,
        "per_target": result,
    }


def baselines(X_train, X_test, y_train, y_test, seed):
    models = {
        "knn": make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=10)),
        "random_forest": RandomForestRegressor(
            n_estimators=200, min_samples_leaf=3, n_jobs=2, random_state=seed
        ),
    }
    out, predictions = {}, {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        predictions[name] = model.predict(X_test)
        out[name] = {
            "fit_seconds": time.perf_counter() - start,
            "per_target": point_metrics(y_test, predictions[name]),
        }
    return out, predictions


def calibration_over_seeds(X_train, X_test, y_train, y_test, seeds):
    """68%/95% coverage per property and the TARP largest deviation of flows fitted with
    each of ``seeds`` on the same split: per fit, and summarised over the fits. Also the
    TARP curve of each fit (``alpha``, ``ecp``), for the figure."""
    runs, curves = [], []
    for seed in seeds:
        flow = FlowPropertyRegressor(random_state=seed)
        flow.fit(X_train, pd.DataFrame(y_train, columns=TARGETS))
        post = flow.predict_dist(X_test)
        tarp = post.tarp(y_test)
        run = {"seed": seed, "tarp_max_deviation": float(tarp["max_deviation"]),
               "tarp_pvalue": float(tarp["pvalue"])}
        for level in (0.68, 0.95):
            coverage = post.coverage(y_test, level)
            run.update({f"coverage_{round(100 * level)}_{name}": float(coverage[name])
                        for name in TARGETS})
        runs.append(run)
        curves.append(tarp.attrs["curve"])
    table = pd.DataFrame(runs).set_index("seed")
    summary = {column: {"mean": float(table[column].mean()), "std": float(table[column].std()),
                        "min": float(table[column].min()), "max": float(table[column].max())}
               for column in table.columns}
    return {"per_seed": runs, "summary": summary}, curves


def plot_tarp_curves(curves_by_set, path):
    """One panel per feature set: the TARP curve of every fit, and the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves_by_set), figsize=(3.6 * len(curves_by_set), 3.4),
                             layout="constrained", squeeze=False)
    for ax, (name, curves) in zip(axes[0], curves_by_set.items()):
        for k, curve in enumerate(curves):
            ax.plot(curve["alpha"], curve["ecp"], lw=1, color=f"C{k}")
        ax.plot([0, 1], [0, 1], color="k", lw=0.8)
        ax.set_aspect("equal")
        ax.set_xlabel("credibility level alpha")
        ax.set_ylabel("expected coverage (TARP)")
        ax.set_title(f"{name}: {len(curves)} fits", fontsize=9)
    fig.suptitle("Joint calibration of the flow's posteriors (held-out galaxies)", fontsize=10)
    fig.savefig(path, dpi=70)
    plt.close(fig)


def binned_photoz(z_true, z_pred, mag_r, n_bins=4):
    """Photo-z users' figures per bin: sigma_NMAD, outlier fraction (|dz| / (1 + z) > 0.15)
    and bias of each model's redshift, in quantile bins of r magnitude and of true redshift.

    ``z_pred``: ``{model: (n,) redshifts}``. Returns ``{"r_mag": [...], "redshift": [...]}``,
    one dict per bin: ``low``, ``high``, ``n`` and per model its three figures.
    """
    out = {}
    for by, values in (("r_mag", mag_r), ("redshift", z_true)):
        edges = np.quantile(values, np.linspace(0, 1, n_bins + 1))
        which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
        rows = []
        for b in range(n_bins):
            pick = which == b
            row = {"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(pick.sum())}
            for model, pred in z_pred.items():
                row[model] = {
                    "sigma_nmad": float(metrics.sigma_nmad(z_true[pick], pred[pick])),
                    "outlier_fraction": float(metrics.outlier_fraction(z_true[pick], pred[pick])),
                    "bias": float(metrics.bias(z_true[pick], pred[pick])),
                }
            rows.append(row)
        out[by] = rows
    return out


def throughput(flow, X, n_galaxies, n_samples, seed):
    """predict_dist time and memory for n_samples draws of n_galaxies galaxies."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(X), n_galaxies)
    # distinct rows (tiny jitter) so that every galaxy gets its own draws
    X_big = X[rows] + 1e-6 * rng.standard_normal((n_galaxies, X.shape[1]))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    post = flow.predict_dist(X_big, n_samples=n_samples)
    seconds = time.perf_counter() - start
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "n_galaxies": n_galaxies,
        "n_samples": n_samples,
        "seconds": seconds,
        "samples_per_second": n_galaxies * n_samples / seconds,
        "samples_array_mb": post.samples.nbytes / 2**20,
        "peak_rss_mb_before": rss_before,
        "peak_rss_mb_after": rss_after,
        "torch_threads": torch.get_num_threads(),
    }


def markdown(report):
    lines = [
        "# FlowPropertyRegressor benchmark",
        "",
        (
            f"Data: {report['data']}; {report['n_train']} train / {report['n_test']} test "
            f"galaxies; machine: {report['machine']}; torch threads: {report['torch_threads']}; "
            f"load average (1, 5, 15 min) at start {report['load_average_at_start']}, at end "
            f"{report['load_average_at_end']}."
        ),
        f"Command: `{report['command']}`",
        "",
    ]
    for features, res in report["feature_sets"].items():
        flow = res["flow"]
        lines += [
            f"## Features: {features}",
            "",
            (
                f"Flow: fit {flow['fit_seconds']:.1f} s ({flow['epochs']} epochs, best "
                f"{flow['best_epoch']}), {flow['samples_per_second']:.3g} posterior samples/s, "
                f"mean log density {flow['mean_log_prob']:.3f}, TARP p = "
                f"{flow['tarp_pvalue']:.3g} (max |ECP - alpha| "
                f"{flow['tarp_max_deviation']:.3f})."
            ),
            "",
            "| target | model | sigma_NMAD | outliers | bias | CRPS | cov68 | cov95 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        models = {"flow (median)": flow, **res["baselines"]}
        for name in TARGETS:
            for model, values in models.items():
                t = values["per_target"][name]
                crps = f"{t['crps']:.4f}" if "crps" in t else "-"
                c68 = f"{t['coverage_68']:.3f}" if "coverage_68" in t else "-"
                c95 = f"{t['coverage_95']:.3f}" if "coverage_95" in t else "-"
                lines.append(
                    f"| {name} | {model} | {t['sigma_nmad']:.4f} | "
                    f"{t['outlier_fraction']:.3f} | {t['bias']:+.4f} | {crps} | {c68} | {c95} |"
                )
        lines.append("")
        ensemble = res["calibration_over_seeds"]["summary"]
        n_fits = len(res["calibration_over_seeds"]["per_seed"])
        lines += [(f"Calibration over {n_fits} fits (seeds; mean, std, min, max; "
                   "`tarp_curves.png`):"), "",
                  "| figure | mean | std | min | max |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['mean']:.3f} | {v['std']:.3f} | {v['min']:.3f} | {v['max']:.3f} |"
                  for k, v in ensemble.items()]
        lines.append("")
        for by, rows in res.get("binned_redshift", {}).items():
            models = [k for k in rows[0] if k not in ("low", "high", "n")]
            lines += [f"Redshift by {by} bin (sigma_NMAD / outliers / bias):", "",
                      f"| {by} | n | " + " | ".join(models) + " |",
                      "|---|---|" + "---|" * len(models)]
            for row in rows:
                cells = [f"{row[m]['sigma_nmad']:.3f} / {row[m]['outlier_fraction']:.3f} / "
                         f"{row[m]['bias']:+.3f}" for m in models]
                lines.append(f"| {row['low']:.2f}-{row['high']:.2f} | {row['n']} | "
                             + " | ".join(cells) + " |")
            lines.append("")
    tp = report["throughput"]
    lines += [
        "## predict_dist throughput",
        "",
        (
            f"{tp['n_samples']} draws x {tp['n_galaxies']} galaxies: {tp['seconds']:.1f} s "
            f"({tp['samples_per_second']:.3g} samples/s, {tp['torch_threads']} torch threads); "
            f"samples array {tp['samples_array_mb']:.0f} MB; peak RSS "
            f"{tp['peak_rss_mb_before']:.0f} MB before, {tp['peak_rss_mb_after']:.0f} MB after."
        ),
        "",
        (
            "Outliers: |dz| / (1 + z) > 0.15 for redshift, |residual| > 0.5 dex for log_mstar "
            "and log_sfr; sigma_NMAD and bias relative to 1 + z for redshift only."
        ),
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-galaxies", type=int, default=4000)
    parser.add_argument("--throughput-galaxies", type=int, default=10000)
    parser.add_argument("--quick", action="store_true", help="400 galaxies, 1,000 for speed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=5,
                        help="flows fitted per feature set for the calibration figures")
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (use 1 on a crowded machine)"
    )
    args = parser.parse_args()
    if args.quick:
        args.n_galaxies, args.throughput_galaxies = 400, 1000
    torch.set_num_threads(args.threads)

    (features, y), data_name = load_data(args.n_galaxies, args.seed)
    index_train, index_test = train_test_split(
        np.arange(len(y)), test_size=0.25, random_state=args.seed
    )
    report = {
        "data": data_name,
        "machine": "{platform}, {cpu_count} cores".format(**machine()),
        "command": command(),
        "load_average_at_start": os.getloadavg(),
        "torch_threads": torch.get_num_threads(),
        "n_train": len(index_train),
        "n_test": len(index_test),
        "feature_sets": {},
    }
    flows, tarp_curves = {}, {}
    for name, X in features.items():
        X_train, X_test = X[index_train], X[index_test]
        if name == "images":
            pca = PCA(n_components=5, random_state=args.seed).fit(X_train)
            X_train, X_test, name = pca.transform(X_train), pca.transform(X_test), "pca5"
        y_train, y_test = y[index_train], y[index_test]
        flows[name], median, flow_result = evaluate_flow(X_train, X_test, y_train, y_test,
                                                          args.seed)
        scores, predictions = baselines(X_train, X_test, y_train, y_test, args.seed)
        z_pred = {"flow (median)": median[:, 0],
                  **{model: pred[:, 0] for model, pred in predictions.items()}}
        ensemble, tarp_curves[name] = calibration_over_seeds(
            X_train, X_test, y_train, y_test, range(args.seed, args.seed + args.seeds))
        report["feature_sets"][name] = {
            "flow": flow_result,
            "calibration_over_seeds": ensemble,
            "baselines": scores,
            # r magnitude: column 1 of the photometry features
            "binned_redshift": binned_photoz(
                y_test[:, 0], z_pred, features["photometry"][index_test][:, 1]),
        }
        print(name, json.dumps(flow_result["per_target"]))
    X_phot = features["photometry"][index_test]
    report["throughput"] = throughput(
        flows["photometry"], X_phot, args.throughput_galaxies, 1000, args.seed
    )
    report["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report["throughput"]))
    plot_tarp_curves(tarp_curves, results_dir("quality_flow") / "tarp_curves.png")
    record("quality_flow", figures=report, headline=headline(report), seed=args.seed,
           target="sigma_NMAD(z) small, 68%/95% coverage near 0.68/0.95",
           settings={"n_galaxies": args.n_galaxies, "quick": args.quick, "seeds": args.seeds,
                     "throughput_galaxies": args.throughput_galaxies, "threads": args.threads},
           markdown=markdown(report))


def headline(report):
    """sigma_NMAD(z) and 68% coverage per feature set, and the draws per second."""
    parts = []
    for name, res in report["feature_sets"].items():
        z = res["flow"]["per_target"]["redshift"]
        parts.append(f"{name}: sigma_NMAD(z) {z['sigma_nmad']:.3f}, cov68(z) "
                     f"{z.get('coverage_68', float('nan')):.2f}")
    for name, res in report["feature_sets"].items():
        tarp = res["calibration_over_seeds"]["summary"]["tarp_max_deviation"]
        parts.append(f"{name}: TARP max dev. {tarp['mean']:.3f} ({tarp['min']:.3f}-"
                     f"{tarp['max']:.3f} over the fits)")
    tp = report["throughput"]
    return "; ".join(parts) + f"; {tp['samples_per_second']:.3g} draws/s"


if __name__ == "__main__":
    main()
