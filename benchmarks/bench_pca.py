"""EigengalaxyPCA: fit seconds, transform and inverse_transform galaxies/s, explained variance.

Usage: python benchmarks/bench_pca.py [--n 5000] [--size 72]
On asinh-stretched make_galaxies images; results in benchmarks/results/bench_pca/.
"""

import argparse
import json
import time

from minuet_sk import AsinhStretch, EigengalaxyPCA
from minuet_sk.datasets import make_galaxies

from _common import record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--size", type=int, default=72)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    X = AsinhStretch().fit_transform(
        make_galaxies(args.n, image_size=args.size, random_state=args.seed).images)
    result = {"n_images": args.n, "image_size": args.size,
              "data": f"make_galaxies(random_state={args.seed}), AsinhStretch()"}
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
    print(json.dumps(result, indent=2))
    five = result["n_components=5"]
    record("bench_pca", figures=result, seed=args.seed,
           settings={"n": args.n, "size": args.size},
           headline=f"5 components: fit {five['fit_seconds']} s, transform "
                    f"{five['transform_galaxies_per_s']:,}/s, explained variance "
                    f"{five['explained_variance']}")


if __name__ == "__main__":
    main()
