"""The benchmark's figures, drawn from the artifacts of a run with
:mod:`minuet_sk.plotting` and written as PNG files."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from minuet_sk import plotting
from minuet_sk.evaluation.config import TARGETS

__all__ = ["write_figures"]


def _reconstructions(artifacts, n_show=6):
    figs = artifacts["figures"]
    columns = {name: figs[name]["recon"] for name in figs}
    samples = figs.get("minuet", {}).get("samples")
    if samples is not None:
        columns.update({f"minuet sample {s + 1}": samples[:, s] for s in range(samples.shape[1])})
    z = artifacts["y_test"]["redshift"].to_numpy()[:n_show]
    return plotting.plot_reconstructions(
        artifacts["X_test"], columns, n_show=n_show, row_labels=[f"z={v:.2f}" for v in z],
        title="Held-out galaxies and their reconstructions (columns: encoder; Minuet: DDIM "
              "from the latents, then posterior samples; Minuet's, drawn in the canonical "
              "frame, turned back into each input's orientation)")


def _power_spectra(artifacts):
    fig = plotting.plot_power_spectra(
        artifacts["X_test"],
        {name: f.get("recon_drawn", f["recon"]) for name, f in artifacts["figures"].items()})
    fig.suptitle("Radial power spectra of reconstructions vs truth (held-out galaxies)")
    return fig


def _posteriors(artifacts):
    fig = plotting.plot_posteriors(artifacts["posteriors"]["minuet"],
                                   artifacts["y_test"][list(TARGETS)])
    fig.suptitle("Posteriors from the flow on Minuet latents (held-out galaxies; black: truth)")
    return fig


def _calibration(artifacts):
    import matplotlib.pyplot as plt

    posterior = artifacts["posteriors"]["minuet"]
    y = artifacts["y_test"][list(TARGETS)]
    fig, (pit_ax, coverage_ax, tarp_ax) = plt.subplots(1, 3, figsize=(12, 3.6),
                                                       layout="constrained")
    plotting.plot_pit(posterior, y, ax=pit_ax)
    plotting.plot_coverage(posterior, y, ax=coverage_ax)
    plotting.plot_tarp(posterior, y, ax=tarp_ax)
    fig.suptitle("Calibration of the flow's posteriors on Minuet latents (held-out galaxies)")
    return fig


def _predicted_vs_true(artifacts):
    fig = plotting.plot_predicted_vs_true(artifacts["posteriors"]["minuet"],
                                          artifacts["y_test"][list(TARGETS)])
    fig.suptitle("Posterior medians vs truth, flow on Minuet latents (held-out galaxies; "
                 "bars: 68% intervals)")
    return fig


def _roc(artifacts):
    import matplotlib.pyplot as plt

    tasks = sorted({t for curves in artifacts["roc"].values() for t in curves})
    fig, axes = plt.subplots(1, len(tasks), figsize=(2.6 * len(tasks), 2.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        plotting.plot_roc({name: curves[task] for name, curves in artifacts["roc"].items()
                           if task in curves}, ax=ax, title=task)
    fig.suptitle("Galaxy Zoo probes: ROC of a logistic regression on the latents "
                 "(out-of-fold; legend: AUC)")
    return fig


def _rotated(artifacts):
    """One row per galaxy: its three copies, then each encoder's reconstructions of them,
    all on the copies' display scale."""
    rotated = artifacts["rotated"]
    copies = ("as observed", "rotated 90°", "mirrored")
    rows = []
    for i, images in enumerate(rotated["inputs"]):
        groups = [images] + [r[i] for r in rotated["recon"].values()]
        rows.append([rgb for g in groups
                     for rgb in plotting.rgb_composite(g, reference=images)])
    columns = [f"{name}\n{c}" for name in ["input", *rotated["recon"]] for c in copies]
    return plotting.plot_image_grid(
        rows, row_labels=[f"galaxy {i}" for i in range(len(rows))], col_labels=columns,
        title="Rotated and mirrored copies of held-out galaxies, and each encoder's "
              "reconstruction of each copy (an orientation-free model draws the copies alike)")


def _reobserved(artifacts):
    """One held-out galaxy as observed and observed again in other ways (rows), beside each
    encoder's reconstruction of it (columns), all on the first row's display scale."""
    example = artifacts["reobserved"]
    reference = example["inputs"][:1]
    columns = {"input": example["inputs"], **example["recon"]}
    rows = [[plotting.rgb_composite(images[i:i + 1], reference=reference)[0]
             for images in columns.values()] for i in range(len(example["inputs"]))]
    return plotting.plot_image_grid(
        rows, row_labels=example["labels"], col_labels=list(columns),
        title="One held-out galaxy observed again (rows), and each encoder's reconstruction "
              "(a model of the galaxy, not of the night, draws the rows alike)")


def _named_latents(fig, prefix):
    """Name the latents on ``fig``'s axis labels as the encoders name them
    (``get_feature_names_out``: ``minuet0``, ...) rather than ``latent 0``."""
    for ax in fig.axes:
        for label in (ax.xaxis.label, ax.yaxis.label):
            number = re.fullmatch(r"latent (\d+)", label.get_text())
            if number:
                label.set_text(f"{prefix}{number[1]}")
    return fig


def _title_above_axes(fig):
    """Wrap the suptitle to the figure's width and put it just above the axes and their
    titles: at its default place a figure without a layout engine keeps its top margin
    under the title, a blank band that ``bbox_inches="tight"`` does not crop."""
    text = fig.get_suptitle()
    if not text or fig.get_layout_engine() is not None:
        return
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
    top = max(box.y1 for box in boxes if box is not None) / fig.bbox.height
    fig.suptitle(textwrap.fill(text, max(40, int(11 * fig.get_figwidth()))), fontsize=10,
                 va="bottom", y=top + 3 / 72 / fig.get_figheight())


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
    X = artifacts["X_test"]
    figures = [
        ("1_reconstructions", lambda: _reconstructions(artifacts)),
        ("2_power_spectra", lambda: _power_spectra(artifacts)),
        ("3_latents_by_redshift", lambda: _named_latents(plotting.plot_latent_corner(
            artifacts["latents"]["minuet"], colour=artifacts["y_test"]["redshift"],
            colour_label="redshift",
            title="Minuet latents coloured by redshift (held-out galaxies)"), "minuet")),
        ("4_posteriors", lambda: _posteriors(artifacts)),
        ("4a_posterior_calibration", lambda: _calibration(artifacts)),
        ("4a_predicted_vs_true", lambda: _predicted_vs_true(artifacts)),
    ]
    if any(artifacts.get("roc", {}).values()):
        figures.append(("4b_probe_roc", lambda: _roc(artifacts)))
    if "rotated" in artifacts:
        figures.append(("5b_rotated_copies", lambda: _rotated(artifacts)))
    figures += [(f"5_neighbours_{name}", lambda name=name: plotting.plot_neighbours(
                    X, artifacts["latents"][name],
                    title=f"Nearest neighbours in {name} latent space"))
                for name in artifacts["latents"]]
    figures.append(("6_latent_traversals", lambda: _named_latents(
        plotting.plot_latent_traversals(
            artifacts["encoders"]["minuet"], X[:1], artifacts["latents"]["minuet"],
            title="minuet latent traversals (each row varies one latent from its 5% to 95% "
                  "quantile)"), "minuet")))
    if "reobserved" in artifacts:
        figures.append(("9_reobserved", lambda: _reobserved(artifacts)))
    if "real" in artifacts:
        real = artifacts["real"]
        figures += [(f"8_real_neighbours_{name}", lambda name=name: plotting.plot_neighbours(
                        real["X"], real["latents"][name],
                        title=f"Real galaxies (the Hubble Deep Field as DECaLS sees them): "
                              f"nearest neighbours in {name} latent space"))
                    for name in real["latents"]]
    paths = []
    for stem, make in figures:
        fig = make()
        _title_above_axes(fig)
        path = folder / f"{stem}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight")
        matplotlib.pyplot.close(fig)
        paths.append(path)
    return paths
