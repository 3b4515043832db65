"""How to set MinuetEncoder's CPU defaults: latent quality per minute of CPU training.

For a few (patch_size, width, encoder_depth, decoder_depth) candidates, trains on analytic
72x72 grz galaxies (benchmarks/_data.py: the simulator was not available) for a fixed
wall-clock budget with ``partial_fit`` epochs, then reports training/encoding/decoding
throughput and the held-out R^2 of a linear regression from the 5 latents to log
half-light radius, g-r colour and r magnitude.

Run: python benchmarks/screen_minuet_defaults.py [--budget 120] [--threads 2]
Results: benchmarks/results/screen_minuet_defaults/. On a shared machine the
throughputs are lower bounds; ``cpu_s`` counts the process's own CPU seconds.
"""

import argparse
import json
import time

import torch
from sklearn.linear_model import LinearRegression

from minuet_sk import MinuetEncoder

from _common import record
from _data import analytic_galaxies

CANDIDATES = [(8, 64, 2, 3), (9, 64, 2, 2), (6, 64, 2, 2), (12, 96, 2, 3)]
TARGETS = ("log_r_half", "g_r", "r_mag")


def latent_r2(est, X_train, truth_train, X_test, truth_test):
    Z_train, Z_test = est.transform(X_train), est.transform(X_test)
    return {k: round(float(LinearRegression().fit(Z_train, truth_train[k])
                           .score(Z_test, truth_test[k])), 3) for k in TARGETS}


def run(config, budget, X, truth, X_test, truth_test):
    patch, width, enc, dec = config
    est = MinuetEncoder(5, patch_size=patch, width=width, encoder_depth=enc, decoder_depth=dec,
                        random_state=0, device="cpu")
    wall, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < budget:
        est.partial_fit(X)
    train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
    n_trained = len(X) * est.n_iter_
    t0, c0 = time.perf_counter(), time.process_time()
    est.transform(X_test)
    enc_wall, enc_cpu = time.perf_counter() - t0, time.process_time() - c0
    Z = est.transform(X_test[:64])
    t0 = time.perf_counter()
    est.set_params(sampling_steps=20).inverse_transform(Z)
    dec_wall = time.perf_counter() - t0
    return {
        "patch_size": patch, "width": width, "encoder_depth": enc, "decoder_depth": dec,
        "epochs": est.n_iter_, "train_seconds": round(train_wall, 1),
        "train_images_per_s": round(n_trained / train_wall, 1),
        "train_images_per_cpu_s": round(n_trained / train_cpu, 1),
        "transform_per_s": round(len(X_test) / enc_wall, 1),
        "transform_per_cpu_s": round(len(X_test) / enc_cpu, 1),
        "inverse_transform_20_steps_per_s": round(64 / dec_wall, 1),
        "r2": latent_r2(est, X, truth, X_test, truth_test),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-train", type=int, default=3000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, truth = analytic_galaxies(args.n_train, random_state=0)
    X_test, truth_test = analytic_galaxies(500, random_state=1)
    rows = []
    for config in CANDIDATES:
        rows.append(run(config, args.budget, X, truth, X_test, truth_test))
        print(json.dumps(rows[-1]), flush=True)
    meta = {"budget_s": args.budget, "threads": args.threads, "n_train": args.n_train,
            "data": "analytic galaxies (benchmarks/_data.py)", "rows": rows}
    lines = [(f"Budget {args.budget:.0f} s wall per candidate, {args.threads} threads, "
             f"{args.n_train} analytic 72x72 galaxies; shared machine (lower bounds)."), "",
             ("| patch | width | depth | epochs | train img/s (per CPU s) | transform /s "
             "(per CPU s) | DDIM-20 /s | R^2 log r | R^2 g-r | R^2 r mag |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['patch_size']} | {r['width']} | {r['encoder_depth']}+{r['decoder_depth']} | "
            f"{r['epochs']} | {r['train_images_per_s']} ({r['train_images_per_cpu_s']}) | "
            f"{r['transform_per_s']} ({r['transform_per_cpu_s']}) | "
            f"{r['inverse_transform_20_steps_per_s']} | {r['r2']['log_r_half']} | "
            f"{r['r2']['g_r']} | {r['r2']['r_mag']} |")
    print("\n".join(lines))
    record("screen_minuet_defaults", figures=meta, headline=headline(meta), seed=0,
           settings={"budget_s": args.budget, "threads": args.threads,
                     "n_train": args.n_train}, markdown="\n".join(lines))


def headline(meta):
    """The candidate with the highest mean latent R^2, and that mean."""
    def mean_r2(r):
        return sum(r["r2"].values()) / len(r["r2"])
    best = max(meta["rows"], key=mean_r2)
    return (f"best of {len(meta['rows'])} at {meta['budget_s']:.0f} s: patch {best['patch_size']}, "
            f"width {best['width']}, depth {best['encoder_depth']}+{best['decoder_depth']} "
            f"(mean R^2 {mean_r2(best):.2f})")


if __name__ == "__main__":
    main()
