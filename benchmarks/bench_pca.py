"""EigengalaxyPCA: fit seconds, transform and inverse_transform galaxies/s, explained variance.

Usage: python benchmarks/bench_pca.py [--n 5000] [--size 72]
Writes benchmarks/results/pca.json. Uses make_galaxies when available (the default data set).
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from minuet_sk import EigengalaxyPCA, __version__


def _images(n, size, seed):
    try:
        from minuet_sk.datasets import make_galaxies
    except ImportError:  # the simulator is optional for this benchmark
        rng = np.random.default_rng(seed)
        return rng.lognormal(-3, 1, size=(n, 3, size, size)).astype(np.float32), "lognormal noise"
    return make_galaxies(n, image_size=size, random_state=seed).images, "make_galaxies"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--size", type=int, default=72)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "pca.json"))
    args = parser.parse_args(argv)
    X, source = _images(args.n, args.size, args.seed)
    result = {"package_version": __version__, "machine": platform.platform(),
              "n_images": args.n, "image_size": args.size, "data": source}
    for k in (5, 12):
        t0 = time.perf_counter()
        pca = EigengalaxyPCA(k, image_shape=X.shape[1:], random_state=args.seed).fit(X)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        Z = pca.transform(X)
        transform_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pca.inverse_transform(Z)
        inverse_s = time.perf_counter() - t0
        result[f"n_components={k}"] = {
            "fit_seconds": round(fit_s, 3),
            "transform_galaxies_per_s": round(len(X) / transform_s),
            "inverse_transform_galaxies_per_s": round(len(X) / inverse_s),
            "explained_variance": round(float(pca.explained_variance_ratio_.sum()), 4),
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
