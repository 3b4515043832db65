"""How much does Minuet's denoising loss reward each galaxy property?

Trains the CPU-default denoiser of MinuetEncoder conditioned, instead of on its encoder's
latents, on k quantities measured directly on each (rotated, standardised) training image:

1. the r-band aperture sum (brightness),
2. the g-band minus z-band aperture sum (colour),
3. the r-band flux-weighted mean radius (size),

standardised over the batch, with the other latent slots 0. Then, on held-out galaxies, it
reports the denoising loss at fixed noise for a few diffusion times, and the linear R^2 of
log half-light radius, g-r and r magnitude from the conditioning values. Comparing k = 2
with k = 3 shows how much the loss gains from knowing the size once brightness and colour
are known, which is the gradient an encoder gets for putting size into a latent; the row
"encoder" is the estimator itself, with its learned latents.

Run (about 6 minutes on 2 cores, two trainings at a time):
    python benchmarks/screen_loss_share.py
Results in benchmarks/results/screen_loss_share/.
"""

import argparse
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch

from minuet_sk import MinuetEncoder
from minuet_sk.nn.autoencoder import DiffusionAutoencoder

from _common import record
from _data import latent_r2, load_data

TIMES = (50, 250, 500, 750, 900, 990)
APERTURE_PIXELS = 12  # radius of the measuring aperture (3.1 arcsec at 0.262"/pixel)


class MeasuredConditioning(DiffusionAutoencoder):
    """The autoencoder with its latents replaced by ``n_measured`` measured quantities."""

    n_measured = 0

    def encode(self, images):
        n, size = images.shape[0], images.shape[-1]
        axis = torch.arange(size, device=images.device) - (size - 1) / 2
        radius = torch.sqrt(axis[:, None] ** 2 + axis[None, :] ** 2)
        light = images.detach().clamp_min(0) * (radius < APERTURE_PIXELS)
        flux = light.sum((-2, -1))  # (n, C): g, r, z
        measured = torch.stack([
            flux[:, 1], flux[:, 0] - flux[:, 2],
            (light[:, 1] * radius).sum((-2, -1)) / flux[:, 1].clamp_min(1e-3),
        ], dim=1)[:, : self.n_measured]
        z = images.new_zeros(n, self.encoder.standardise.num_features)
        if self.n_measured and n > 1:
            z[:, : self.n_measured] = ((measured - measured.mean(0))
                                       / measured.std(0).clamp_min(1e-6))
        return z


class MeasuredMinuet(MinuetEncoder):
    """MinuetEncoder whose denoiser is conditioned on measured quantities (no encoder)."""

    n_measured = 0

    def _module_class(self):
        return type("Measured", (MeasuredConditioning,), {"n_measured": self.n_measured})


def _loss_at_times(module, x, weight):
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    return torch.stack([
        module.loss(x, x, torch.full((len(x),), t), noise, reduction="none").mean((1, 2, 3))
        for t in TIMES
    ], dim=1)


def run(conditioning, epochs, n_train, seed):
    torch.set_num_threads(1)
    X_train, X_test, truth_train, truth_test = load_data(n_train, 500, False, "asinh")
    if conditioning == "encoder":
        est = MinuetEncoder(random_state=seed)
    else:
        measured = type("Measured", (MeasuredMinuet,), {"n_measured": int(conditioning)})
        est = measured(random_state=seed)
    for _ in range(epochs):
        est.partial_fit(X_train)
    # the loss at each fixed time, batched as the estimator batches it (no public path)
    losses = est._predict_batches(_loss_at_times, X_test).mean(0)
    r2 = {k: round(v, 3)
          for k, v in latent_r2(est, X_train, X_test, truth_train, truth_test).items()}
    return {"conditioning": conditioning, "epochs": epochs, "score": round(est.score(X_test), 5),
            "loss_at_t": dict(zip(map(str, TIMES), np.round(losses, 5).tolist())), "r2": r2}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--n-train", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    names = ["0", "2", "3", "encoder"]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(run, names, [args.epochs] * 4, [args.n_train] * 4,
                             [args.seed] * 4))
    label = {"0": "nothing (latents all 0)", "2": "brightness, colour",
             "3": "brightness, colour, size", "encoder": "the encoder's latents"}
    lines = [
        (f"Denoiser with the CPU defaults, {args.n_train} simulated training galaxies "
         f"(asinh-stretched), {args.epochs} epochs, random_state={args.seed}; 500 held out."),
        "", "| conditioned on | " + " | ".join(f"loss t={t}" for t in TIMES)
        + " | R^2 log r | R^2 g-r | R^2 r mag |",
        "|---|" + "---|" * (len(TIMES) + 3),
    ]
    for row in rows:
        lines.append(f"| {label[row['conditioning']]} | "
                     + " | ".join(f"{v:.4f}" for v in row["loss_at_t"].values()) + " | "
                     + " | ".join(f"{v:.3f}" for v in row["r2"].values()) + " |")
    print("\n".join(lines))
    figures = {"n_train": args.n_train, "n_test": 500, "seed": args.seed, "rows": rows}
    record("screen_loss_share", figures=figures, headline=headline(figures), seed=args.seed,
           settings={"epochs": args.epochs, "n_train": args.n_train, "workers": args.workers},
           markdown="\n".join(lines))


def headline(figures):
    """How much the mean denoising loss falls when the size is known besides brightness and
    colour."""
    mean = {r["conditioning"]: sum(r["loss_at_t"].values()) / len(r["loss_at_t"])
            for r in figures["rows"]}
    return (f"knowing the size lowers the denoising loss by {100 * (1 - mean['3'] / mean['2']):.1f}% "
            f"once brightness and colour are known; the encoder's latents: "
            f"{100 * (1 - mean['encoder'] / mean['0']):.1f}% below no conditioning")


if __name__ == "__main__":
    main()
