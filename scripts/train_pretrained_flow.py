"""Train the shipped flow ``sim-grz-72-flow``: posteriors of redshift, stellar mass and SFR
from the five latents of the shipped encoder ``sim-grz-72``, on simulated galaxies.

Reproducible: the data, the split and the initialisation are fixed by ``--seed``.

    python scripts/train_pretrained_flow.py --n 20000 --threads 2
    python scripts/train_pretrained_flow.py --encoder sim-grz-72-v2   # sim-grz-72-v2-flow

writes ``minuet_sk/pretrained/sim-grz-72-flow/`` (``FlowPropertyRegressor.save``) and its
card ``training.json`` (data, settings, wall time, and calibration and accuracy on other
simulated galaxies). It is simulation-trained: for real galaxies its posteriors are as good
as the simulator's likeness to them, which nothing here measures.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from _shipping import fit_and_ship

from minuet_sk import FlowPropertyRegressor, MinuetEncoder, __version__, metrics
from minuet_sk.datasets import make_galaxies

PRETRAINED = Path(__file__).resolve().parents[1] / "minuet_sk" / "pretrained"
TARGETS = ["redshift", "log_mstar", "log_sfr"]


def latents_and_targets(encoder, n, seed):
    data = make_galaxies(n, image_size=72, random_state=seed)
    # pandas output: the latents carry the encoder's latent_id_, which the flow records
    # (features_id_) so that it refuses another encoder's latents
    latents = encoder.set_output(transform="pandas").transform(data.images)
    return latents.reset_index(drop=True), data.target[TARGETS].reset_index(drop=True)


def held_out_quality(model, encoder, name, n, seed):
    X, y = latents_and_targets(encoder, n, seed)
    posterior = model.predict_dist(X)
    truth = y.to_numpy()
    median = posterior.median()
    quality = {
        "data": f"make_galaxies({n}, image_size=72, random_state={seed}), latents of {name}",
        "coverage_68": posterior.coverage(y, 0.68)[TARGETS].round(3).to_dict(),
        "coverage_95": posterior.coverage(y, 0.95)[TARGETS].round(3).to_dict(),
        "crps": posterior.crps(y)[TARGETS].mean().round(4).to_dict(),
        "median_abs_error": dict(zip(TARGETS, np.round(
            np.median(np.abs(median - truth), axis=0), 4).tolist())),
        "redshift_sigma_nmad": round(float(metrics.sigma_nmad(truth[:, 0], median[:, 0])), 4),
        "redshift_outlier_fraction": round(float(
            metrics.outlier_fraction(truth[:, 0], median[:, 0])), 4),
    }
    return quality


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000, help="simulated training galaxies")
    parser.add_argument("--n-test", type=int, default=2000, help="held-out galaxies")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--encoder", default="sim-grz-72",
                        help="the shipped encoder whose latents the flow takes")
    parser.add_argument("--out", type=Path,
                        help="default: minuet_sk/pretrained/<encoder>-flow")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out = args.out or PRETRAINED / f"{args.encoder}-flow"
    encoder = MinuetEncoder.from_pretrained(args.encoder, device="cpu")
    start = time.perf_counter()
    X, y = latents_and_targets(encoder, args.n, args.seed)
    data_s = time.perf_counter() - start
    # redshift is bounded below: no posterior draw falls below 0
    model = FlowPropertyRegressor(target_bounds={"redshift": (0, None)},
                                  random_state=args.seed, device="cpu", verbose=1)
    fit_s = fit_and_ship(model, args.out, X, y)
    card = {
        "name": args.out.name,
        "package_version": __version__,
        "what": (f"posteriors of {', '.join(TARGETS)} given the 5 latents of the shipped "
                 f"encoder {args.encoder!r} (MinuetEncoder.from_pretrained({args.encoder!r})"
                 ".transform(cutouts))"),
        "simulation_trained": (
            "Trained on simulated galaxies only. For real galaxies the posteriors are as good "
            "as the simulator's likeness to them, which this card does not measure: check "
            "them on galaxies with known redshifts before relying on them."),
        "trained_on": (f"make_galaxies({args.n}, image_size=72, random_state={args.seed}) "
                       "(simulated DECaLS-like grz cutouts, r < 19, with neighbours)"),
        "command": f"python scripts/train_pretrained_flow.py --encoder {args.encoder} --n "
                   f"{args.n} --n-test {args.n_test} --threads {args.threads} --seed {args.seed}",
        "estimator_params": model.get_params(),
        "epochs_run": len(model.history_),
        "simulate_and_encode_seconds": round(data_s, 1),
        "fit_seconds": round(fit_s, 1),
        "machine": f"{platform.platform()}, {args.threads} torch thread(s)",
        "held_out_quality": held_out_quality(model, encoder, args.encoder, args.n_test,
                                             args.seed + 1),
    }
    (args.out / "training.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    print(json.dumps(card, indent=2, default=str))


if __name__ == "__main__":
    main()
