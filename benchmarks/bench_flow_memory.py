"""How much memory and time does predict_dist take for 1,000 draws per galaxy?

Fits the default flow architecture (3 targets, 6 features; two epochs: the cost of sampling
does not depend on the weights) in a fresh process and reports the time and the peak-RSS
increase of ``predict_dist(X, n_samples=1000)`` for ``n`` galaxies (10,000: the 10^7 draws
of issue 25; the median of ``--repeats`` calls, the same process), and the arithmetic: the multiply-adds of the flow's conditioners per draw
(the context terms run once per galaxy; the splines come on top) and the GFLOP/s that the
whole draw achieved::

    python benchmarks/bench_flow_memory.py 10000 [--threads 1] [--repeats 5]

Results: ``benchmarks/results/bench_flow_memory/`` (see ``benchmarks/README.md``).
"""

import argparse
import resource
import time

import numpy as np
import torch

from _common import record
from _data import sampling_flow


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_galaxies", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reg, rng = sampling_flow(seed=0)
    X_new = rng.standard_normal((args.n_galaxies, 6))
    reg.predict_dist(X_new[:50])  # warm up: allocator, lazy imports
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times, post = [], None
    for _ in range(args.repeats):
        post = None  # one posterior held at a time: the peak is one call's
        start = time.perf_counter()
        post = reg.predict_dist(X_new, n_samples=1000)
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    draws = args.n_galaxies * 1000
    # per draw: the conditioners' layers that see the draws (context terms run per galaxy)
    macs = 0
    for t in reg.flow_._transform._transform._transforms:
        net = getattr(t, "autoregressive_net", None) or getattr(t, "transform_net", None)
        if net is None:  # a feature reversal
            continue
        for name, m in net.named_modules():
            if isinstance(m, torch.nn.Linear) and "context" not in name:
                n_in = m.in_features
                if name == "initial_layer" and hasattr(t, "identity_features"):
                    n_in = len(t.identity_features)  # its context columns: once per galaxy
                macs += n_in * m.out_features
    figures = {"seconds": round(seconds, 2), "seconds_each": [round(t, 2) for t in times],
               "draws_per_s": round(draws / seconds),
               "samples_mib": round(post.samples.nbytes / 2**20, 1),
               "peak_rss_mib_before": round(before), "peak_rss_mib_after": round(after),
               "conditioner_macs_per_draw": macs,
               "gflop_per_s": round(2 * macs * draws / seconds / 1e9, 1),
               "architecture": {k: reg.get_params()[k] for k in (
                   "flow_type", "n_transforms", "hidden_features", "n_blocks",
                   "embedding_features", "n_bins")}}
    text = (
        f"{args.n_galaxies} galaxies x 1000 draws: {seconds:.1f} s (median of "
        f"{args.repeats}: {', '.join(f'{t:.1f}' for t in times)}) "
        f"({draws / seconds:.3g} draws/s, {args.threads} threads); samples "
        f"{post.samples.nbytes / 2**20:.0f} MiB; peak RSS {before:.0f} -> {after:.0f} MiB "
        f"(+{after - before:.0f})\n\n"
        f"conditioners: {macs} multiply-adds per draw ({2 * macs * draws / 1e12:.2f} TFLOP "
        f"for these draws; whole draw at {2 * macs * draws / seconds / 1e9:.0f} GFLOP/s); "
        f"architecture {figures['architecture']}"
    )
    print(text)
    record("bench_flow_memory", figures=figures, seed=0, markdown=text,
           settings={"n_galaxies": args.n_galaxies, "n_samples": 1000, "threads": args.threads,
                     "repeats": args.repeats},
           headline=f"{draws / seconds:.3g} draws/s; +{after - before:.0f} MiB peak RSS for "
                    f"{args.n_galaxies} x 1000 draws",
           target="10^7 draws in < 10 s, median of 5 (issues 25, 37)")


if __name__ == "__main__":
    main()
