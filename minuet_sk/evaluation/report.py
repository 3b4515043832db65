"""A self-contained HTML report of a benchmark run (``minuet demo``, ``minuet report``): the
tables of :mod:`~minuet_sk.evaluation.tables` and the figures of
:mod:`~minuet_sk.evaluation.figures`, in one page."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from minuet_sk.evaluation.tables import format_table, question_tables

__all__ = ["write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.7em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}.note{color:#555;font-size:.92em}
"""


def _frame_html(frame, better):
    return format_table(frame, better, bold=("<b>", "</b>")).to_html(escape=False, border=0)


def _correlation_html(tables):
    """Pearson and Spearman tables (latent x property) side by side."""
    cells = [f"<td style='vertical-align:top;border:0'><i>{method}</i>"
             + pd.DataFrame.from_dict(table, orient="index").round(2).to_html(border=0)
             + "</td>" for method, table in tables.items()]
    return f"<table style='border:0'><tr>{''.join(cells)}</tr></table>"


_FIGURE_TITLES = {
    "1_reconstructions": "Reconstructions and posterior samples (cf. Minuet paper Figs. 3-4); "
                         "Minuet draws each galaxy in its canonical frame (major axis along "
                         "x), turned back here into the input's orientation",
    "2_power_spectra": "Radial power spectra",
    "3_latents_by_redshift": "Minuet latents coloured by redshift (cf. Fig. 5)",
    "4_posteriors": "Physical posteriors for a few galaxies",
    "4a_posterior_calibration": "Calibration of the posteriors: PIT histograms and coverage",
    "4a_predicted_vs_true": "Posterior medians and 68% intervals vs the truth",
    "4b_probe_roc": "Galaxy Zoo probes: ROC curves",
    "5b_rotated_copies": "Rotated and mirrored copies, and their reconstructions",
    "6_latent_traversals": "Latent traversals",
    "9_reobserved": "The same galaxy observed again: the galaxy or the night?",
}


def _minuet_origin(settings, results):
    """One plain sentence: where this report's Minuet came from."""
    minuet = settings.get("minuet", {})
    if minuet.get("pretrained"):
        return (f"Minuet: the shipped weights {minuet['pretrained']!r}, trained once on other "
                "simulated galaxies (its card: minuet_sk/pretrained/"
                f"{minuet['pretrained']}/training.json) and not fitted here; the VAE and PCA "
                f"are fitted here on the {results['data']['n_train']} training galaxies.")
    return (f"Minuet, the VAE and PCA are all fitted here on the {results['data']['n_train']} "
            f"training galaxies (Minuet: {minuet.get('max_epochs', 'default')} epochs, a short "
            "training: the shipped weights are better trained).")


def write_report(out_dir, *, title="minuet_sk report"):
    """Write ``index.html`` from a benchmark folder (``results.json`` + ``figures/*.png``).

    The figures are embedded, so the page is one self-contained file.

    Parameters
    ----------
    out_dir : str or Path
        A folder written by ``minuet benchmark`` or ``minuet demo``.
    title : str

    Returns
    -------
    Path
        The ``index.html`` written.

    Examples
    --------
    >>> write_report("bench")  # a folder of ``minuet benchmark``  # doctest: +SKIP
    PosixPath('bench/index.html')
    """
    out_dir = Path(out_dir)
    results_path = out_dir / "results.json"
    if not results_path.exists():
        raise FileNotFoundError(
            f"{results_path} not found: run `minuet benchmark --out {out_dir}` first."
        )
    results = json.loads(results_path.read_text())
    settings = results["settings"]
    parts = [f"<h1>{html.escape(title)}</h1>", (
        f"<p>minuet_sk {results['package_version']} on "
        f"{html.escape(results['machine']['platform'])}. {results['data']['n_train']} training "
        f"and {results['data']['n_test']} held-out <b>simulated</b> galaxies (GalSim; see "
        f"<code>make_galaxies</code>), images {tuple(results['data']['image_shape'])} in grz, "
        f"asinh-stretched. Encoders with {settings['n_components']} latents each: Minuet "
        f"(diffusion autoencoder), a VAE and PCA eigengalaxies; seed {results['seed']}.</p>"),
        f"<p><b>{html.escape(_minuet_origin(settings, results))}</b></p>",
        "<p class='note'>Every figure and table is on held-out galaxies that no model saw "
        "during fitting. Settings:</p><pre>"
        + html.escape(json.dumps(settings, indent=1, default=str)) + "</pre>"]
    for path in sorted((out_dir / "figures").glob("*.png")):
        heading = _FIGURE_TITLES.get(
            path.stem, path.stem.split("_", 1)[-1].replace("_", " ").capitalize())
        if path.stem.startswith("8_real_neighbours_"):
            heading = ("Real galaxies (the Hubble Deep Field as DECaLS sees them): nearest "
                       f"neighbours in {path.stem.removeprefix('8_real_neighbours_')} latents")
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append(f"<h2>{html.escape(heading)}</h2>"
                     f"<img alt='{html.escape(heading)}' src='data:image/png;base64,{data}'>")
    for table_title, frame, better in question_tables(results):
        note = {"higher": "higher is better; best in bold",
                "lower": "lower is better; best in bold", None: ""}[better]
        parts.append(f"<h2>{html.escape(table_title)}</h2><p class='note'>{note}</p>")
        parts.append(_frame_html(frame, better))
    parts.append("<h2>6. Correlations of latents with physical properties and Galaxy Zoo "
                 "vote fractions</h2>")
    studies = {name: enc["correlations"] for name, enc in results["encoders"].items()}
    if "vae_study_2_latents" in results:
        studies["2-latent VAE (the latent-space VAE study)"] = results["vae_study_2_latents"]
    for name, correlations in studies.items():
        parts.append(f"<h3>{html.escape(name)}</h3>"
                     + _correlation_html(correlations["properties"])
                     + _correlation_html(correlations["galaxy_zoo"]))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>")
    path = out_dir / "index.html"
    path.write_text(page)
    return path
