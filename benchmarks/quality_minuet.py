"""Quality of MinuetEncoder after a CPU training budget (issue 4's 20-minute run).

Trains the CPU-default MinuetEncoder on simulated 72x72 grz galaxies (``make_galaxies``)
for a wall-clock budget (``partial_fit`` epochs), then on held-out galaxies reports

- the R^2 of a linear regression from the latents to log10 half-light radius (arcsec),
  g-r colour and r magnitude (target: >= 0.6 each);
- the radial power spectrum error of DDIM reconstructions per band
  (``minuet_sk.metrics.power_spectrum_error``), against PCA with as many components.

Run (about 25 minutes on 2 cores, plus the simulation the first time):
    python benchmarks/quality_minuet.py --n-train 5000 --budget 1200
``--seed N`` sets the estimator's ``random_state`` (0 by default; how much of the size the
latents keep depends on it, see ``notes/minuet.md``), ``--save-model DIR`` also saves the
fitted estimator. The report includes the eigenvalues of the
held-out latents' correlation matrix: five similar values when each latent says something
of its own, one or two large ones when the latents are near-copies.
By default the images go through ``AsinhStretch()`` first (fitted on the training images),
as in the documented pipeline ``make_pipeline(AsinhStretch(), MinuetEncoder())``, and the
power spectra of Minuet and PCA are compared in that space; ``--softening Q`` changes the
stretch, ``--stretch none`` trains on the raw fluxes, ``--no-masked`` turns off the masked
loss (the estimator's default, ``masked_loss=True``; the script computes the masks once and
passes them as ``pixel_weight``, which trains bit-identically and spares ``partial_fit``
segmenting the images every epoch). ``--analytic`` uses the analytic galaxies of
benchmarks/_data.py instead of the simulator (a quick check). Results in
benchmarks/results/quality_minuet/ (a run's variant and seed are in its runs.jsonl line), with
the reconstructions of the latest run in ``reconstructions.png``.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from minuet_sk import AsinhStretch, EigengalaxyPCA, MinuetEncoder, metrics

# the masked loss's own weights, made once (partial_fit would segment at every epoch)
from minuet_sk._training.masks import mask_loss_weights

from _common import record, results_dir
from _data import latent_r2, load_data


def write_figure(truth, minuet, pca, path, n=8):
    """Truth / Minuet / PCA reconstructions (r band, each galaxy on its truth's scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = (("truth", truth), ("Minuet", minuet), ("PCA", pca))
    fig, axes = plt.subplots(3, n, figsize=(1.4 * n, 4.4))
    for j in range(n):
        low, high = np.percentile(truth[j, 1], [1, 99.5])
        for i, (_, images) in enumerate(rows):
            axes[i, j].imshow(np.arcsinh((images[j, 1] - low) / (high - low) * 10),
                              cmap="gray", vmin=0, vmax=np.arcsinh(10))
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
    for i, (name, _) in enumerate(rows):
        axes[i, 0].set_ylabel(name)
    fig.suptitle("held-out galaxies, r band (asinh display)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=1200.0, help="training seconds")
    parser.add_argument("--n-recon", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--analytic", action="store_true")
    parser.add_argument("--stretch", choices=["asinh", "none"], default="asinh")
    parser.add_argument("--softening", type=float, default=AsinhStretch().softening,
                        help="AsinhStretch's softening Q (with --stretch asinh)")
    parser.add_argument("--masked", action=argparse.BooleanOptionalAction,
                        default=MinuetEncoder().masked_loss,
                        help="the masked loss, with the masks computed once before training")
    parser.add_argument("--params", default="{}", help="MinuetEncoder parameters, JSON")
    parser.add_argument("--tag", default="", help="a name for this run in runs.jsonl")
    parser.add_argument("--track-r2", action="store_true",
                        help="also record the held-out R^2 after every epoch")
    parser.add_argument("--seed", type=int, default=0, help="the estimator's random_state")
    parser.add_argument("--save-model", type=Path, metavar="DIR",
                        help="also save the fitted estimator in DIR")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X_train, X_test, truth_train, truth_test = load_data(args.n_train, args.n_test,
                                                         args.analytic, args.stretch,
                                                         args.softening)
    # the masks are computed here, once, and passed as pixel_weight (partial_fit with
    # masked_loss=True would segment the images again at every epoch)
    est = MinuetEncoder(random_state=args.seed, **{**json.loads(args.params),
                                                   "masked_loss": False})
    weight = None
    start, track, paused = time.perf_counter(), [], 0.0  # the masks count as training time
    if args.masked:
        weight = np.ascontiguousarray(np.broadcast_to(mask_loss_weights(X_train),
                                                      X_train.shape))
    while time.perf_counter() - start - paused < args.budget:
        est.partial_fit(X_train, pixel_weight=weight)
        if args.track_r2:  # not counted in the training budget
            tick = time.perf_counter()
            r2_epoch = latent_r2(est, X_train, X_test, truth_train, truth_test)
            track.append({"epoch": est.n_iter_, "train_loss": est.history_[-1]["train_loss"],
                          **{k: round(v, 3) for k, v in r2_epoch.items()}})
            paused += time.perf_counter() - tick
    train_seconds = time.perf_counter() - start - paused
    r2 = latent_r2(est, X_train, X_test, truth_train, truth_test)
    # eigenvalues of the held-out latents' correlation matrix: n_components similar values
    # when every latent says something of its own, a few large ones when latents are copies
    latent_eigenvalues = np.linalg.eigvalsh(np.corrcoef(est.transform(X_test).T))[::-1]

    truth_images = X_test[: args.n_recon]
    minuet_recon = est.reconstruct(truth_images)
    pca = EigengalaxyPCA(est.n_components, image_shape=X_train.shape[1:], random_state=0)
    pca.fit(X_train)
    pca_recon = pca.inverse_transform(pca.transform(truth_images)).reshape(truth_images.shape)
    spectra = {name: metrics.power_spectrum_error(truth_images, recon)
               for name, recon in (("minuet", minuet_recon), ("pca", pca_recon))}
    summary = {name: float(np.nanmean(np.abs(err))) for name, err in spectra.items()}
    result = {
        "data": "analytic" if args.analytic else "make_galaxies",
        "stretch": args.stretch, "softening": args.softening, "masked": args.masked,
        "n_train": args.n_train, "n_test": args.n_test, "threads": args.threads,
        "train_seconds": round(train_seconds, 1), "epochs": est.n_iter_,
        "final_train_loss": est.history_[-1]["train_loss"],
        "r2": {k: round(v, 3) for k, v in r2.items()},
        "latent_correlation_eigenvalues": np.round(latent_eigenvalues, 3).tolist(),
        "power_spectrum_mean_abs_error": {k: round(v, 3) for k, v in summary.items()},
        "power_spectrum_error_per_band": {k: np.round(v, 3).tolist()
                                          for k, v in spectra.items()},
        "params": {**est.get_params(), "masked_loss": args.masked},
        "r2_per_epoch": track,
    }
    if args.save_model:
        est.save(args.save_model)
    write_figure(truth_images, minuet_recon, pca_recon,
                 results_dir("quality_minuet") / "reconstructions.png")
    lines = [
        (f"MinuetEncoder defaults{' (masked loss)' if args.masked else ' but masked_loss=False'}, "
         f"{result['data']}, stretch {args.stretch}"
         f"{f' (softening {args.softening:g})' if args.stretch == 'asinh' else ''}, "
         f"{args.n_train} training galaxies, "
        f"{train_seconds:.0f} s ({est.n_iter_} epochs) on {args.threads} threads, "
        f"random_state={args.seed}."), "",
        "| quantity | value |", "|---|---|",
        *(f"| R^2 {k} (held out) | {v:.3f} |" for k, v in r2.items()),
        *(f"| mean abs power-spectrum error, {k} | {v:.3f} |" for k, v in summary.items()),
        *(f"| power-spectrum error at 6 scales (large to small, mean of bands), {k} | "
          + ", ".join(f"{e:+.2f}" for e in np.nanmean(err, 0)[::6]) + " |"
          for k, err in spectra.items()),
        "| eigenvalues of the latents' correlation matrix | "
        + ", ".join(f"{e:.2f}" for e in latent_eigenvalues) + " |",
    ]
    print("\n".join(lines))
    record("quality_minuet", figures=result, headline=headline(result), seed=args.seed,
           target="linear R^2 >= 0.6 each (issue 4); >= 0.8 (issue 24)",
           settings={"n_train": args.n_train, "n_test": args.n_test, "budget_s": args.budget,
                     "threads": args.threads, "stretch": args.stretch,
                     "softening": args.softening, "masked": args.masked,
                     "params": json.loads(args.params), "tag": args.tag,
                     "analytic": args.analytic},
           markdown="\n".join(lines))


def headline(result):
    """Held-out linear R^2 per property, and the power-spectrum error against PCA's."""
    r2 = ", ".join(f"{k} {v:.2f}" for k, v in result["r2"].items())
    text = f"{result['epochs']} epochs in {result['train_seconds']:.0f} s: R^2 {r2}"
    spectrum = result.get("power_spectrum_mean_abs_error")
    if spectrum:
        text += f"; |P(k) error| Minuet {spectrum['minuet']:.2f} vs PCA {spectrum['pca']:.2f}"
    return text


if __name__ == "__main__":
    main()
