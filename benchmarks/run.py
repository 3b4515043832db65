"""Minuet vs VAE vs PCA eigengalaxies, side by side, on the same simulated galaxies.

    python benchmarks/run.py --quick                 # a few minutes on 2 CPU cores
    python benchmarks/run.py --full --device cuda    # the settings of a paper table (hours)

Writes results.json (every figure, with version, seed, settings, machine), results.md (one
table per question, best in bold) and figures/ into --out (default
benchmarks/results/quick or .../full). Same harness as ``minuet benchmark``.
"""

import sys
from pathlib import Path

from minuet_sk.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--out" not in argv:
        preset = "full" if "--full" in argv else "quick"
        argv += ["--out", str(Path(__file__).parent / "results" / preset)]
    sys.exit(main(["benchmark", *argv]))
