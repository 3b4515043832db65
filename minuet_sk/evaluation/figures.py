"""The benchmark's figures, drawn from the artifacts of a run as PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from minuet_sk.evaluation.config import TARGETS

__all__ = ["rgb_composite", "write_figures"]


def rgb_composite(images, *, percentile=99.5):
    """Display RGB of grz images: z -> red, r -> green, g -> blue, shared scaling.

    Parameters
    ----------
    images : ndarray of shape (n, 3, H, W)
        Flux or asinh-stretched images, bands in g, r, z order.
    percentile : float, default=99.5
        Pixel percentile (over all images) mapped to full brightness.

    Returns
    -------
    ndarray of shape (n, H, W, 3) in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> rgb_composite(np.ones((2, 3, 4, 4))).shape
    (2, 4, 4, 3)
    """
    images = np.nan_to_num(np.asarray(images, dtype=np.float64))
    top = np.percentile(images, percentile) or 1.0
    return np.clip(images[:, ::-1].transpose(0, 2, 3, 1) / top, 0, 1)


def _image_grid(rows, row_labels, col_labels, title):
    import matplotlib.pyplot as plt

    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.3 * n_cols, 1.3 * n_rows + 0.4),
                             squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(row):
                ax.imshow(row[j], origin="lower")
            else:
                ax.axis("off")
            if i == 0 and j < len(col_labels):
                ax.set_title(col_labels[j], fontsize=7)
        axes[i, 0].set_ylabel(row_labels[i], fontsize=7)
    fig.suptitle(title, fontsize=9)
    return fig


def _reconstruction_figure(artifacts, n_show=6):
    X = artifacts["X_test"][:n_show]
    figs = artifacts["figures"]
    columns = {"truth": X}
    for name in figs:
        columns[name] = figs[name]["recon"][:n_show]
    samples = figs.get("minuet", {}).get("samples")
    if samples is not None:
        for s in range(samples.shape[1]):
            columns[f"minuet sample {s + 1}"] = samples[:n_show, s]
    scale = np.percentile(np.nan_to_num(X), 99.5) or 1.0
    rgb = {k: np.clip(np.nan_to_num(v[:, ::-1].transpose(0, 2, 3, 1)) / scale, 0, 1)
           for k, v in columns.items()}
    rows = [[rgb[k][i] for k in columns] for i in range(len(X))]
    z = artifacts["y_test"]["redshift"].to_numpy()[:n_show]
    return _image_grid(rows, [f"z={v:.2f}" for v in z], list(columns),
                       "Held-out galaxies and their reconstructions (columns: encoder; "
                       "Minuet: DDIM from the latents, then posterior samples)")


def _power_spectrum_figure(artifacts):
    import matplotlib.pyplot as plt

    from minuet_sk.metrics import radial_power_spectrum

    X = artifacts["X_test"]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    truth = np.nanmean(radial_power_spectrum(X), axis=0)
    for b, ax in enumerate(axes):
        k = np.arange(truth.shape[-1])
        ax.loglog(k[1:], truth[b, 1:], "k-", lw=2, label="truth")
        for name, figs in artifacts["figures"].items():
            ps = np.nanmean(radial_power_spectrum(figs["recon"]), axis=0)
            ax.loglog(k[1:], ps[b, 1:], label=name)
        ax.set_title(f"{'grz'[b]} band")
        ax.set_xlabel("spatial frequency bin")
    axes[0].set_ylabel("azimuthal mean power")
    axes[0].legend(fontsize=8)
    fig.suptitle("Radial power spectra of reconstructions vs truth (held-out galaxies)")
    return fig


def _corner_figure(Z, colour, title):
    import matplotlib.pyplot as plt

    k = Z.shape[1]
    # robust limits: a few outlying galaxies must not squash the rest into a corner
    low, high = np.percentile(Z, [1, 99], axis=0)
    pad = 0.05 * (high - low)
    low, high = low - pad, high + pad
    fig, axes = plt.subplots(k, k, figsize=(1.7 * k, 1.7 * k))
    for i in range(k):
        for j in range(k):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j > i:
                ax.axis("off")
            elif i == j:
                ax.hist(Z[:, i], bins=30, range=(low[i], high[i]), color="0.5")
            else:
                sc = ax.scatter(Z[:, j], Z[:, i], c=colour, s=3, cmap="viridis")
                ax.set_xlim(low[j], high[j])
                ax.set_ylim(low[i], high[i])
            if i == k - 1:
                ax.set_xlabel(f"latent {j}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"latent {i}", fontsize=8)
    if k > 1:
        fig.colorbar(sc, ax=axes, shrink=0.6, label="redshift")
    fig.suptitle(title)
    return fig


def _posterior_figure(posterior, y_test, n_show=4):
    import matplotlib.pyplot as plt

    names = list(posterior.names)
    fig, axes = plt.subplots(n_show, len(names), figsize=(3.2 * len(names), 1.8 * n_show),
                             squeeze=False)
    for i in range(n_show):
        for j, name in enumerate(names):
            ax = axes[i, j]
            ax.hist(posterior.samples[i, :, j], bins=40, color="tab:blue", alpha=0.7)
            ax.axvline(y_test[name].iloc[i], color="k", lw=2, label="truth")
            low, high = posterior.interval(0.68)
            ax.axvspan(low[i, j], high[i, j], color="tab:orange", alpha=0.2, label="68%")
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name)
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("Posteriors from the flow on Minuet latents (held-out galaxies; black: truth)")
    return fig


def _roc_figure(artifacts):
    import matplotlib.pyplot as plt

    tasks = sorted({t for curves in artifacts["roc"].values() for t in curves})
    fig, axes = plt.subplots(1, len(tasks), figsize=(2.6 * len(tasks), 2.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for name, curves in artifacts["roc"].items():
            if task in curves:
                fpr, tpr, auc = curves[task]
                ax.plot(fpr, tpr, label=f"{name} {auc:.2f}")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("false positive rate", fontsize=7)
        ax.legend(fontsize=6, loc="lower right")
    axes[0, 0].set_ylabel("true positive rate", fontsize=7)
    fig.suptitle("Galaxy Zoo probes: ROC of a logistic regression on the latents "
                 "(out-of-fold; legend: AUC)")
    return fig


def _neighbour_figure(artifacts, name, n_query=4, k=5):
    from minuet_sk.neighbors import latent_neighbors

    Z = artifacts["latents"][name]
    _, idx = latent_neighbors(Z, k=k)
    X = artifacts["X_test"]
    rgb = rgb_composite(X)
    rows = [[rgb[q]] + [rgb[j] for j in idx[q]] for q in range(n_query)]
    return _image_grid(rows, [f"query {q}" for q in range(n_query)],
                       ["query"] + [f"neighbour {i + 1}" for i in range(k)],
                       f"Nearest neighbours in {name} latent space")


def _traversal_figure(artifacts, name="minuet", n_values=7):
    from minuet_sk.plotting import latent_traversal

    encoder = artifacts["encoders"][name]
    X = artifacts["X_test"][:1]
    Z = artifacts["latents"][name]
    rows, labels = [], []
    for c in range(Z.shape[1]):
        values = np.quantile(Z[:, c], np.linspace(0.05, 0.95, n_values))
        rows.append(list(rgb_composite(latent_traversal(encoder, X, c, values))))
        labels.append(f"latent {c}")
    return _image_grid(rows, labels, [f"q{q:.2f}" for q in np.linspace(0.05, 0.95, n_values)],
                       f"{name} latent traversals (each row varies one latent from its 5% "
                       "to 95% quantile)")




def write_figures(artifacts, out_dir):
    """Draw the benchmark's figures as PNG files in ``out_dir/figures``.

    Parameters
    ----------
    artifacts : dict
        As returned by :func:`minuet_sk.evaluation.run_benchmark`.
    out_dir : str or Path

    Returns
    -------
    list of Path
        The files written, in report order.

    Examples
    --------
    >>> from minuet_sk.evaluation import run_benchmark
    >>> results, artifacts = run_benchmark("tiny", out_dir="bench")  # doctest: +SKIP
    >>> [p.name for p in write_figures(artifacts, "bench")][0]  # doctest: +SKIP
    '1_reconstructions.png'
    """
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    figures = [
        ("1_reconstructions", lambda: _reconstruction_figure(artifacts)),
        ("2_power_spectra", lambda: _power_spectrum_figure(artifacts)),
        ("3_latents_by_redshift", lambda: _corner_figure(
            artifacts["latents"]["minuet"], artifacts["y_test"]["redshift"],
            "Minuet latents coloured by redshift (held-out galaxies)")),
        ("4_posteriors", lambda: _posterior_figure(
            artifacts["posteriors"]["minuet"], artifacts["y_test"][list(TARGETS)])),
    ]
    if any(artifacts.get("roc", {}).values()):
        figures.append(("4b_probe_roc", lambda: _roc_figure(artifacts)))
    figures += [(f"5_neighbours_{name}", lambda name=name: _neighbour_figure(artifacts, name))
                for name in artifacts["latents"]]
    figures.append(("6_latent_traversals", lambda: _traversal_figure(artifacts)))
    paths = []
    for stem, make in figures:
        fig = make()
        path = folder / f"{stem}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight")
        matplotlib.pyplot.close(fig)
        paths.append(path)
    return paths
