"""How should a CPU run the default flow's sampling loop: batch size, allocator, torch.compile?

``FlowPropertyRegressor.predict_dist`` streams galaxies through the flow in batches of
``DRAWS_PER_THREAD`` draws per torch thread, after glibc's malloc is set to keep the memory
a batch frees (``minuet_sk._allocator.keep_freed_memory``). This screen times the
alternatives on the default architecture (fitted for 2 epochs: the cost of a draw does not
depend on the weights), each in a fresh process: 3 x 10^6 draws (3,000 galaxies x 1,000)
per call, the median of ``--repeats`` calls after a warm-up, with the minor page faults of
those calls, for

- draws per thread per batch (2^13, 2^14, 2^15), with glibc's default thresholds and with
  the package's;
- the rational-quadratic spline compiled by ``torch.compile`` (inductor; ``dynamic=False``,
  a kernel per batch shape, and ``dynamic=True``), with the first call's compile time, and
  whether its draws equal the eager ones bit for bit::

    python benchmarks/screen_flow_sampling.py [--threads 2] [--repeats 3]
    python benchmarks/screen_flow_sampling.py --tiny        # smoke run: 30,000 draws

A run appends one line to ``results/screen_flow_sampling/runs.jsonl``; ``latest.md`` is
its table. The design notes are in ``notes/flow_speed.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from _common import record
from _data import sampling_flow

SEED = 0
# name -> (draws per thread, package's allocator thresholds, compile mode or None)
VARIANTS = {
    "2^13, glibc default": (2**13, False, None),
    "2^14, glibc default": (2**14, False, None),
    "2^15, glibc default": (2**15, False, None),
    "2^13, thresholds": (2**13, True, None),
    "2^14, thresholds (default)": (2**14, True, None),
    "2^15, thresholds": (2**15, True, None),
    "2^14, thresholds, compiled spline (static)": (2**14, True, "static"),
    "2^14, thresholds, compiled spline (dynamic)": (2**14, True, "dynamic"),
}


def _minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _one(args):
    """In the child process: one variant's timings."""
    import torch

    import minuet_sk.flow._regressor as regressor
    from minuet_sk.nn import splines

    torch.set_num_threads(args.threads)
    draws_per_thread, thresholds, compiled = VARIANTS[args.variant]
    regressor.DRAWS_PER_THREAD = draws_per_thread
    if not thresholds:
        regressor.keep_freed_memory = lambda: False
    reg, rng = sampling_flow(seed=SEED)
    X_new = rng.standard_normal((args.galaxies, 6))
    eager = reg.sample(X_new[:100], n_samples=1000)
    compile_seconds = identical = None
    if compiled:
        forward = torch.compile(splines.rq_spline_forward, dynamic=compiled == "dynamic")
        layer = splines._spline_layer

        def compiled_layer(spline, *rest):
            return layer(forward if spline is splines.rq_spline_forward else spline, *rest)

        splines._spline_layer = compiled_layer
        start = time.perf_counter()
        identical = bool(np.array_equal(reg.sample(X_new[:100], n_samples=1000), eager))
        compile_seconds = time.perf_counter() - start
    reg.predict_dist(X_new[:50])  # warm up (and the compiled kernels of the last batch)
    reg.predict_dist(X_new, n_samples=1000)
    times, faults = [], _minor_faults()
    for _ in range(args.repeats):
        start = time.perf_counter()
        reg.predict_dist(X_new, n_samples=1000)
        times.append(time.perf_counter() - start)
    print(json.dumps({
        "seconds": float(np.median(times)), "seconds_each": [round(t, 2) for t in times],
        "per_1e7_draws_s": round(float(np.median(times)) * 1e7 / (args.galaxies * 1000), 2),
        "page_faults_per_call": round((_minor_faults() - faults) / args.repeats),
        "compile_and_first_call_s": None if compile_seconds is None
        else round(compile_seconds, 1),
        "identical_to_eager": identical}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--galaxies", type=int, default=3000)
    parser.add_argument("--only", nargs="*", help="variant names to run (default all)")
    parser.add_argument("--tiny", action="store_true", help="smoke run: 30 galaxies, eager")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return _one(args)
    if args.tiny:
        args.galaxies, args.repeats = 30, 1
    names = args.only or [n for n in VARIANTS if not (args.tiny and VARIANTS[n][2])]
    results = {}
    for name in names:
        out = subprocess.run(
            [sys.executable, __file__, "--one", "--variant", name, "--threads",
             str(args.threads), "--repeats", str(args.repeats), "--galaxies",
             str(args.galaxies)], check=True, capture_output=True, text=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(name, results[name], flush=True)
    header = ("| variant | s per 10^7 draws (median) | calls | page faults per call | "
              "compile + first call (s) | draws equal eager |")
    rows = [f"| {n} | {r['per_1e7_draws_s']} | {r['seconds_each']} | "
            f"{r['page_faults_per_call']} | {r['compile_and_first_call_s'] or '-'} | "
            f"{'-' if r['identical_to_eager'] is None else r['identical_to_eager']} |"
            for n, r in results.items()]
    title = (f"{args.galaxies} galaxies x 1,000 draws per call, {args.threads} threads, "
             f"median of {args.repeats} calls; scaled to 10^7 draws")
    text = "\n".join([title, "", header, "|---|---|---|---|---|---|", *rows])
    best = min(results, key=lambda n: results[n]["per_1e7_draws_s"])
    record("screen_flow_sampling", figures=results, seed=SEED, markdown=text,
           settings={"threads": args.threads, "repeats": args.repeats,
                     "galaxies": args.galaxies, "n_samples": 1000, "tiny": args.tiny},
           headline=f"fastest: {best}, {results[best]['per_1e7_draws_s']} s per 10^7 draws",
           target="10^7 draws through predict_dist in < 10 s on 2 cores (issue 37)")


if __name__ == "__main__":
    main()
