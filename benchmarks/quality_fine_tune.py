"""Does fine-tuning the shipped Minuet weights on real galaxies help, and what does it cost?

The real galaxies: the Hubble eXtreme Deep Field rendered as DECaLS sees them, as
``quality_transfer.py`` renders them (each galaxy alone, at the pixel scale and band gains
that give the simulator's median size and colours; sources of ``--min-area`` XDF pixels or
more whose stamp lies wholly in the picture). The picture is split in two at x = 500:
Minuet is fine-tuned on the galaxies of the left half and measured on those of the right
half, so that no galaxy (nor a neighbour of one, in its stamp) is in both.

Fine-tuning continues training every weight of the shipped model (encoder and denoiser)
with its own loss (``set_params(warm_start=True, max_epochs=..., lr=...).fit(X_tune)``),
for each ``--epochs`` and ``--lr`` of the grid. Before and after, on the held-out half:

- ``score``: minus the denoising loss per pixel at fixed noise and times (higher: the model
  describes these galaxies better);
- rotation shift (``neighbors.orientation_shift``, in median nearest-neighbour distances);
- neighbour agreement (``neighbors.neighbor_agreement``): Spearman between a galaxy's
  size, colour and concentration (``metrics.central_source_morphology``) and its 5 latent
  neighbours' mean;

and, to see what is forgotten, ``score`` and neighbour agreement on ``--n-sim`` simulated
galaxies (``make_galaxies(n, random_state=seed + 1)``). ``--mix-simulated N`` adds N other
simulated galaxies (``random_state=seed + 2``) to the tuning set, to forget less. Run::

    python benchmarks/quality_fine_tune.py          # a few minutes on 2 cores
"""

import argparse
import itertools
import time

import numpy as np
import torch

from minuet_sk import MinuetEncoder
from minuet_sk.datasets import make_galaxies
from minuet_sk.evaluation.questions import neighbour_properties, xdf_as_decals
from minuet_sk.neighbors import neighbor_agreement, orientation_shift

from _common import record


def rendered_halves(min_area, seed):
    """(X_tune, X_test): the left and right halves' rendered galaxies."""
    images, data = xdf_as_decals(72, seed, min_area=min_area)
    left = (data["x"] < 500).to_numpy()
    return images[left], images[~left]


def measures(model, X_test, props_test, X_sim, props_sim):
    Z = model.transform(X_test)
    return {
        "score": round(model.score(X_test), 4),
        "rotation_shift": round(orientation_shift(model, X_test, Z)["mean"], 3),
        "neighbour_spearman": neighbor_agreement(Z, props_test).round(3).to_dict(),
        "sim_score": round(model.score(X_sim), 4),
        "sim_neighbour_spearman": neighbor_agreement(
            model.transform(X_sim), props_sim).round(3).to_dict(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="sim-grz-72")
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-4, 3e-4])
    parser.add_argument("--mix-simulated", type=int, nargs="+", default=[0],
                        help="simulated galaxies mixed into the tuning set (0: real only)")
    parser.add_argument("--min-area", type=int, default=60)
    parser.add_argument("--n-sim", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    X_tune, X_test = rendered_halves(args.min_area, args.seed)
    X_sim = make_galaxies(args.n_sim, image_size=72, random_state=args.seed + 1).images
    props_test, props_sim = neighbour_properties(X_test), neighbour_properties(X_sim)
    shipped = MinuetEncoder.from_pretrained(args.weights, device="cpu")
    figures = {"n_tune": len(X_tune), "n_test": len(X_test),
               "before": measures(shipped, X_test, props_test, X_sim, props_sim)}
    for epochs, lr, mix in itertools.product(args.epochs, args.lr, args.mix_simulated):
        tuned = MinuetEncoder.from_pretrained(args.weights, device="cpu").set_params(
            warm_start=True, max_epochs=epochs, lr=lr, early_stopping=False,
            random_state=args.seed)
        X_fit = X_tune
        if mix:
            simulated = make_galaxies(mix, image_size=72, random_state=args.seed + 2).images
            X_fit = np.concatenate([X_tune, simulated])
        began = time.perf_counter()
        tuned.fit(X_fit)
        name = f"epochs={epochs}, lr={lr:g}" + (f", +{mix} simulated" if mix else "")
        figures[name] = {
            **measures(tuned, X_test, props_test, X_sim, props_sim),
            "fit_seconds": round(time.perf_counter() - began, 1)}
    figures["seconds"] = round(time.perf_counter() - start, 1)
    rows = [("| model | score (XDF) | rotation shift | neighbours' size | colour | "
            "concentration | score (sim) | sim neighbours' size | colour | fit s |"),
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, f in figures.items():
        if not isinstance(f, dict):
            continue
        agree, sim = f["neighbour_spearman"], f["sim_neighbour_spearman"]
        rows.append(f"| {name} | {f['score']:.4f} | {f['rotation_shift']:.2f} | "
                    f"{agree['size']:.2f} | {agree['colour']:.2f} | {agree['concentration']:.2f}"
                    f" | {f['sim_score']:.4f} | {sim['size']:.2f} | {sim['colour']:.2f} | "
                    f"{f.get('fit_seconds', '')} |")
    markdown = (f"Minuet `{args.weights}` fine-tuned on {len(X_tune)} XDF galaxies (left half), "
                f"measured on {len(X_test)} (right half) and on {args.n_sim} simulated ones\n\n"
                + "\n".join(rows) + "\n")
    print(markdown)
    best = max((k for k in figures if k.startswith("epochs")),
               key=lambda k: figures[k]["score"])
    headline = (f"score {figures['before']['score']:.4f} -> {figures[best]['score']:.4f} "
                f"({best}); neighbours' size/colour "
                f"{figures['before']['neighbour_spearman']['size']:.2f}/"
                f"{figures['before']['neighbour_spearman']['colour']:.2f} -> "
                f"{figures[best]['neighbour_spearman']['size']:.2f}/"
                f"{figures[best]['neighbour_spearman']['colour']:.2f}")
    record("quality_fine_tune", figures=figures, headline=headline, seed=args.seed,
           settings=vars(args), markdown=markdown,
           target="issue 26: a documented fine-tuning path, measured before and after")


if __name__ == "__main__":
    main()
