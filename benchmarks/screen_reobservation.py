"""Which training recipe gives Minuet latents that describe the galaxy, not the night?

Each recipe trains the shipped architecture (``MinuetEncoder`` with ``AsinhStretch()``,
masked loss, canonical encoder and target frames, EMA 0.999: the recipe of
``sim-grz-72-v2``) on the same simulated galaxies for the same number of epochs (equal
compute: the same images seen, the same network), and differs only in what the decoder
learns to rebuild:

- ``v2``: each image as it was observed (its depth, seeing and noise draw);
- ``reference``: the same galaxy rendered by the simulator at fixed reference conditions,
  noiseless, at the survey's median seeing (``--reference-seeing``), centred on its pixel
  (``datasets.reobserve(noiseless=True, seeing=..., shift=(0, 0))``), passed to
  ``fit(X, reference=...)``: the encoder still sees the observed image;
- ``augmented``: as ``reference``, but the encoder sees each galaxy observed ``--views``
  times on other nights (``datasets.reobserve_pairs``: the simulator's seeing and depth,
  then the depth moved by up to half a magnitude either way, a sub-pixel shift and any
  angle), each view paired with the reference turned by the same angle (so the loss's
  masks, computed from the view, fall on it), for ``--epochs / --views`` epochs: the
  same images seen.

On held-out galaxies (``make_galaxies(--n-test, random_state=2028)``), the harness's
re-observation question (``evaluation.questions.reobservation``: the largest |Spearman| of
a latent with a band's noise or PSF FWHM, the conditions' R^2, per re-observation the
latent shift in nearest-neighbour distances and re-identification top-1 among
``--n-test``), the 5-fold linear R^2 of five physical factors from the latents, and the
Spearman of input vs reconstruction of five morphology measures (``--n-recon`` galaxies,
20 DDIM steps).

Run (about 20 minutes per recipe on one thread; two recipes on two cores; ``augmented``
holds ``--views`` x 2 x ``--n`` images in memory, 7.6 GB at the defaults)::

    python benchmarks/screen_reobservation.py --recipe v2 &
    python benchmarks/screen_reobservation.py --recipe reference
    python benchmarks/screen_reobservation.py --recipe augmented --views 3

``--init sim-grz-72-v3`` fine-tunes the shipped weights for the same images instead of
training afresh (the question for a v4: does more of the same, or the augmented views, move
v3's latents closer to the galaxy?).

``--encode mirror-mean`` is a candidate encoder, screened here before it is anything else:
the latents are the mean of the encoder's over the canonical frame's four mirror images
(each axis mirrored or not), in training and in ``transform``, so that the sign of a nearly
symmetric galaxy's skew, which the noise sets, no longer matters
(``screen_frame_average.py`` measured the same average at test time only). It replaces
``DiffusionAutoencoder.encode`` in this process.

Results: ``benchmarks/results/screen_reobservation/`` (one line per recipe and run).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score

from minuet_sk import AsinhStretch, MinuetEncoder, metrics
from minuet_sk.datasets import make_galaxies, reobserve, reobserve_pairs
from minuet_sk.evaluation.questions import _factor_table, reobservation
from minuet_sk.nn.autoencoder import DiffusionAutoencoder

from _common import record
from _data import mirror_mean

RECIPES = ("v2", "reference", "augmented")
#: The recipe of sim-grz-72-v2 (its training.json), the base of every candidate.
V2_PARAMS = {"ema_decay": 0.999, "encoder_frame": "canonical", "target_frame": "canonical",
             "masked_loss": True}


def train(recipe, args):
    data = make_galaxies(args.n, image_size=72, random_state=args.seed)
    X, reference, epochs = data.images, None, args.epochs
    if recipe == "reference":
        reference = reobserve(data, noiseless=True, seeing=args.reference_seeing,
                              shift=(0.0, 0.0), random_state=args.seed).images
    elif recipe == "augmented":
        pairs = reobserve_pairs(data, args.views, reference_seeing=args.reference_seeing,
                                random_state=args.seed)
        X, reference = pairs.images, pairs.reference
        epochs = max(1, round(args.epochs / args.views))
    fixed = {"max_epochs": epochs, "validation_fraction": 0.0, "early_stopping": False,
             "device": "cpu", "random_state": args.seed}
    if args.init is not None:  # fine-tune those weights (they fix the rest)
        model = MinuetEncoder.from_pretrained(args.init, device="cpu").set_params(
            warm_start=True, **fixed)
    else:
        model = MinuetEncoder(5, image_shape=(3, 72, 72), stretch=AsinhStretch(), **fixed,
                              **V2_PARAMS)
    before = getattr(model, "n_iter_", 0)  # the epochs of the weights fine-tuned
    start = time.perf_counter()
    model.fit(X, reference=reference)
    return model, time.perf_counter() - start, len(X) * (model.n_iter_ - before)


def evaluate(model, args):
    galaxies = make_galaxies(args.n_test, image_size=72, random_state=2028)
    Z = np.asarray(model.transform(galaxies.images))

    class Config:  # what reobservation() reads of the harness's config
        seed = args.seed

    answer = reobservation({"minuet": model}, galaxies, np.arange(args.n_test),
                           {"minuet": Z}, np.asarray, Config)["minuet"]
    factors = _factor_table(galaxies.truth)
    r2 = {f: float(cross_val_score(LinearRegression(), Z, factors[f], cv=5).mean())
          for f in factors}
    inputs = galaxies.images[: args.n_recon]
    recon = model.set_params(sampling_steps=20).reconstruct(inputs, random_state=0)
    kept = metrics.factor_agreement(metrics.central_source_morphology(inputs),
                                    metrics.central_source_morphology(recon))["spearman"]
    return {
        "max_abs_spearman_conditions": answer["conditions"]["max_abs_spearman"],
        "max_r2_conditions": max(answer["conditions"]["r2"].values()),
        "stability": answer["stability"],
        "factor_r2": r2,
        "reconstruction_spearman": {k: float(v) for k, v in kept.items()},
        "conditions": answer["conditions"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", choices=RECIPES, required=True)
    parser.add_argument("--n", type=int, default=8000, help="training galaxies")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--n-recon", type=int, default=200)
    parser.add_argument("--reference-seeing", type=float, default=1.28,
                        help="r-band FWHM (arcsec) of the reference: the simulator's median")
    parser.add_argument("--views", type=int, default=3,
                        help="augmented: observations of each galaxy the encoder sees")
    parser.add_argument("--init", help="fine-tune these weights (e.g. sim-grz-72-v3) "
                                       "instead of training afresh")
    parser.add_argument("--encode", choices=["frame", "mirror-mean"], default="frame",
                        help="the canonical frame (as shipped), or the mean over its four "
                             "mirror images (a candidate)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.encode == "mirror-mean":
        DiffusionAutoencoder.encode = DiffusionAutoencoder.forward = mirror_mean
    model, fit_s, seen = train(args.recipe, args)
    figures = {"fit_seconds": round(fit_s, 1), "images_seen": seen,
               **evaluate(model, args)}
    stab = figures["stability"]
    name = args.recipe if args.init is None else f"{args.recipe} from {args.init}"
    name += ", mirror-mean encoder" if args.encode == "mirror-mean" else ""
    line = (f"{name}: conditions max |rho| {figures['max_abs_spearman_conditions']:.2f}"
            f", max R^2 {figures['max_r2_conditions']:.2f}; top-1 "
            + ", ".join(f"{k} {v['top1']:.2f}" for k, v in stab.items())
            + "; factor R^2 " + ", ".join(f"{k} {v:.2f}" for k, v in figures["factor_r2"].items())
            + "; recon rho " + ", ".join(f"{k} {v:.2f}" for k, v in
                                         figures["reconstruction_spearman"].items()))
    print(line)
    rows = ["| re-observation | shift (NN distances) | top-1 | top-5 |", "|---|---|---|---|"]
    rows += [f"| {k} | {v['shift_nn']:.2f} | {v['top1']:.2f} | {v['top5']:.2f} |"
             for k, v in stab.items()]
    record("screen_reobservation", figures=figures, headline=line,
           target="|rho| < 0.1, R^2 < 0.05, shift < 0.3 NN, top-1 >= 0.9, factor R^2 >= 0.8",
           settings={k: v for k, v in vars(args).items()}, seed=args.seed,
           markdown=f"Recipe `{name}`\n\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
