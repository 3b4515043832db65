"""Do encoders trained on simulated galaxies organise real galaxies seen as DECaLS sees them?

The harness's real-galaxy question (``minuet_sk.evaluation.questions.real_galaxies``) with
its rendering as options. The real galaxies: the Hubble eXtreme Deep Field cutouts of
scikit-image rendered as DECaLS would see them (``load_hubble_deep_field(image_size=72,
as_survey="decals")``: the simulator's seeing, pixels and sky noise; approximate pixel scale
and band mapping, each galaxy scaled to r = 16-19), of ``--min-area`` XDF pixels or more,
without the ones whose stamp reaches beyond the picture or into its blank border
(``questions.xdf_as_decals``). By default each galaxy is rendered alone (``isolate``), at the
pixel scale and band gains that give the simulator's median size and colours
(``--source-pixel-scale 0.45 --band-gains simulator``); ``--no-isolate --source-pixel-scale
0.14 --band-gains display`` renders the picture as it is. The encoders: the harness's
(``minuet_sk.evaluation.harness.encoders``), the shipped Minuet weights ``--weights``, and
PCA-5 and a VAE fitted on ``--n-train`` simulated galaxies (``make_galaxies(n,
random_state=0)``), every image asinh-stretched as Minuet's weights are
(``_data.simulation_encoders``). For each, on the real galaxies:

- rotation shift: the median latent shift under rotations by 90 and 180 degrees and the two
  mirror images, the mean of the four, in median nearest-neighbour distances
  (``neighbors.orientation_shift``, as in the harness's orientation question);
- any-angle shift: the same galaxies turned by a random angle each (0-360 degrees, cubic
  interpolation of the rendered cutouts, the corners that come in set to empty sky):
  median latent shift in nearest-neighbour distances and re-identification top-1
  (``neighbors.reobservation_shift``); and, as its control, the shift of turning forth and
  back again by the same angles (interpolation only, no net rotation);
- neighbour agreement: the Spearman correlation between a galaxy's size, colour and
  concentration (``metrics.central_source_morphology`` of the rendered image) and the mean
  over its 5 nearest neighbours in latent space (0 for random neighbours);
- a picture: six galaxies and their five nearest neighbours for each encoder
  (``results/quality_transfer/neighbours.png``).

Targets: rotation shift < 1 (issue 26) and any-angle shift < 1 (issue 34); neighbours' size
and colour Spearman >= 0.6 (issue 26), >= 0.7 (issue 34). Run::

    python benchmarks/quality_transfer.py       # a few minutes on 2 cores
"""

import argparse
import time

import matplotlib
import numpy as np
import torch
from scipy.ndimage import rotate

from minuet_sk.evaluation.questions import real_galaxies
from minuet_sk.neighbors import latent_neighbors, reobservation_shift

from _common import record, results_dir
from _data import simulation_config, simulation_encoders

matplotlib.use("Agg")
import matplotlib.pyplot as plt

K = 5


def neighbour_figure(images, neighbours, path, n_show=6):
    from minuet_sk.plotting import rgb_composite

    names = list(neighbours)
    fig, axes = plt.subplots(n_show * len(names), K + 1,
                             figsize=(1.3 * (K + 1), 1.3 * n_show * len(names)))
    reference = images[:n_show]
    for e, name in enumerate(names):
        for r in range(n_show):
            row = axes[e * n_show + r]
            picks = [r, *neighbours[name][r][:K]]
            for ax, i in zip(row, picks):
                ax.imshow(rgb_composite(images[i][None], reference=reference)[0])
                ax.set_xticks([])
                ax.set_yticks([])
            row[0].set_ylabel(name if r == 0 else "", fontsize=9)
    fig.subplots_adjust(top=0.985, bottom=0.005, hspace=0.08, wspace=0.08)
    fig.suptitle("XDF galaxies as DECaLS sees them (first column) and their 5 nearest "
                 "neighbours", fontsize=9, y=0.997)
    fig.savefig(path, dpi=70, bbox_inches="tight")
    plt.close(fig)


def turned(flux, angles):
    """Each cutout turned by its angle (degrees), cubic interpolation, empty sky beyond."""
    out = np.empty_like(flux)
    for i, (image, angle) in enumerate(zip(flux, angles)):
        out[i] = rotate(image, angle, axes=(1, 2), reshape=False, order=3, mode="constant",
                        cval=0.0)
    return out


def any_angle(encoders, stretch, flux, latents, seed):
    """Per encoder: shift and re-identification after a random turn of each galaxy, and
    after a turn forth and back (the interpolation alone)."""
    angles = np.random.default_rng(seed).uniform(0.0, 360.0, len(flux))
    once = turned(flux, angles)
    views = {"any angle": once, "forth and back": turned(once, -angles)}
    out = {}
    for name, encoder in encoders.items():
        out[name] = {}
        for view, images in views.items():
            moved = reobservation_shift(latents[name], encoder.transform(
                stretch.transform(images).reshape(images.shape)))
            out[name][view] = {"shift_nn": round(moved["shift_nn"], 3),
                               "top1": round(moved["top1"], 3)}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--min-area", type=int, default=60,
                        help="least XDF pixels of a source (its detection segment)")
    parser.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=True,
                        help="render each galaxy alone (load_hubble_deep_field(isolate=))")
    parser.add_argument("--source-pixel-scale", type=float, default=0.45,
                        help="arcsec per XDF pixel assumed (0.45: the simulator's sizes)")
    parser.add_argument("--band-gains", choices=["simulator", "display"], default="simulator",
                        help="XDF_BAND_GAINS (the simulator's colours) or the picture's")
    parser.add_argument("--weights", default="sim-grz-72", help="Minuet's shipped weights")
    parser.add_argument("--vae-epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    config = simulation_config(args.weights, args.vae_epochs, args.seed)
    encoders, stretch = simulation_encoders(config, args.n_train)
    answer, X, latents = real_galaxies(
        encoders, stretch, config, min_area=args.min_area, isolate=args.isolate,
        source_pixel_scale=args.source_pixel_scale, colours=args.band_gains)
    figures = {name: {"rotation_shift": round(answer[name]["rotation_shift"], 3),
                      "neighbour_spearman": {key.removeprefix("neighbours' "): round(value, 3)
                                             for key, value in answer[name].items()
                                             if key.startswith("neighbours' ")}}
               for name in encoders}
    flux = stretch.inverse_transform(X).reshape(X.shape)
    for name, turn in any_angle(encoders, stretch, flux, latents, args.seed).items():
        figures[name]["any_angle"] = turn
    figures["n_galaxies"] = answer["n_galaxies"]
    figures["seconds"] = round(time.perf_counter() - start, 1)
    neighbours = {name: latent_neighbors(Z, k=K)[1] for name, Z in latents.items()}
    neighbour_figure(flux, neighbours, results_dir("quality_transfer") / "neighbours.png")
    rows = [("| encoder | rotation shift | any angle: shift / top-1 | forth and back: shift / "
             "top-1 | neighbours' size | colour | concentration |"), "|---" * 7 + "|"]
    for name in encoders:
        f = figures[name]
        rows.append(f"| {name} | {f['rotation_shift']:.2f} | "
                    + " | ".join(f"{t['shift_nn']:.2f} / {t['top1']:.2f}"
                                 for t in f["any_angle"].values()) + " | "
                    + " | ".join(f"{v:.2f}" for v in f["neighbour_spearman"].values())
                    + " |")
    markdown = (f"{len(X)} XDF galaxies rendered as DECaLS sees them\n\n" + "\n".join(rows)
                + "\n\n![neighbours](neighbours.png)\n")
    print(markdown)
    headline = "; ".join(
        f"{name}: rotation {figures[name]['rotation_shift']:.2f}, any angle "
        f"{figures[name]['any_angle']['any angle']['shift_nn']:.2f}, neighbours' size/colour "
        f"{figures[name]['neighbour_spearman']['size']:.2f}/"
        f"{figures[name]['neighbour_spearman']['colour']:.2f}" for name in encoders)
    record("quality_transfer", figures=figures, headline=headline, seed=args.seed,
           settings=vars(args), markdown=markdown,
           target="rotation and any-angle shift < 1; neighbours' size and colour Spearman "
           ">= 0.6 (issue 26), >= 0.7 (issue 34)")


if __name__ == "__main__":
    main()
