"""How do Minuet, the VAE and PCA eigengalaxies compare on the same simulated galaxies?

The harness of ``minuet benchmark`` (``minuet_sk.evaluation``): reconstruction, Galaxy Zoo
probes, physical posteriors, similarity search, orientation and cost, one table per
question::

    python benchmarks/quality_encoders.py --quick                 # minutes on 2 CPU cores
    python benchmarks/quality_encoders.py --full --device cuda    # a paper table's settings
    python benchmarks/quality_encoders.py --preset demo --pretrained sim-grz-72-v2

Any other ``minuet benchmark`` option passes through. The harness writes ``results.json``,
``results.md`` and ``figures/`` into ``benchmarks/results/quality_encoders/<preset>/``
(``minuet report`` turns that folder into a page); the run is recorded in
``benchmarks/results/quality_encoders/`` like every other question.
"""

import json
import sys

from minuet_sk.cli import main

from _common import record, results_dir


def key_figures(results):
    """Per encoder: probe AUCs, redshift posterior, orientation shift, pixel MSE, the truth
    factors its latents hold (linear R^2) and the factors its reconstructions keep (the harness's results.json, next to its tables, holds
    every figure)."""
    return {name: {"probe_auc_logistic": {k: round(p["logistic"], 3)
                                          for k, p in e["probes"].items()},
                   "redshift": e["posteriors"]["redshift"],
                   "coverage_68": e["posteriors"]["coverage_68"],
                   "orientation_nn_distances": e["orientation"],
                   "mse_per_band": e["reconstruction"]["mse_per_band"],
                   "latent_factors_r2": {k: round(v, 3)
                                         for k, v in e.get("latent_factors", {}).items()},
                   "factors_kept_spearman": {
                       kind: {f: v["spearman"] for f, v in per_factor.items()}
                       for kind, per_factor in e.get("factors", {}).items()}}
            for name, e in results["encoders"].items()} | (
        {"real_galaxies": results["real_galaxies"]} if "real_galaxies" in results else {})


def headline(results):
    """Redshift sigma_NMAD, mean logistic probe AUC and orientation shift per encoder."""
    parts = []
    for name, e in results["encoders"].items():
        aucs = [p["logistic"] for p in e["probes"].values()]
        parts.append(f"{name}: sigma_NMAD(z) {e['posteriors']['redshift']['sigma_nmad']:.3f}, "
                     f"mean probe AUC {sum(aucs) / len(aucs):.2f}, rotation shift "
                     f"{e['orientation']['mean']:.1f} NN distances")
    return "; ".join(parts)


if __name__ == "__main__":
    argv = sys.argv[1:]
    preset = ("full" if "--full" in argv else
              argv[argv.index("--preset") + 1] if "--preset" in argv else "quick")
    if "--out" not in argv:
        weights = argv[argv.index("--pretrained") + 1] if "--pretrained" in argv else ""
        argv += ["--out", str(results_dir("quality_encoders") / "-".join(
            filter(None, [preset, weights])))]
    out = argv[argv.index("--out") + 1]
    status = main(["benchmark", *argv])
    if status == 0:
        with open(f"{out}/results.json") as f:
            results = json.load(f)
        record("quality_encoders", figures=key_figures(results), headline=headline(results),
               seed=results["seed"], settings=results["settings"],
               target="Minuet at least PCA's and the VAE's on every question",
               markdown=f"The harness's tables: [{preset}/results.md]({preset}/results.md)")
    sys.exit(status)
