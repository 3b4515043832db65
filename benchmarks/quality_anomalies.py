"""Which encoder's own score ranks mergers and spoilt cutouts above ordinary galaxies?

Each encoder scores images with its ``score_samples`` (higher: more typical): Minuet (the
shipped ``--weights``) by the brightest misfit of its reconstruction from the latents alone,
PCA-5 by the probabilistic-PCA likelihood, the VAE by its ELBO: the harness's encoders
(``minuet_sk.evaluation.harness.encoders``), PCA and the VAE fitted on ``--n-train`` simulated
galaxies (``make_galaxies(n, random_state=0)``; the VAE for ``--vae-epochs`` epochs), every
image asinh-stretched as Minuet's weights are (``_data.simulation_encoders``). On ``--n-test``
other galaxies (``random_state=1``) the script reports the ROC AUC of minus the score for:

- ``merger``: the simulator's mergers (``truth["is_merger"]``) against the other galaxies;
- ``bright_neighbour``: a copy of each of the first half of the non-mergers with a star of r
  = 15-16 added 8-20 pixels from the centre (the simulator's own PSF), against the other half;
- ``nan_block``: a copy with a 12 x 12 block of missing pixels (NaN) at a random place within
  16 pixels of the centre, against the other half. Every encoder leaves missing pixels out of
  its score, so this asks whether what is left looks unusual (it should not: AUC near 0.5
  says the score is not fooled by missing data).

Each AUC is also given within r-magnitude terciles (the mean of the three), since a
per-pixel score favours faint galaxies. Run::

    python benchmarks/quality_anomalies.py          # about 4 minutes on 2 cores
"""

import argparse
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from minuet_sk.datasets import make_galaxies

from _common import record
from _data import simulation_config, simulation_encoders

PIXEL_SCALE = 0.262


def add_star(image, rng, conditions):
    """``image`` with a star of r = 15-16 drawn 8-20 pixels from the centre in its PSF."""
    import pandas as pd

    # the simulator's own PSF of this galaxy (its truth's psf_* columns), as it draws them
    from minuet_sk.datasets._render import psf_profile

    radius, angle = rng.uniform(8, 20), rng.uniform(0, 2 * np.pi)
    offset = (radius * np.cos(angle), radius * np.sin(angle))
    mag_r, colours = rng.uniform(15, 16), {"g": 0.6, "r": 0.0, "z": -0.4}
    out = image.copy()
    size = image.shape[-1]
    row = pd.Series(conditions)
    for b, band in enumerate("grz"):
        flux = 10 ** (-0.4 * (mag_r + colours[band] - 22.5))
        star = psf_profile(row, band).withFlux(flux)
        out[b] += star.drawImage(nx=size, ny=size, scale=PIXEL_SCALE, offset=offset).array
    return out


def nan_block(image, rng, side=12):
    out = image.copy()
    size = image.shape[-1]
    centre = size // 2 + rng.integers(-16, 17, 2)
    y0, x0 = np.clip(centre - side // 2, 0, size - side)
    out[:, y0 : y0 + side, x0 : x0 + side] = np.nan
    return out


def aucs(score, positive, negative, mag):
    """AUC of ``-score`` for positives against negatives, overall and within r terciles."""
    labels = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    minus = -np.r_[score[positive], score[negative]]
    mags = np.r_[mag[positive], mag[negative]]
    edges = np.quantile(mags, [1 / 3, 2 / 3])
    bins = np.digitize(mags, edges)
    within = [roc_auc_score(labels[bins == k], minus[bins == k]) for k in range(3)
              if len(set(labels[bins == k])) == 2]
    return {"auc": round(float(roc_auc_score(labels, minus)), 3),
            "auc_within_magnitude": round(float(np.mean(within)), 3)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--weights", default="sim-grz-72", help="Minuet's shipped weights")
    parser.add_argument("--vae-epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    test = make_galaxies(args.n_test, random_state=1)
    truth = test.truth
    mag = truth["mag_r"].to_numpy()
    merger = np.flatnonzero(truth["is_merger"].to_numpy())
    ordinary = np.flatnonzero(~truth["is_merger"].to_numpy())
    spoilt, clean = ordinary[: len(ordinary) // 2], ordinary[len(ordinary) // 2:]
    columns = [c for c in truth.columns if c.startswith(("psf_", "seeing"))]
    starred = np.stack([add_star(test.images[i], rng, truth.loc[i, columns].to_dict())
                        for i in spoilt])
    holed = np.stack([nan_block(test.images[i], rng) for i in spoilt])
    images = np.concatenate([test.images, starred, holed]).astype(np.float32)
    n = len(test.images)
    star_rows = np.arange(n, n + len(spoilt))
    hole_rows = np.arange(n + len(spoilt), n + 2 * len(spoilt))
    mags = np.r_[mag, mag[spoilt], mag[spoilt]]

    models, stretch = simulation_encoders(
        simulation_config(args.weights, args.vae_epochs, args.seed), args.n_train)
    X = stretch.transform(images).reshape(images.shape)
    figures, seconds = {}, {}
    for name, model in models.items():
        t0 = time.perf_counter()
        score = np.asarray(model.score_samples(X), dtype=np.float64)
        seconds[name] = round(time.perf_counter() - t0, 1)
        figures[name] = {
            "merger": aucs(score, merger, ordinary, mags),
            "bright_neighbour": aucs(score, star_rows, clean, mags),
            "nan_block": aucs(score, hole_rows, clean, mags),
        }
    figures["score_seconds"] = seconds
    figures["n"] = {"mergers": len(merger), "ordinary": len(ordinary), "spoilt": len(spoilt)}
    figures["total_seconds"] = round(time.perf_counter() - start, 1)
    rows = ["| encoder | merger | bright neighbour | NaN block |", "|---|---|---|---|"]
    for name in models:
        cells = [f"{figures[name][k]['auc']:.2f} ({figures[name][k]['auc_within_magnitude']:.2f})"
                 for k in ("merger", "bright_neighbour", "nan_block")]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    markdown = ("ROC AUC of minus `score_samples` (within r-magnitude terciles in brackets)\n\n"
                + "\n".join(rows) + "\n")
    print(markdown)
    headline = "AUC merger / bright neighbour / NaN block: " + "; ".join(
        f"{name} " + "/".join(f"{figures[name][k]['auc']:.2f}"
                              for k in ("merger", "bright_neighbour", "nan_block"))
        for name in models)
    record("quality_anomalies", figures=figures, headline=headline, seed=args.seed,
           settings=vars(args), markdown=markdown,
           target="issue 26: report each encoder's AUC for mergers and spoilt cutouts")


if __name__ == "__main__":
    main()
