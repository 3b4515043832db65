"""Screen MinuetEncoder variants on simulated galaxies at a fixed number of epochs.

For each run: training images/s, R^2 of a linear regression from the latents to log10
half-light radius, g-r and r magnitude (5000 training / 1000 held-out galaxies of
``make_galaxies(6000, random_state=0)``), and the radial power-spectrum error of 20-step DDIM
reconstructions of 100 held-out galaxies (mean |error| over bands and scales, and the error
at six scales from large to small). Each run is one line of
``benchmarks/results/screen_minuet/runs.jsonl``::

    python benchmarks/screen_minuet.py --name refiner16 --params '{"refiner_channels": 16}'
"""

import argparse
import json
import time

import numpy as np
import torch

from minuet_sk import MinuetEncoder, metrics

from _common import record
from _data import latent_r2, load_data


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--params", default="{}", help="MinuetEncoder parameters, JSON")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X_train, X_test, truth_train, truth_test = load_data(5000, 1000, False, "none")
    params = json.loads(args.params)
    est = MinuetEncoder(random_state=0, **params)
    start = time.perf_counter()
    for _ in range(args.epochs):
        est.partial_fit(X_train)
    seconds = time.perf_counter() - start
    r2 = {k: round(v, 3)
          for k, v in latent_r2(est, X_train, X_test, truth_train, truth_test).items()}
    test = X_test[:100]
    error = metrics.power_spectrum_error(test, est.set_params(sampling_steps=20).reconstruct(test))
    result = {
        "name": args.name, "params": params, "epochs": args.epochs, "threads": args.threads,
        "train_seconds": round(seconds, 1),
        "images_per_s": round(len(X_train) * args.epochs / seconds, 1),
        "r2": r2, "power_spectrum_mean_abs_error": round(float(np.nanmean(np.abs(error))), 3),
        "power_spectrum_error_by_scale": np.round(np.nanmean(error, 0)[::6], 2).tolist(),
    }
    print(json.dumps(result))
    record("screen_minuet", figures=result, headline=headline(result), seed=0,
           settings={"name": args.name, "params": params, "epochs": args.epochs,
                     "threads": args.threads})


def headline(result):
    """The run's name, speed, latent R^2 and power-spectrum error."""
    parts = [f"{result['name']}:"]
    if "images_per_s" in result:
        parts.append(f"{result['images_per_s']:g} images/s,")
    if "r2" in result:
        parts.append("R^2 " + ", ".join(f"{k} {v:.2f}" for k, v in result["r2"].items()) + ",")
    if "power_spectrum_mean_abs_error" in result:
        parts.append(f"|P(k) error| {result['power_spectrum_mean_abs_error']:.2f}")
    return " ".join(parts).rstrip(",")


if __name__ == "__main__":
    main()
