"""How fast is make_galaxies, and what does it make?

Measures galaxies simulated per second (72x72 grz with neighbours by default) for each
``n_jobs``, cold (fresh joblib workers) and warm (workers reused), and the cost of a cache
hit. Writes to ``benchmarks/results/bench_simulate/`` the figures, an asinh RGB grid of
simulated galaxies (``simulated_grid.png``) and the distributions of redshift, mass, SFR,
size and magnitude against the relations they come from (``simulated_distributions.png``).

Run:  python benchmarks/bench_simulate.py --n 1000 --jobs 1 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import record, results_dir


def _timed(fn):
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start_wall, time.process_time() - start_cpu


def measure(n, image_size, jobs):
    from minuet_sk.datasets import make_galaxies

    runs = []
    for n_jobs in jobs:
        for label, seed in (("cold", 100 + n_jobs), ("warm", 200 + n_jobs)):
            load = os.getloadavg()[0]
            _, wall, cpu = _timed(lambda s=seed, j=n_jobs: make_galaxies(
                n, image_size=image_size, n_jobs=j, cache=False, random_state=s))
            runs.append({"n_jobs": n_jobs, "workers": label, "n_samples": n, "wall_s": wall,
                         "galaxies_per_s": n / wall, "parent_cpu_s": cpu,
                         "load_average_1min_before": load})
            print(runs[-1], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MINUET_SK_DATA"] = tmp
        make_galaxies(n, image_size=image_size, n_jobs=max(jobs), random_state=0)
        size = sum(p.stat().st_size for p in Path(tmp).glob("*.npz"))
        hits = [_timed(lambda: make_galaxies(n, image_size=image_size, random_state=0))[1]
                for _ in range(3)]
    cache = {"n_samples": n, "hit_s_best_of_3": min(hits), "file_mb": size / 1e6}
    print(cache, flush=True)
    return runs, cache


def rgb(images):
    """Legacy Survey viewer colours (``sdss_rgb``): (n, 3, H, W) grz -> (n, H, W, 3) RGB.

    Scales z, r, g into R, G, B by 2.2, 3.4, 6.0 with a 0.03 offset and an asinh stretch
    of the mean intensity (Q = 20), as the DECaLS viewer does for its cutouts.
    """
    scales = np.array([6.0, 3.4, 2.2])[None, :, None, None]  # g, r, z
    x = np.maximum(images * scales + 0.03, 0)
    mean = x.mean(axis=1, keepdims=True) + 1e-6
    stretched = x * (np.arcsinh(20 * mean) / np.sqrt(20)) / mean
    return np.clip(stretched[:, ::-1].transpose(0, 2, 3, 1), 0, 1)


def plot_grid(galaxies, path, rows=8, cols=8):
    import matplotlib.pyplot as plt

    truth = galaxies.truth
    # A showcase: each row mixes the kinds the volunteers care about.
    kinds = {
        "spiral": truth.index[(truth["n_arms"] > 0) & (truth["inclination"] < 60)],
        "edge-on": truth.index[(truth["inclination"] > 80) & (truth["bulge_fraction"] < 0.5)],
        "elliptical": truth.index[truth["quenched"] & (truth["bulge_fraction"] > 0.6)],
        "merger": truth.index[truth["is_merger"]],
        "barred": truth.index[truth["has_bar"]],
    }
    chosen = []
    for kind, idx in kinds.items():
        chosen += [(kind, i) for i in idx[:8]]
    rest = [i for i in truth.index if i not in {c for _, c in chosen}]
    chosen += [("random", i) for i in rest[: rows * cols - len(chosen)]]
    images = rgb(galaxies.images[[i for _, i in chosen]])
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 2.0 * rows))
    for ax, (kind, i), img in zip(axes.flat, chosen, images):
        t = truth.loc[i]
        ax.imshow(img, origin="lower")
        ax.contour(galaxies.masks[i], [0.5], colors="w", linewidths=0.3)
        ax.set_title(f"{kind} z={t.redshift:.2f} r={t.mag_r:.1f}\n"
                     f"logM={t.log_mstar:.1f} B/T={t.bulge_fraction:.2f} i={t.inclination:.0f}"
                     f"{' nb' if t.has_neighbor else ''}", fontsize=7)
        ax.axis("off")
    fig.suptitle("make_galaxies: grz in Legacy Survey viewer colours; white: central mask")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=60)
    plt.close(fig)


def plot_distributions(truth, path):
    import matplotlib.pyplot as plt
    from astropy.cosmology import Planck18

    from minuet_sk.datasets import _physics

    sf, q = ~truth["quenched"], truth["quenched"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    ax = axes[0, 0]
    ax.hist(truth["redshift"], bins=40, histtype="step", color="k", label="sample (r < 19)")
    ax.set_xlabel("redshift")
    ax.set_ylabel("N")
    ax.set_title("n(z): SMF x dV/dz with r < 19")
    ax.legend()

    ax = axes[0, 1]
    bins = np.linspace(8, 12, 33)
    counts = np.histogram(truth["log_mstar"], bins)[0]
    ax.hist(truth["log_mstar"], bins=bins, histtype="step", color="k", label="sample")
    grid = 0.5 * (bins[1:] + bins[:-1])
    smf = _physics.baldry_smf(grid)
    # Normalised at 10^11.3, where r < 19 reaches furthest: the sample bends below the
    # volume-limited shape towards low masses, which the limit keeps only nearby.
    ref = np.argmin(np.abs(grid - 11.3))
    ax.plot(grid, smf / smf[ref] * counts[ref], "r--", label="Baldry+12 SMF (volume-limited)")
    ax.set_yscale("log")
    ax.set_ylim(0.5, 3 * counts.max())
    ax.set_xlabel("log M* [Msun]")
    ax.set_title("stellar mass: limit removes low masses")
    ax.legend(fontsize=8)

    ax = axes[0, 2]
    ax.scatter(truth.loc[sf, "log_mstar"], truth.loc[sf, "log_sfr"], s=3, c="b", label="SF")
    ax.scatter(truth.loc[q, "log_mstar"], truth.loc[q, "log_sfr"], s=3, c="r", label="quenched")
    m = np.linspace(8, 12, 50)
    for z in (0.05, 0.3):
        ax.plot(m, _physics.main_sequence(m, np.full_like(m, z)), "k-" if z < 0.1 else "k--",
                label=f"Speagle+14, z={z} (t={Planck18.age(z).value:.1f} Gyr)")
    ax.set_xlabel("log M*")
    ax.set_ylabel("log SFR [Msun/yr]")
    ax.set_title("main sequence and quenched cloud")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    ax.hist(truth["mag_r"], bins=np.arange(12, 19.05, 0.25), histtype="step", color="k",
            label="sample")
    mags = np.arange(15, 19.01, 0.25)
    counts = np.histogram(truth["mag_r"], bins=np.arange(12, 19.05, 0.25))[0]
    ref = counts[-4] * 10 ** (0.6 * (mags - 18.25))
    ax.plot(mags, ref, "r--", label="Euclidean slope 0.6")
    ax.set_yscale("log")
    ax.set_xlabel("r [AB]")
    ax.set_title("number counts rise to the limit")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    ax.scatter(truth.loc[sf, "log_mstar"], np.log10(truth.loc[sf, "re_disk_kpc"]), s=3, c="b",
               label="disk R_e (SF)")
    ax.scatter(truth.loc[q, "log_mstar"], np.log10(truth.loc[q, "re_bulge_kpc"]), s=3, c="r",
               label="bulge R_e (quenched)")
    for kind, col in (("late", "b"), ("early", "r")):
        re, _ = _physics.mass_size(m, np.full_like(m, 0.25), kind)
        ax.plot(m, np.log10(re), col + "-", label=f"van der Wel+14 {kind}, z=0.25")
    ax.set_xlabel("log M*")
    ax.set_ylabel("log R_e [kpc]")
    ax.set_title("mass-size relations")
    ax.legend(fontsize=8)

    ax = axes[1, 2]
    gr = truth["mag_g"] - truth["mag_r"]
    ax.scatter(truth.loc[sf, "redshift"], gr[sf], s=3, c="b", label="SF")
    ax.scatter(truth.loc[q, "redshift"], gr[q], s=3, c="r", label="quenched")
    ax.set_xlabel("redshift")
    ax.set_ylabel("g - r (observed)")
    ax.set_title("colours: CWW templates through LSST g, r")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def summary(truth):
    from astropy.cosmology import Planck18

    t = Planck18.age(truth["redshift"].to_numpy()).value
    ms = (0.84 - 0.026 * t) * truth["log_mstar"] - (6.51 - 0.11 * t)
    resid = truth["log_sfr"] - ms
    sf = ~truth["quenched"]
    gr = truth["mag_g"] - truth["mag_r"]
    return {
        "redshift_quantiles_10_50_90": truth["redshift"].quantile([0.1, 0.5, 0.9]).tolist(),
        "log_mstar_quantiles_10_50_90": truth["log_mstar"].quantile([0.1, 0.5, 0.9]).tolist(),
        "mag_r_quantiles_10_50_90": truth["mag_r"].quantile([0.1, 0.5, 0.9]).tolist(),
        "quenched_fraction": float(truth["quenched"].mean()),
        "sf_main_sequence_residual_mean_std": [float(resid[sf].mean()), float(resid[sf].std())],
        "quenched_main_sequence_residual_median": float(resid[~sf].median()),
        "g_minus_r_median_sf_quenched": [float(gr[sf].median()), float(gr[~sf].median())],
        "half_light_radius_arcsec_median": float(truth["half_light_radius_arcsec"].median()),
        "fractions": {k: float(truth[k].mean()) for k in
                      ("has_bar", "is_merger", "has_neighbor")}
        | {"with_arms": float((truth["n_arms"] > 0).mean())},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--image-size", type=int, default=72)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    folder = results_dir("bench_simulate")

    from minuet_sk.datasets import make_galaxies

    runs, cache = measure(args.n, args.image_size, args.jobs)
    galaxies = make_galaxies(args.n, image_size=args.image_size, cache=False,
                             n_jobs=max(args.jobs), random_state=0)
    plot_grid(galaxies, folder / "simulated_grid.png")
    plot_distributions(galaxies.truth, folder / "simulated_distributions.png")
    result = {
        "runs": runs,
        "cache": cache,
        "sample": summary(galaxies.truth),
    }
    lines = [
        "# make_galaxies throughput", "",
        f"On {os.cpu_count()} CPUs (shared with other jobs: see load).",
        "galaxies per CPU-second is n / CPU time of the process (n_jobs=1 only): the rate one",
        "unshared core would give.", "",
        "| n_jobs | workers | galaxies/s (wall) | galaxies per CPU-s | wall s | load avg before |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r['n_jobs']} | {r['workers']} | {r['galaxies_per_s']:.1f} | "
              + (f"{r['n_samples'] / r['parent_cpu_s']:.1f}" if r["n_jobs"] == 1 else "-")
              + f" | {r['wall_s']:.1f} | {r['load_average_1min_before']:.1f} |" for r in runs]
    hit = (f"Cache hit for {cache['n_samples']} galaxies: {cache['hit_s_best_of_3']:.3f} s "
           f"({cache['file_mb']:.0f} MB npz).")
    figures = ("Sample summary: `latest.json` (`sample`); figures: `simulated_grid.png`, "
               "`simulated_distributions.png`.")
    lines += ["", hit, "", figures]
    one = max((r for r in runs if r["n_jobs"] == 1), key=lambda r: r["galaxies_per_s"])
    best = max(runs, key=lambda r: r["galaxies_per_s"])
    record("bench_simulate", figures=result, markdown="\n".join(lines), seed=0,
           settings={"n": args.n, "image_size": args.image_size, "jobs": args.jobs},
           headline=f"{one['galaxies_per_s']:.0f} galaxies/s with 1 job, "
                    f"{best['galaxies_per_s']:.0f}/s with {best['n_jobs']}; cache hit "
                    f"{cache['hit_s_best_of_3']:.2f} s for {cache['n_samples']}")


if __name__ == "__main__":
    main()
