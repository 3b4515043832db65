"""Would latents averaged over the canonical frame's mirror images ignore the night better?

Minuet's canonical frame (``encoder_frame="canonical"``) turns each cutout's major axis onto
x and then mirrors it so that its light is skewed towards +x and +y. Where a galaxy is
nearly symmetric, the sign of that skew is set by the noise, so the same galaxy observed
again may be encoded as its mirror image. This screen measures, for shipped weights
(``--weights``), on the held-out galaxies of ``quality_reobservation.py``
(``make_galaxies(1000, random_state=2028)``, re-observed with the same seeds, the harness's
``REOBSERVATIONS``):

- the frame: how often the mirror parity of the canonical frame, and its angle (beyond
  10 degrees), differ between a galaxy and the same galaxy turned by a random angle and
  observed again, and how often each kind fails re-identification;
- test-time averages of the latents over 1 (as shipped), 2 (the minor axis mirrored) and 4
  (both axes) mirror images of the canonical frame: linear R^2 of the physical factors
  (5-fold), and per re-observation the median latent shift (nearest-neighbour distances)
  and re-identification top-1 (``neighbors.reobservation_shift``). Each mirror costs one
  more encoder pass per cutout.

No weights are trained: an average that helps here is a candidate for training (an encoder
that sees the average), not a finished recipe. Run (about 5 minutes on one thread)::

    python benchmarks/screen_frame_average.py --weights sim-grz-72-v4
"""

import argparse

import numpy as np
import torch
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score

from minuet_sk import MinuetEncoder
from minuet_sk.datasets import make_galaxies, reobserve
from minuet_sk.evaluation.questions import REOBSERVATIONS, _factor_table
from minuet_sk.neighbors import reobservation_shift

from _common import record
from _data import MIRRORS, mirror_mean


def averaged_encoder(mirrors):
    """``fn(module, x, weight)`` for ``_predict_batches``: :func:`mirror_mean` over
    ``mirrors``."""
    return lambda module, x, weight: mirror_mean(module, x, mirrors)


def frame_agreement(encoder, galaxies, turned, ok):
    """How often the canonical frame of a turned, re-observed galaxy is not the turned frame
    of the original (mirror parity, angle beyond 10 degrees), and the failure rates."""
    def frames(images):
        return encoder._predict_batches(lambda m, x, w: m.frame_matrices(x), images)

    first, again = frames(galaxies.images), frames(turned.images)
    parity = np.sign(np.linalg.det(first[:, :, :2])) == np.sign(np.linalg.det(again[:, :, :2]))
    turn = np.radians((turned.truth["position_angle"] - galaxies.truth["position_angle"])
                      .to_numpy())
    relative = (np.arctan2(again[:, 1, 0], again[:, 0, 0])
                - np.arctan2(first[:, 1, 0], first[:, 0, 0]) - turn)
    angle_ok = np.abs(np.angle(np.exp(2j * relative)) / 2) < np.radians(10)
    cells = {}
    for same_parity in (True, False):
        for same_angle in (True, False):
            m = (parity == same_parity) & (angle_ok == same_angle)
            cells[f"parity {'same' if same_parity else 'mirrored'}, angle "
                  f"{'within' if same_angle else 'beyond'} 10 deg"] = {
                "fraction": round(float(m.mean()), 3),
                "not re-identified": round(float((~ok[m]).mean()), 3) if m.any() else None}
    return {"parity_differs": round(float((~parity).mean()), 3),
            "angle_beyond_10_deg": round(float((~angle_ok).mean()), 3), "cells": cells}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="sim-grz-72-v4")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    encoder = MinuetEncoder.from_pretrained(args.weights, device="cpu")
    galaxies = make_galaxies(args.n, image_size=72, random_state=2028)  # as quality_reobservation
    rows = np.arange(args.n)
    again = {name: reobserve(galaxies, rows=rows, random_state=args.seed + k, **kwargs)
             for k, (name, kwargs) in enumerate(REOBSERVATIONS.items())}
    factors = _factor_table(galaxies.truth)
    figures = {}
    for k, mirrors in MIRRORS.items():
        fn = averaged_encoder(mirrors)
        Z = encoder._predict_batches(fn, galaxies.images).astype(np.float64)
        r2 = {f: round(float(cross_val_score(LinearRegression(), Z, factors[f], cv=5,
                                             scoring="r2").mean()), 3) for f in factors}
        stability, latents_again = {}, {}
        for name, observed in again.items():
            latents_again[name] = encoder._predict_batches(fn, observed.images)
            moved = reobservation_shift(Z, latents_again[name])
            stability[name] = {key: round(value, 3) for key, value in moved.items()}
        figures[f"{k} mirror{'s' if k > 1 else ''}"] = {"r2": r2, "stability": stability}
        if k == 1:  # as shipped: which galaxies turned by any angle find themselves
            turned = latents_again["any angle"]
            distance = (((turned[:, None] - Z[None]) / Z.std(axis=0)) ** 2).sum(-1)
            figures["frame"] = frame_agreement(encoder, galaxies, again["any angle"],
                                               distance.argmin(axis=1) == rows)
    names = list(REOBSERVATIONS)
    lines = ["| latents | " + " | ".join(f"{n}: shift / top-1" for n in names)
             + " | R^2 bulge, q |", "|---" * (len(names) + 2) + "|"]
    for label, f in figures.items():
        if label == "frame":
            continue
        lines.append(f"| {label} | " + " | ".join(
            f"{f['stability'][n]['shift_nn']:.2f} / {f['stability'][n]['top1']:.3f}"
            for n in names) + f" | {f['r2']['bulge_fraction']:.2f}, {f['r2']['axis_ratio']:.2f} |")
    frame = figures["frame"]
    summary = (f"Canonical frame of the galaxy turned by any angle and observed again: mirror "
               f"parity differs for {frame['parity_differs']:.0%}, angle beyond 10 degrees for "
               f"{frame['angle_beyond_10_deg']:.0%}.")
    lines += ["", summary, "", "| frame | fraction | not re-identified |", "|---|---|---|"]
    lines += [f"| {cell} | {v['fraction']:.3f} | {v['not re-identified']} |"
              for cell, v in frame["cells"].items()]
    markdown = "\n".join(lines)
    print(markdown)
    best = figures["4 mirrors"]["stability"]
    record("screen_frame_average", figures=figures, markdown=markdown, seed=args.seed,
           settings=vars(args),
           headline=(f"{args.weights}: 4-mirror average top-1 "
                     f"{min(s['top1'] for s in best.values()):.2f}-"
                     f"{max(s['top1'] for s in best.values()):.2f} (any angle "
                     f"{best['any angle']['top1']:.2f}, as shipped "
                     f"{figures['1 mirror']['stability']['any angle']['top1']:.2f}); mirror "
                     f"parity differs for {frame['parity_differs']:.0%} of turned galaxies"),
           target="top-1 >= 0.9 and shift < 0.3 NN distances for every re-observation")


if __name__ == "__main__":
    main()
