"""Throughput of MinuetEncoder with its CPU defaults on 72x72 grz galaxies.

Measures training images/s (one ``partial_fit`` epoch, without the masks), ``transform``
galaxies/s and ``inverse_transform`` galaxies/s at 50 and 20 DDIM steps, the peak resident
memory, the central-source masks/s of the default ``masked_loss=True`` (computed once per
``fit`` or ``partial_fit`` call), one ``partial_fit`` with its masks, and an unmasked epoch.
Images come from ``minuet_sk.datasets.make_galaxies`` when it is installed, else from the
analytic stand-in of benchmarks/_data.py (throughput does not depend on the content).
Each rate is given per wall-clock second and per CPU second of this process (the epoch of
the defaults: wall clock from ``history_``, CPU seconds those of the call less the masks'):
on a shared machine the wall-clock rates are lower bounds, and ``threads x per-CPU-second``
estimates what the same threads give when they are not shared.

Run: python benchmarks/bench_minuet.py [--threads 2]
Results: benchmarks/results/bench_minuet/ (see benchmarks/README.md). Targets (2 cores):
transform >= 1000/s, training >= 300 images/s, inverse_transform >= 20/s at 20 steps.
"""

import argparse
import resource
import time

import torch

from minuet_sk import MinuetEncoder
from minuet_sk.preprocessing import central_source_masks

from _common import record


def images(n):
    try:
        from minuet_sk.datasets import make_galaxies
    except ImportError:
        from _data import analytic_galaxies

        return analytic_galaxies(n, random_state=0)[0], "analytic (benchmarks/_data.py)"
    return make_galaxies(n, random_state=0).images, "make_galaxies"


def timed(fn, n):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"per_s": round(n / wall, 1), "per_cpu_s": round(n / cpu, 1),
            "seconds": round(wall, 2)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-train", type=int, default=1024)
    parser.add_argument("--n-transform", type=int, default=2048)
    parser.add_argument("--n-decode", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, data = images(max(args.n_train, args.n_transform))
    est = MinuetEncoder(random_state=0, device="cpu")  # the defaults: masked loss
    est.partial_fit(X[:128])  # initialise; the timed epoch below runs warm
    result = {"data": data, "threads": args.threads,
              "params": {k: v for k, v in est.get_params().items()
                         if k in ("patch_size", "width", "encoder_depth", "decoder_depth",
                                  "n_heads", "refiner_channels", "batch_size",
                                  "diffusion_steps", "masked_loss")}}
    # one partial_fit of the defaults: the central-source masks once, then an epoch; the
    # epoch's own rate (wall clock, skorch callback) is the training target's measure
    result["train_call"] = timed(lambda: est.partial_fit(X[: args.n_train]), args.n_train)
    result["masks"] = timed(lambda: central_source_masks(X[: args.n_train]), args.n_train)
    # per CPU second: the call's CPU time less the masks' (one thread, CPU time = wall time)
    epoch_cpu = (args.n_train / result["train_call"]["per_cpu_s"]
                 - args.n_train / result["masks"]["per_cpu_s"])
    result["train"] = {"per_s": round(est.history_[-1]["images_per_s"], 1),
                       "per_cpu_s": round(args.n_train / epoch_cpu, 1)}
    plain = MinuetEncoder(random_state=0, device="cpu", masked_loss=False)
    plain.partial_fit(X[:128])
    result["train_unmasked"] = timed(lambda: plain.partial_fit(X[: args.n_train]),
                                     args.n_train)
    result["transform"] = timed(lambda: est.transform(X[: args.n_transform]),
                                args.n_transform)
    Z = est.transform(X[: args.n_decode])
    for steps in (50, 20):
        est.set_params(sampling_steps=steps)
        result[f"inverse_transform_{steps}_steps"] = timed(lambda: est.inverse_transform(Z),
                                                           args.n_decode)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    rows = [("training images (an epoch of the defaults, masked loss)", "train", 300),
            ("transform galaxies", "transform", 1000),
            ("inverse_transform, 50 DDIM steps", "inverse_transform_50_steps", None),
            ("inverse_transform, 20 DDIM steps", "inverse_transform_20_steps", 20),
            ("central-source masks (masked_loss, once per fit call)", "masks", None),
            ("training images, one partial_fit of the defaults (masks included)",
             "train_call", None),
            ("training images, an epoch with masked_loss=False", "train_unmasked", None)]
    lines = [(f"MinuetEncoder CPU defaults {result['params']}, {data} 72x72x3 images, "
             f"{args.threads} threads, shared machine: wall-clock rates are lower bounds."), "",
             "| measure | per wall s | per CPU s | target (2 cores) |", "|---|---|---|---|"]
    lines += [f"| {label} | {result[key]['per_s']} | {result[key]['per_cpu_s']} | "
              f"{target or '-'} |" for label, key, target in rows]
    lines += ["", f"Peak resident memory: {result['peak_rss_mb']} MB."]
    print("\n".join(lines))
    record("bench_minuet", figures=result, headline=headline(result), seed=0,
           target="train >= 300 images/s, transform >= 1000/s, DDIM-20 >= 20/s (2 cores)",
           settings={"threads": args.threads, "n_train": args.n_train,
                     "n_transform": args.n_transform, "n_decode": args.n_decode},
           markdown="\n".join(lines))


def headline(result):
    """Wall-clock training, transform and DDIM-20 rates (per CPU second in brackets)."""
    def rate(key):
        return f"{result[key]['per_s']:g} ({result[key]['per_cpu_s']:g}/CPU s)"
    return (f"{result['threads']} threads: train {rate('train')} images/s, transform "
            f"{rate('transform')}/s, DDIM-20 {rate('inverse_transform_20_steps')}/s")


if __name__ == "__main__":
    main()
