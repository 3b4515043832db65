"""The ``minuet`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _demo(args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from minuet_sk import AsinhStretch, EigengalaxyPCA, make_pipeline

    rng = np.random.default_rng(args.seed)
    n, size = args.size, 32
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    q, pa = rng.uniform(0.3, 1, n), rng.uniform(0, np.pi, n)
    x = xx * np.cos(pa)[:, None, None] + yy * np.sin(pa)[:, None, None]
    y = -xx * np.sin(pa)[:, None, None] + yy * np.cos(pa)[:, None, None]
    r = np.hypot(x, y / q[:, None, None]) / rng.uniform(1.5, 5, n)[:, None, None]
    colour = rng.uniform(0.5, 2, (n, 3))
    X = colour[:, :, None, None] * np.exp(-r)[:, None] + 0.02 * rng.standard_normal(
        (n, 3, size, size)
    )
    pipe = make_pipeline(AsinhStretch(image_shape=(3, size, size)),
                         EigengalaxyPCA(8, image_shape=(3, size, size))).fit(X)
    pca = pipe[-1]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 8, figsize=(12, 1.8))
    for k, ax in enumerate(axes):
        ax.imshow(pca.eigengalaxies_[k].sum(0), cmap="RdBu_r")
        ax.set_title(f"pca{k}: {pca.explained_variance_ratio_[k]:.1%}", fontsize=8)
        ax.axis("off")
    fig.savefig(out / "eigengalaxies.png", dpi=100, bbox_inches="tight")
    print(f"Wrote {out / 'eigengalaxies.png'}")


def build_parser():
    """The argument parser of ``minuet`` (one subparser per subcommand)."""
    parser = argparse.ArgumentParser(prog="minuet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit the models on simulated galaxies, write a report")
    demo.add_argument("--size", type=int, default=500, help="number of galaxies")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default="report", help="output folder")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None):
    """Run ``minuet``; returns the exit status."""
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
