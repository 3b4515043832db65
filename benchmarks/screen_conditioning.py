"""Which conditioning for the denoiser: prepended tokens or adaptive LayerNorm?

Trains the same small diffusion autoencoder twice on analytic 16x16x3 galaxies (elliptical
Gaussians of random size, axis ratio, angle and colour), with the same steps, batches and
seed, and compares the held-out denoising loss at fixed noise and times, the R^2 of a
linear fit from the latents to log size, and the time per step.

Run: python benchmarks/screen_conditioning.py [--steps 300]
Results: benchmarks/results/screen_conditioning/ (see benchmarks/README.md).
"""

import argparse
import time

import numpy as np
import torch
from sklearn.linear_model import LinearRegression

from minuet_sk.nn.autoencoder import DiffusionAutoencoder

from _common import record


def analytic_galaxies(n, size=16, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    log_sigma = rng.uniform(np.log(0.8), np.log(4.0), n)
    q = rng.uniform(0.3, 1.0, n)
    angle = rng.uniform(0, np.pi, n)
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = c * xx + s * yy, -s * xx + c * yy
    sigma = np.exp(log_sigma)[:, None, None]
    profile = np.exp(-0.5 * (u**2 + (v / q[:, None, None]) ** 2) / sigma**2)
    colour = rng.uniform(0.3, 1.5, (n, 3))
    images = colour[:, :, None, None] * profile[:, None]
    images += 0.02 * rng.standard_normal(images.shape)
    images = (images - images.mean()) / images.std()
    return torch.tensor(images, dtype=torch.float32), log_sigma


def run(conditioning, steps, train, test, log_sigma_test, train_log_sigma):
    torch.manual_seed(0)
    model = DiffusionAutoencoder((3, 16, 16), 5, patch_size=4, width=64, encoder_depth=2,
                                 decoder_depth=2, n_heads=4, conditioning=conditioning)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(len(train), (64,), generator=g)
        x = train[idx]
        t = torch.randint(1000, (64,), generator=g)
        loss = model.loss(x, x, t, torch.randn(x.shape, generator=g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        t = torch.randint(1000, (len(test),), generator=g)
        test_loss = model.loss(test, test, t, torch.randn(test.shape, generator=g)).item()
        z_train = model.encode(train).numpy()
        z_test = model.encode(test).numpy()
    r2 = LinearRegression().fit(z_train, train_log_sigma).score(z_test, log_sigma_test)
    return {"conditioning": conditioning, "steps": steps, "seconds": round(seconds, 1),
            "test_loss": round(test_loss, 4), "r2_log_size": round(r2, 3)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, train_log_sigma = analytic_galaxies(4000, seed=0)
    test, test_log_sigma = analytic_galaxies(1000, seed=1)
    rows = [run(c, args.steps, train, test, test_log_sigma, train_log_sigma)
            for c in ("tokens", "adaln")]
    lines = ["| conditioning | steps | seconds | held-out loss | R^2 log size |", "|---|---|---|---|---|"]
    lines += [f"| {r['conditioning']} | {r['steps']} | {r['seconds']} | {r['test_loss']} | "
              f"{r['r2_log_size']} |" for r in rows]
    best = max(rows, key=lambda r: r["r2_log_size"])
    record("screen_conditioning", figures={"rows": rows}, seed=0,
           settings={"steps": args.steps, "n_train": 4000, "n_test": 1000, "threads": 1},
           headline=", ".join(f"{r['conditioning']}: loss {r['test_loss']}, R^2 log size "
                              f"{r['r2_log_size']}" for r in rows) + f"; highest R^2: {best['conditioning']}",
           markdown="\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
