"""How fast, and in how much memory, are a million galaxies' latents turned into a posterior catalogue?

``minuet_sk.flow.write_posterior_catalogue`` (what ``minuet predict`` runs) reads latents
from a Parquet file (an ``id`` column and ``minuet0`` ... ``minuet4``, as ``minuet encode``
writes them) and writes the summaries of every galaxy's posterior (mean, median, std, 16th
and 84th percentiles of redshift, log stellar mass and log SFR) to a folder of Parquet
parts, ``chunk_size`` galaxies at a time, through the shipped flow ``sim-grz-72-v4-flow``
with its default 1,000 draws per galaxy. The latents are random: drawn from a normal
distribution with the flow's feature means and scales (a draw's cost does not depend on
them). Each size runs in a fresh process, which reports its wall time, its resident memory
before the run (the model loaded) and its peak (``ru_maxrss``). The cost should grow
linearly: seconds per 10,000 galaxies and peak memory the same at every size::

    python benchmarks/bench_catalogue.py [--sizes 10000 100000 1000000] [--threads 2]
                                         [--chunk-size 10000] [--note TEXT]
    python benchmarks/bench_catalogue.py --quick     # 1,000 and 10,000 galaxies

Results: ``benchmarks/results/bench_catalogue/`` (see ``benchmarks/README.md``).
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import record

SEED = 0
MODEL = "sim-grz-72-v4-flow"  # the default flow


def _one(args):
    """In the child process: one catalogue, and what it cost."""
    import torch

    from minuet_sk import FlowPropertyRegressor
    from minuet_sk.flow import write_posterior_catalogue

    torch.set_num_threads(args.threads)
    flow = FlowPropertyRegressor.from_pretrained(MODEL, device="cpu")
    flow.predict_dist(np.zeros((10, 5)))  # warm up: allocator, lazy imports
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    out = write_posterior_catalogue(flow, args.features, args.out,
                                    chunk_size=args.chunk_size, progress=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(p.stat().st_size for p in Path(out).glob("part-*.parquet"))
    print(json.dumps({"seconds": seconds, "rss_before_mib": before, "peak_rss_mib": peak,
                      "catalogue_mib": size / 2**20, "n_samples": flow.n_samples}))


def _latents(n, path):
    """``n`` random latents with an ``id`` column, as ``minuet encode`` writes them."""
    import pandas as pd

    from minuet_sk import FlowPropertyRegressor

    flow = FlowPropertyRegressor.from_pretrained(MODEL, device="cpu")
    rng = np.random.default_rng(SEED)
    latents = flow.x_mean_ + flow.x_scale_ * rng.standard_normal((n, 5))
    table = pd.DataFrame(latents.astype(np.float32), columns=flow.feature_names_in_)
    table.insert(0, "id", np.arange(n))
    table.to_parquet(path, index=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="sizes 1,000 and 10,000")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--features", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return _one(args)
    sizes = [1_000, 10_000] if args.quick else args.sizes
    runs = []
    with tempfile.TemporaryDirectory() as work:
        for n in sizes:
            features = Path(work) / f"latents_{n}.parquet"
            _latents(n, features)
            child = subprocess.run(
                [sys.executable, __file__, "--one", "--features", str(features),
                 "--out", str(Path(work) / f"catalogue_{n}"), "--threads", str(args.threads),
                 "--chunk-size", str(args.chunk_size)],
                capture_output=True, text=True, check=True)
            run = {"n_galaxies": n, **json.loads(child.stdout.strip().splitlines()[-1])}
            run["galaxies_per_s"] = n / run["seconds"]
            run["seconds_per_10k"] = 1e4 * run["seconds"] / n
            runs.append({k: round(v, 2) if isinstance(v, float) else v for k, v in run.items()})
            print(runs[-1], flush=True)
    rows = [
        f"| {r['n_galaxies']:,} | {r['seconds']:.1f} | {r['galaxies_per_s']:,.0f} | "
        f"{r['seconds_per_10k']:.1f} | {r['rss_before_mib']:.0f} | {r['peak_rss_mib']:.0f} | "
        f"{r['catalogue_mib']:.1f} |" for r in runs]
    title = (f"write_posterior_catalogue, shipped flow, {runs[0]['n_samples']} draws per "
             f"galaxy, chunk_size {args.chunk_size}, {args.threads} torch threads"
             + (f"; {args.note}" if args.note else ""))
    header = ("| galaxies | seconds | galaxies/s | s per 10^4 | RSS before (MiB) "
              "| peak RSS (MiB) | catalogue (MiB) |")
    text = "\n".join([title, "", header, "|---|---|---|---|---|---|---|", *rows])
    print(text)
    record("bench_catalogue", figures={"runs": runs}, seed=SEED, markdown=text,
           settings={"sizes": sizes, "threads": args.threads, "chunk_size": args.chunk_size,
                     "n_samples": runs[0]["n_samples"], "model": MODEL,
                     "features": "Parquet, id + 5 latents", "output": "folder of Parquet parts",
                     "note": args.note},
           headline="; ".join(f"{r['n_galaxies']:,}: {r['galaxies_per_s']:,.0f} galaxies/s, "
                              f"peak {r['peak_rss_mib']:.0f} MiB" for r in runs),
           target="cost linear in galaxies (s per 10^4 constant), peak memory flat")


if __name__ == "__main__":
    main()
