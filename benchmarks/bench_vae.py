"""VAEEncoder: training images/s, transform galaxies/s, held-out reconstruction MSE vs PCA.

Usage: python benchmarks/bench_vae.py [--n 2000] [--n-test 500] [--size 32] [--epochs 15]
On simulated galaxies (make_galaxies); results in benchmarks/results/bench_vae/.
Both models see the same images; PCA is EigengalaxyPCA at the same n_components.
"""

import argparse
import json
import time

import numpy as np
import pandas as pd
import torch

from minuet_sk import EigengalaxyPCA, VAEEncoder
from minuet_sk.datasets import make_galaxies
from minuet_sk.plotting import correlation_table

from _common import record


def _images(n, size, seed):
    data = make_galaxies(n, image_size=size, random_state=seed)
    return data.images, data.target, "make_galaxies"


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="training images")
    parser.add_argument("--n-test", type=int, default=500, help="held-out images")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--channels", default="16,32,64")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    X, truth, source = _images(args.n + args.n_test, args.size, args.seed)
    X_train, X_test = X[: args.n], X[args.n :]
    channels = tuple(int(c) for c in args.channels.split(","))
    result = {
        "torch_threads": args.threads, "device": "cpu", "n_train": args.n,
        "n_test": args.n_test, "image_shape": list(X.shape[1:]), "data": source,
        "epochs": args.epochs, "channels": list(channels), "batch_size": args.batch_size,
        "lr": args.lr,
    }
    for k in (2, 5):
        vae = VAEEncoder(
            k, image_shape=X.shape[1:], channels=channels, max_epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, early_stopping=False, device="cpu",
            random_state=args.seed,
        )
        _, fit_s = _time(lambda vae=vae: vae.fit(X_train))
        vae.transform(X_test[:8])  # warm-up: the first call allocates
        Z, transform_s = _time(lambda vae=vae: vae.transform(X_test))
        vae_recon = vae.inverse_transform(Z)
        pca = EigengalaxyPCA(k, image_shape=X.shape[1:], random_state=args.seed).fit(X_train)
        pca_recon = pca.inverse_transform(pca.transform(X_test))
        flat = X_test.reshape(len(X_test), -1)
        result[f"n_components={k}"] = {
            "vae_fit_seconds": round(fit_s, 2),
            "vae_train_images_per_s": round(
                float(np.median([h["images_per_s"] for h in vae.history_])), 1
            ),
            "vae_transform_galaxies_per_s": round(len(X_test) / transform_s, 1),
            "vae_heldout_mse": float(np.mean((vae_recon - flat) ** 2)),
            "pca_heldout_mse": float(np.mean((pca_recon - flat) ** 2)),
            "vae_heldout_elbo_per_image": round(vae.score(X_test), 2),
            "vae_final_train_loss": round(vae.history_[-1]["train_loss"], 4),
            "vae_final_valid_loss": round(vae.history_[-1]["valid_loss"], 4),
        }
        if truth is not None:
            latents = pd.DataFrame(Z, columns=vae.get_feature_names_out())
            table = correlation_table(latents, truth.iloc[args.n :])
            result[f"n_components={k}"]["spearman_latent_vs_truth"] = (
                table["spearman"].round(3).to_dict(orient="index")
            )
        print(k, json.dumps(result[f"n_components={k}"]), flush=True)
    five = result["n_components=5"]
    record("bench_vae", figures=result, markdown=_markdown(result), seed=args.seed, argv=(
               None if argv is None else ["bench_vae.py", *argv]),
           settings={k: result[k] for k in ("n_train", "n_test", "image_shape", "epochs",
                                            "channels", "batch_size", "lr", "torch_threads")},
           headline=f"5 latents: train {five['vae_train_images_per_s']} images/s, transform "
                    f"{five['vae_transform_galaxies_per_s']}/s, held-out MSE "
                    f"{five['vae_heldout_mse']:.3g} (PCA-5 {five['pca_heldout_mse']:.3g})")


def _markdown(result):
    lines = [
        "# VAEEncoder benchmark",
        "",
        (f"Data: {result['data']}; {result['n_train']} training / {result['n_test']} held-out "
        f"images of shape {tuple(result['image_shape'])}; {result['epochs']} epochs of batch "
        f"{result['batch_size']} at lr {result['lr']}, "
        f"channels {tuple(result['channels'])}, CPU with {result['torch_threads']} torch "
        f"threads."),
        "",
        ("| n_components | VAE train images/s | VAE transform galaxies/s | VAE held-out MSE "
        "| PCA held-out MSE | VAE held-out ELBO/image |"),
        "|---|---|---|---|---|---|",
    ]
    for k in (2, 5):
        r = result[f"n_components={k}"]
        lines.append(
            f"| {k} | {r['vae_train_images_per_s']} | {r['vae_transform_galaxies_per_s']} "
            f"| {r['vae_heldout_mse']:.4g} | {r['pca_heldout_mse']:.4g} "
            f"| {r['vae_heldout_elbo_per_image']} |"
        )
    corr = result["n_components=2"].get("spearman_latent_vs_truth")
    if corr:
        props = list(next(iter(corr.values())))
        caption = "Spearman correlation of the n_components=2 latents (held-out) with the truth:"
        lines += ["", caption, "", "| latent | " + " | ".join(props) + " |",
                  "|---" * (len(props) + 1) + "|"]
        lines += [f"| {z} | " + " | ".join(f"{row[p]:.2f}" for p in props) + " |"
                  for z, row in corr.items()]
    lines += [
        "",
        (
            "MSE is per pixel in the input units, on held-out images. PCA is fit in closed "
            "form; the VAE gets a fixed number of epochs on a CPU shared with other jobs, "
            "so its throughput is a lower bound and its MSE that of a short training run."
        ),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
