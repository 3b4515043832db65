"""Train the shipped MinuetEncoder weights ``sim-grz-72`` on simulated galaxies.

Reproducible: the data, the split and the initialisation are fixed by ``--seed``.

    python scripts/train_pretrained.py --n 5000 --epochs 40 --threads 2

A long run is resumable: with ``--checkpoint-dir DIR`` every epoch is checkpointed, and the
same command started again continues where the last one stopped (the checkpoint of a run
that outlives a session may be committed under ``training_runs/``, which the package does
not ship). ``--params`` adds MinuetEncoder parameters (JSON) to the defaults (the recipe of
the newest shipped weights), ``--out`` names another folder (e.g.
``minuet_sk/pretrained/sim-grz-72-v3``). ``--reference-seeing FWHM`` trains the decoder to
rebuild each galaxy at reference conditions (``fit(X, reference=...)``): rendered again by the
simulator noiseless, at that r-band seeing, centred on its pixel, so that the latents need not
carry the conditions of the observation (``benchmarks/screen_reobservation.py``);
``--encoder-views K`` with it shows the encoder each galaxy observed on ``K`` random nights
instead (:func:`~minuet_sk.datasets.reobserve_pairs`: depth, seeing, noise, angle, sub-pixel
shift), each paired with its reference, written once to ``--pairs-dir`` as ``.npy`` files and
read from there (``K x n`` pairs do not fit in memory). ``--init NAME`` fine-tunes shipped
weights (or a saved folder) for ``--epochs`` more epochs instead of training afresh. The run

writes ``minuet_sk/pretrained/sim-grz-72/`` (``model.safetensors`` + ``config.json``, the
format of ``MinuetEncoder.save``) and ``training.json`` beside them (data, settings, wall time,
loss curve). The model carries its ``AsinhStretch()`` (default parameters: softening 100) as
its ``stretch``: it takes 72x72 grz cutouts in nanomaggies as they come,
``MinuetEncoder.from_pretrained("sim-grz-72").transform(cutouts)``.
"""

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _shipping import fit_and_ship
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score
from tqdm import tqdm

from minuet_sk import AsinhStretch, EigengalaxyPCA, MinuetEncoder, __version__, metrics
from minuet_sk._training.masks import BACKGROUND_WEIGHT, MASK_WEIGHT  # for the card; not public
from minuet_sk.datasets import make_galaxies, reobserve, reobserve_pairs
from minuet_sk.datasets._cache import data_home

OUT = Path(__file__).resolve().parents[1] / "minuet_sk" / "pretrained" / "sim-grz-72"


def held_out_quality(model, train_images, seed=7, n=1000):
    """R^2 of the latents and the power-spectrum error of reconstructions (vs PCA-5 fitted
    on ``train_images``, both in the model's stretched units), on
    ``make_galaxies(n, random_state=seed)``."""
    data = make_galaxies(n, image_size=72, random_state=seed)
    raw = data.images

    def stretched(images):
        return model.stretch_.transform(images).reshape(images.shape)

    X = stretched(raw)
    truth = data.truth
    targets = {
        "log10_half_light_radius_arcsec": np.log10(truth["half_light_radius_arcsec"]),
        "g_minus_r": truth["mag_g"] - truth["mag_r"],
        "r_mag": truth["mag_r"],
        "axis_ratio": truth["axis_ratio"],
        "bulge_fraction": truth["bulge_fraction"],
    }
    latents = model.transform(raw)
    quality = {
        "data": f"make_galaxies({n}, image_size=72, random_state={seed}), AsinhStretch()",
        "metric": "5-fold cross-validated R^2 of a linear regression from the 5 latents",
        **{k: round(float(cross_val_score(LinearRegression(), latents, v, cv=5).mean()), 3)
           for k, v in targets.items()},
    }
    half = len(latents) // 2
    pair_distance = np.median(np.linalg.norm(latents[:half] - latents[half:], axis=1))
    quality["orientation_shift"] = {
        "metric": "median latent shift / median distance between two galaxies",
        **{name: round(float(np.median(np.linalg.norm(
            latents - model.transform(np.ascontiguousarray(move(raw))), axis=1)) / pair_distance), 3)
           for name, move in (("rot90", lambda a: np.rot90(a, 1, axes=(2, 3))),
                              ("rot180", lambda a: np.rot90(a, 2, axes=(2, 3))),
                              ("flip_lr", lambda a: a[..., ::-1]))},
    }
    test = X[:200]
    pca = EigengalaxyPCA(5, image_shape=X.shape[1:], random_state=0).fit(
        stretched(train_images))
    flux = model.reconstruct(raw[:200])
    recon = {"minuet": stretched(flux),
             "pca": pca.inverse_transform(pca.transform(test)).reshape(test.shape)}
    kept = metrics.factor_agreement(metrics.central_source_morphology(raw[:200]),
                                    metrics.central_source_morphology(flux))
    quality["factors_kept"] = {
        "metric": (f"Spearman between input and reconstruction ({model.sampling_steps} DDIM "
                   f"steps) of {len(test)} galaxies, metrics.central_source_morphology"),
        **{k: round(float(v), 3) for k, v in kept["spearman"].items()},
    }
    quality["power_spectrum_mean_abs_error"] = {
        k: round(float(np.nanmean(np.abs(metrics.power_spectrum_error(test, r)))), 3)
        for k, r in recon.items()
    }
    quality["power_spectrum_note"] = (
        f"{len(test)} of these galaxies, {model.sampling_steps} DDIM steps; PCA-5 fitted on "
        "the training images")
    return quality


def pairs_on_disk(data, args):
    """``reobserve_pairs`` of the simulation, view by view into ``.npy`` files (reused when
    they exist), opened memory-mapped: ``(images, reference)``."""
    folder = args.pairs_dir or (Path(data_home()) / (
        f"pairs-n{args.n}-seed{args.seed}-views{args.encoder_views}"
        f"-seeing{args.reference_seeing:g}"))
    paths = [folder / "images.npy", folder / "reference.npy"]
    if not all(p.is_file() for p in paths):
        folder.mkdir(parents=True, exist_ok=True)
        n, shape = len(data.images), data.images.shape[1:]
        size = (args.encoder_views * n, *shape)
        partial = [np.lib.format.open_memmap(p.with_suffix(".partial.npy"), mode="w+",
                                             dtype=np.float32, shape=size) for p in paths]
        seeds = np.random.default_rng(args.seed).integers(2**31 - 1, size=args.encoder_views)
        for k, seed in enumerate(tqdm(seeds, desc="views")):
            pairs = reobserve_pairs(data, 1, reference_seeing=args.reference_seeing,
                                    random_state=int(seed))
            partial[0][k * n:(k + 1) * n] = pairs.images
            partial[1][k * n:(k + 1) * n] = pairs.reference
        for array, path in zip(partial, paths):
            array.flush()
            path.with_suffix(".partial.npy").replace(path)
    return tuple(np.load(p, mmap_mode="r") for p in paths)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="simulated galaxies")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--params", default="{}", help="more MinuetEncoder parameters, JSON")
    parser.add_argument("--checkpoint-dir", type=Path,
                        help="checkpoint every epoch there, and resume from it")
    parser.add_argument("--reference-seeing", type=float,
                        help="rebuild each galaxy noiseless at this r-band FWHM (arcsec)")
    parser.add_argument("--encoder-views", type=int,
                        help="with --reference-seeing: observations of each galaxy the "
                             "encoder sees (datasets.reobserve_pairs)")
    parser.add_argument("--pairs-dir", type=Path,
                        help="where --encoder-views writes its pairs (default: beside the "
                             "simulation cache)")
    parser.add_argument("--init", help="fine-tune these weights (a shipped name or a folder)")
    parser.add_argument("--masked", action=argparse.BooleanOptionalAction,
                        default=MinuetEncoder().masked_loss,
                        help="masked_loss (0.9 on the central galaxy, 0.1 elsewhere)")
    args = parser.parse_args(argv)
    if args.encoder_views is not None and args.reference_seeing is None:
        parser.error("--encoder-views needs --reference-seeing (what the decoder rebuilds)")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = make_galaxies(args.n, image_size=72, random_state=args.seed)
    X = data.images
    reference = None
    if args.encoder_views is not None:
        X, reference = pairs_on_disk(data, args)
    elif args.reference_seeing is not None:
        reference = reobserve(data, noiseless=True, seeing=args.reference_seeing,
                              shift=(0.0, 0.0), random_state=args.seed).images
    simulate_s = time.perf_counter() - start
    # a fixed number of epochs on all the images: the validation loss (fixed noise) moves
    # too little to pick the epoch whose latents describe the galaxies best
    extra = json.loads(args.params)
    fixed = {"max_epochs": args.epochs, "device": "cpu", "validation_fraction": 0.0,
             "early_stopping": False, "random_state": args.seed, "verbose": 1,
             "checkpoint_dir": args.checkpoint_dir}
    if args.init is not None:  # the weights fix the rest
        model = MinuetEncoder.from_pretrained(args.init, device="cpu").set_params(
            warm_start=True, **fixed, **extra)
    else:
        model = MinuetEncoder(5, image_shape=(3, 72, 72), stretch=AsinhStretch(),
                              masked_loss=args.masked, **fixed, **extra)
    before = getattr(model, "n_iter_", 0)  # the epochs of the weights fine-tuned
    fit_s = fit_and_ship(model, args.out, X, reference=reference)
    card = {
        "name": args.out.name,
        "package_version": __version__,
        "trained_on": (f"make_galaxies({args.n}, image_size=72, random_state={args.seed}) "
                       "(simulated DECaLS-like grz cutouts, r < 19, with neighbours), "
                       f"AsinhStretch() with default parameters (softening "
                       f"{AsinhStretch().softening:g})"),
        "reference": (None if reference is None else
                      "the decoder rebuilt each galaxy at reference conditions: reobserve("
                      f"noiseless=True, seeing={args.reference_seeing:g}, shift=(0, 0))"),
        "encoder_views": (None if args.encoder_views is None else
                          f"the encoder saw each galaxy on {args.encoder_views} random "
                          f"nights: reobserve_pairs(galaxies, 1, reference_seeing="
                          f"{args.reference_seeing:g}, random_state=s) for each s of "
                          f"numpy.random.default_rng({args.seed}).integers(2**31 - 1, "
                          f"size={args.encoder_views})"),
        "fine_tuned_from": args.init,
        "stretch_softening": AsinhStretch().softening,  # the model's own stretch
        "command": " ".join(["python", "scripts/train_pretrained.py",
                             *map(shlex.quote, sys.argv[1:] if argv is None else argv)]),
        "loss_weights": (f"{MASK_WEIGHT} on central_source_masks (computed once, "
                         f"included in fit_seconds), {BACKGROUND_WEIGHT} elsewhere"
                         if args.masked else "equal"),
        "estimator_params": {k: v for k, v in model.get_params().items()
                             if isinstance(v, (int, float, str, bool, tuple, type(None)))},
        "epochs_run": model.n_iter_,
        "simulate_seconds": round(simulate_s, 1),
        "fit_seconds": round(fit_s, 1),  # this invocation's (a resumed run: its last part)
        "epoch_seconds_all_sessions": round(sum(e.get("dur", 0.0)
                                                for e in model.history_[before:]), 1),
        "images_seen": len(X) * (model.n_iter_ - before),
        "machine": f"{platform.platform()}, {args.threads} torch thread(s)",
        "history": [{k: e[k] for k in ("epoch", "train_loss", "valid_loss") if k in e}
                    for e in model.history_],
    }
    card["held_out_quality"] = held_out_quality(model, data.images)
    (args.out / "training.json").write_text(json.dumps(card, indent=2, default=str))
    print(json.dumps({k: v for k, v in card.items() if k != "history"}, indent=2, default=str))


if __name__ == "__main__":
    main()
