"""Do the latents describe the galaxy or the night it was observed?

The same held-out simulated galaxies observed again (``datasets.reobserve``): a new noise
draw, 0.5 mag shallower and deeper, seeing 1.1 and 1.6 arcsec, random sub-pixel shifts and
random angles. For Minuet (shipped weights), PCA-5 and the VAE, built and fitted as the
harness builds them (``benchmarks/_data.simulation_encoders``), the harness's question
(``minuet_sk.evaluation.questions.reobservation``): the largest |Spearman| of a latent with
a band's sky noise or PSF FWHM and the conditions' R^2 from the latents; per re-observation
the median latent shift (in standard deviations and in median nearest-neighbour distances)
and re-identification (top-1, top-5 among the held-out galaxies); the bias of each physical
factor predicted linearly from the re-observed latents. Targets (issue "Five latents for the
galaxy"): |Spearman| < 0.1, R^2 < 0.05, shift < 0.3 NN distances, top-1 >= 0.9.

Run from the repository root (about 10 minutes on 2 cores for 1,000 galaxies)::

    python benchmarks/quality_reobservation.py                       # sim-grz-72-v4
    python benchmarks/quality_reobservation.py --weights sim-grz-72 --n 300

Results: ``benchmarks/results/quality_reobservation/`` (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse

import numpy as np

from minuet_sk.datasets import make_galaxies
from minuet_sk.evaluation.questions import reobservation

from _common import record
from _data import simulation_config, simulation_encoders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="sim-grz-72-v4",
                        help="shipped weights or a folder written by MinuetEncoder.save")
    parser.add_argument("--n", type=int, default=1000, help="held-out galaxies")
    parser.add_argument("--n-train", type=int, default=3000, help="PCA and VAE training set")
    parser.add_argument("--vae-epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = simulation_config(args.weights, args.vae_epochs, args.seed)
    models, stretch = simulation_encoders(config, args.n_train)
    galaxies = make_galaxies(args.n, image_size=72, random_state=2028)  # not trained on

    def prepare(images):
        return stretch.transform(images).reshape(images.shape)

    X = prepare(galaxies.images)
    latents = {name: np.asarray(model.transform(X)) for name, model in models.items()}
    answer = reobservation(models, galaxies, np.arange(args.n), latents, prepare, config)
    lines = ["| encoder | max abs Spearman (conditions) | max R^2 (conditions) | "
             + " | ".join(f"{v}: shift NN / top-1" for v in answer["minuet"]["stability"])
             + " |", "|---" * (3 + len(answer["minuet"]["stability"])) + "|"]
    for name, a in answer.items():
        cells = [f"{a['conditions']['max_abs_spearman']:.2f}",
                 f"{max(a['conditions']['r2'].values()):.2f}"]
        cells += [f"{s['shift_nn']:.2f} / {s['top1']:.2f}" for s in a["stability"].values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    minuet = answer["minuet"]
    record(
        "quality_reobservation",
        figures=answer,
        headline=(f"{args.weights}: conditions max |Spearman| "
                  f"{minuet['conditions']['max_abs_spearman']:.2f}, max R^2 "
                  f"{max(minuet['conditions']['r2'].values()):.2f}; new noise shift "
                  f"{minuet['stability']['new noise']['shift_nn']:.2f} NN, top-1 "
                  f"{minuet['stability']['new noise']['top1']:.2f} (PCA "
                  f"{answer['pca']['stability']['new noise']['top1']:.2f})"),
        target="|Spearman| < 0.1, R^2 < 0.05, shift < 0.3 NN distances, top-1 >= 0.9",
        settings={"weights": args.weights, "n": args.n, "n_train": args.n_train,
                  "vae_epochs": args.vae_epochs},
        seed=args.seed, markdown="\n".join(lines),
    )


if __name__ == "__main__":
    main()
