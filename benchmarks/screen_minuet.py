"""Screen MinuetEncoder variants on simulated galaxies at equal CPU time.

Each run trains one variant (``--params``, MinuetEncoder parameters as JSON, on top of the
defaults) on the 5,000 training galaxies of ``make_galaxies(6000, random_state=0)``, asinh-
stretched as the shipped pipeline (softening 100), with the masked loss's weights computed
once, for a wall-clock ``--budget`` on ``--threads`` threads (``partial_fit`` epochs), and
reports on held-out galaxies:

- the R^2 of a linear regression from the latents to log10 half-light radius, g-r and r
  magnitude (1,000 galaxies);
- what DDIM reconstructions keep of each galaxy (``--n-recon`` galaxies, at each of
  ``--steps`` DDIM steps): the Spearman correlation between input and reconstruction of
  brightness, colour, size, concentration and axis ratio, measured in flux units with
  ``metrics.central_source_morphology``, and the mean |radial power-spectrum error|;
- the latent shift under 90-degree rotations and flips, in units of the median
  nearest-neighbour distance (the harness's orientation question; 500 galaxies).

Each run is one line of ``benchmarks/results/screen_minuet/runs.jsonl``::

    python benchmarks/screen_minuet.py --name ema --params '{"ema_decay": 0.99}' --budget 360
"""

import argparse
import json
import time

import numpy as np
import torch

from minuet_sk import AsinhStretch, MinuetEncoder, metrics
from minuet_sk._training.masks import mask_loss_weights  # made once: partial_fit re-segments
from minuet_sk.evaluation import questions
from minuet_sk.neighbors import orientation_shift

from _common import record
from _data import latent_r2, load_data


def factors(est, X, stretch, steps):
    """Per DDIM step count: factor Spearman and R^2 (the harness's
    :func:`~minuet_sk.evaluation.questions.factors`) and the mean |power-spectrum error| of
    the reconstructions of ``X``."""
    def flux(images):
        return stretch.inverse_transform(images).reshape(images.shape)

    truth = metrics.central_source_morphology(flux(X))
    Z = est.transform(X)
    recon = {str(n): est.set_params(sampling_steps=n).inverse_transform(Z).reshape(X.shape)
             for n in steps}
    kept = questions.factors(truth, recon, flux)
    return {n: {stat: {f: round(v[stat], 3) for f, v in kept[n].items()}
                for stat in ("spearman", "r2")}
            | {"power_spectrum_mean_abs_error": round(float(np.nanmean(np.abs(
                metrics.power_spectrum_error(X, images)))), 3)}
            for n, images in recon.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--params", default="{}", help="MinuetEncoder parameters, JSON")
    parser.add_argument("--budget", type=float, default=360.0, help="training seconds")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-recon", type=int, default=100)
    parser.add_argument("--steps", default="20", help="DDIM step counts, comma-separated")
    parser.add_argument("--seed", type=int, default=0, help="the estimator's random_state")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X_train, X_test, truth_train, truth_test, stretch = load_data(
        5000, 1000, False, "asinh", AsinhStretch().softening, return_stretch=True)
    params = json.loads(args.params)
    masked = params.pop("masked_loss", True)
    est = MinuetEncoder(random_state=args.seed, **{**params, "masked_loss": False})
    start = time.perf_counter()
    weight = (np.ascontiguousarray(np.broadcast_to(mask_loss_weights(X_train), X_train.shape))
              if masked else None)  # the masks count as training time
    while True:  # at least one epoch
        est.partial_fit(X_train, pixel_weight=weight)
        if time.perf_counter() - start >= args.budget:
            break
    seconds = time.perf_counter() - start
    r2 = {k: round(v, 3)
          for k, v in latent_r2(est, X_train, X_test, truth_train, truth_test).items()}
    steps = [int(s) for s in args.steps.split(",")]
    result = {
        "name": args.name, "params": {**params, "masked_loss": masked},
        "threads": args.threads, "budget_s": args.budget, "train_seconds": round(seconds, 1),
        "epochs": est.n_iter_,
        "images_per_s": round(float(np.median([h["images_per_s"] for h in est.history_])), 1),
        "r2": r2,
        "factors": factors(est, X_test[: args.n_recon], stretch, steps),
        "orientation_shift": round(orientation_shift(
            est, X_test[:500], est.transform(X_test[:500]))["mean"], 3),
    }
    print(json.dumps(result))
    record("screen_minuet", figures=result, headline=headline(result), seed=args.seed,
           settings={"name": args.name, "params": result["params"], "budget_s": args.budget,
                     "threads": args.threads, "n_recon": args.n_recon, "steps": steps},
           target="issue 24: latent R^2 and factor Spearman >= 0.8, rotation shift < 0.3")


def headline(result):
    """The run's name, latent R^2, what its reconstructions keep, and its rotation shift."""
    parts = [f"{result['name']}:"]
    if "images_per_s" in result:
        parts.append(f"{result['images_per_s']:g} images/s,")
    if "r2" in result:
        parts.append("R^2 " + ", ".join(f"{k} {v:.2f}" for k, v in result["r2"].items()) + ";")
    if "factors" in result:
        steps, kept = next(iter(result["factors"].items()))
        parts.append(f"DDIM-{steps} Spearman " + ", ".join(
            f"{k} {v:.2f}" for k, v in kept["spearman"].items()) + ";")
    elif "power_spectrum_mean_abs_error" in result:
        parts.append(f"|P(k) error| {result['power_spectrum_mean_abs_error']:.2f}")
    if "orientation_shift" in result:
        parts.append(f"rotation shift {result['orientation_shift']:.2f}")
    return " ".join(parts).rstrip(",;")


if __name__ == "__main__":
    main()
