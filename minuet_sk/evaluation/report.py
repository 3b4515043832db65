"""A self-contained HTML report of a benchmark run (``minuet demo``, ``minuet report``), laid
out like a paper's summary page: a headline (what was run, the encoders' key figures, what to
look at), contents, then one numbered section per question with its tables of
:mod:`~minuet_sk.evaluation.tables`, its figures of :mod:`~minuet_sk.evaluation.figures` and
what they measure, what each latent tracks, and the settings."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from minuet_sk.evaluation.tables import format_table, question_tables

__all__ = ["write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.7em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
h3{font-size:1em;margin:1.2em 0 .2em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
table.text td,table.text th{text-align:left}
figure{margin:1em 0 1.6em}figcaption{font-size:.92em;color:#444;margin-top:.2em}
img{max-width:100%;border:1px solid #eee}.note{color:#555;font-size:.92em}
.headline{background:#f7f8fb;border:1px solid #dde;padding:.2em 1.2em;margin:1em 0}
"""

#: The report's sections in order: number (the tables whose titles start with it go there),
#: heading, what its tables and figures measure and which way is better, and its figures
#: (file stems; one ending in "_" takes every stem that starts with it). The figures'
#: file numbers predate the tables' and do not always match them.
_SECTIONS = (
    ("1", "Reconstruction, and the factors the latents hold",
     ("How closely each encoder redraws a held-out galaxy from its latents: pixel MSE and the "
      "error of the radial power spectrum, per band (lower is better). Table 1a asks how much "
      "of the true brightness, size, colour and shape a linear fit reads from the latents, "
      "and table 1b how much of what a person measures the reconstructions keep (higher is "
      "better)."),
     ("1_reconstructions", "2_power_spectra")),
    ("2", "Galaxy Zoo probes",
     ("How well a classifier on the frozen latents predicts the volunteers' answers: ROC AUC, "
      "0.5 is chance, higher is better. Raw pixels are the reference."),
     ("4b_probe_roc",)),
    ("3", "Physical posteriors",
     ("A normalising flow on each encoder's latents gives posteriors of redshift, stellar "
      "mass and star formation rate: point errors and CRPS (lower is better), and the "
      "coverage of its intervals (best when closest to 0.68 and 0.95). The oracle is given "
      "the true photometry and size."),
     ("4_posteriors", "4a_posterior_calibration", "4a_predicted_vs_true")),
    ("4", "Similarity search",
     ("The fraction of a galaxy's 5 nearest neighbours in latent space that share its label "
      "(a Galaxy Zoo answer or a true class): higher is better."),
     ("5_neighbours_",)),
    ("5", "Orientation",
     ("How far the latents move when a galaxy is turned or mirrored, in units of the median "
      "nearest-neighbour distance: lower is better (a code of the galaxy, not of its "
      "orientation, does not move)."),
     ("5b_rotated_copies",)),
    ("6", "What each latent tracks",
     ("Each latent's strongest rank (Spearman) correlations with the true properties and, "
      "where the re-observation question ran, with the observing conditions: a latent that "
      "follows the sky noise or the seeing describes the night, not the galaxy."),
     ("3_latents_by_redshift", "6_latent_traversals")),
    ("7", "Cost",
     ("Wall time of fitting on this machine (lower is faster) and throughput in galaxies or "
      "samples per second (higher is faster); no row is ranked."),
     ()),
    ("8", "Real galaxies",
     ("Hubble Deep Field galaxies rendered as DECaLS sees them: how far the latents move "
      "under a turn (lower is better), and whether a galaxy's latent neighbours share its "
      "measured size, colour and concentration (Spearman, higher is better)."),
     ("8_real_neighbours_",)),
    ("9", "The same galaxy observed again: the galaxy or the night?",
     ("The latents' correlation with the sky noise and PSF of each band (lower is better), "
      "then the same galaxies observed again with new noise, other depths and seeing, a "
      "sub-pixel shift or a turn: how far their latents move (lower is better) and how often "
      "a galaxy's nearest first observation is itself (top-1, higher is better)."),
     ("9_reobserved",)),
)

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

#: Readable names of the truth's and the conditions' columns (per-band ones: see _label).
_LABELS = {"log_mstar": "log stellar mass", "log_sfr": "log SFR",
           "half_light_radius_arcsec": "half-light radius", "bulge_fraction": "bulge fraction",
           "axis_ratio": "axis ratio"}


def _figure_caption(stem):
    """The caption of the figure file ``stem``."""
    if stem in _FIGURE_TITLES:
        return _FIGURE_TITLES[stem]
    if stem.startswith("8_real_neighbours_"):
        return ("Real galaxies (the Hubble Deep Field as DECaLS sees them): nearest "
                f"neighbours in {stem.removeprefix('8_real_neighbours_')} latents")
    if stem.startswith("5_neighbours_"):
        return (f"Nearest neighbours in {stem.removeprefix('5_neighbours_')} latents: "
                "held-out galaxies (rows) and their five nearest neighbours")
    return stem.split("_", 1)[-1].replace("_", " ").capitalize()


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


def _key_figures(results):
    """The headline's rows, those that ``results`` holds for every encoder:
    ``[(label, section number, {encoder: value}, better), ...]``."""
    enc = results["encoders"]
    again = results.get("reobservation", {})
    candidates = (
        ("reconstruction MSE, mean of g, r, z", "1",
         lambda n: np.mean(enc[n]["reconstruction"]["mse_per_band"]), "lower"),
        ("true factors the latents hold: mean R^2 (table 1a)", "1",
         lambda n: np.mean(list(enc[n]["latent_factors"].values())), "higher"),
        ("Galaxy Zoo: mean ROC AUC of the logistic probe", "2",
         lambda n: pd.Series({t: p.get("logistic") for t, p in enc[n]["probes"].items()},
                             dtype=float).mean(), "higher"),
        ("redshift sigma_NMAD of the flow's posteriors", "3",
         lambda n: enc[n]["posteriors"]["redshift"]["sigma_nmad"], "lower"),
        ("latent shift under turns and flips", "5",
         lambda n: enc[n]["orientation"]["mean"], "lower"),
        ("re-identified after a new noise draw (top-1)", "9",
         lambda n: again[n]["stability"]["new noise"]["top1"], "higher"),
        ("the night in the latents: largest |Spearman| with noise or seeing", "9",
         lambda n: again[n]["conditions"]["max_abs_spearman"], "lower"),
    )
    rows = []
    for label, section, value, better in candidates:
        try:
            rows.append((label, section, {n: float(value(n)) for n in enc}, better))
        except KeyError:
            continue
    return rows


def _headline_table(results):
    """The encoders' key figures, one row each, best in bold, each row linked to its
    section."""
    rows = []
    for label, section, values, better in _key_figures(results):
        row = format_table(pd.DataFrame([values]), better, bold=("<b>", "</b>"), fmt="{:.3g}")
        row.index = [f"<a href='#section-{section}'>{html.escape(label)}</a>"]
        row["better"] = better
        rows.append(row)
    return pd.concat(rows).to_html(escape=False, border=0)


def _what_to_look_at(sections):
    """One or two sentences pointing at the page's main figures and ``sections``."""
    text = ("<b>What to look at:</b> <a href='#figure-1'>figure 1</a>, the held-out galaxies "
            "beside each encoder's reconstruction, and table 1a, how much of each galaxy's "
            "brightness, size, colour and shape its latents hold; then "
            "<a href='#section-6'>section 6</a>, what each latent tracks")
    if "9" in sections:
        text += ("; and <a href='#section-9'>section 9</a>, whether the latents describe "
                 "the galaxy or the night it was observed (its noise and seeing)")
    return f"<p>{text}. In every table the best value of a row is in bold.</p>"


def _headline_html(results, sections):
    """The page's headline: what was run, where Minuet came from, the encoders' key figures
    and what to look at (``sections``: the numbers of the page's sections)."""
    settings, data = results["settings"], results["data"]
    return (
        "<div class='headline'>"
        f"<p>minuet_sk {results['package_version']} on "
        f"{html.escape(results['machine']['platform'])}, seed {results['seed']}: Minuet "
        f"(diffusion autoencoder), a VAE and PCA eigengalaxies "
        f"({', '.join(results['encoders'])}), {settings['n_components']} latents each, on "
        f"{data['n_train']} training and {data['n_test']} held-out <b>simulated</b> galaxies "
        f"(GalSim; see <code>make_galaxies</code>), images {tuple(data['image_shape'])} in "
        "grz, asinh-stretched. Every table and figure is on held-out galaxies that no model "
        "saw during fitting.</p>"
        f"<p><b>{html.escape(_minuet_origin(settings, results))}</b></p>"
        "<p>Key figures (best in bold; each row links to its section):</p>"
        + _headline_table(results) + _what_to_look_at(sections) + "</div>")


def _latent_name(latent, encoder):
    """A latent as the encoder names it (``minuet3``), not as results.json's correlation
    tables do (``latent3``)."""
    number = re.fullmatch(r"latent(\d+)", latent)
    return f"{encoder}{number[1]}" if number else latent


def _label(column):
    """A readable name of a truth or condition column (``noise_sigma_r``: r-band noise)."""
    for pattern, name in ((r"mag_([grz])", "{} magnitude"), (r"noise_sigma_([grz])",
                          "{}-band noise"), (r"psf_fwhm_([grz])", "PSF FWHM {}")):
        band = re.fullmatch(pattern, column)
        if band:
            return name.format(band[1])
    return _LABELS.get(column, column.replace("_", " "))


def _strongest(correlations, n):
    """The ``n`` strongest of ``{column: rho}`` by |rho| as text, one per kind of column
    (the strongest band of a per-band quantity such as the magnitude or the noise)."""
    best = {}
    for column, rho in correlations.items():
        kind = re.sub(r"_[grz]$", "", column)
        if rho is None or not np.isfinite(rho):
            continue
        if kind not in best or abs(rho) > abs(best[kind][1]):
            best[kind] = (column, rho)
    top = sorted(best.values(), key=lambda item: -abs(item[1]))[:n]
    return ", ".join(f"{_label(column)} {rho:+.2f}" for column, rho in top) or "–"


def _tracking_html(name, results):
    """What each latent of encoder ``name`` tracks: its strongest Spearman correlations with
    the truth and, when measured, with the observing conditions."""
    truth = results["encoders"][name]["correlations"]["properties"]["spearman"]
    conditions = results.get("reobservation", {}).get(name, {}).get("conditions", {})
    conditions = {_latent_name(z, name): rho for z, rho in conditions.get("spearman", {}).items()}
    rows = {}
    for latent, rho in truth.items():
        latent = _latent_name(latent, name)
        rows[latent] = {"true properties (Spearman)": _strongest(rho, 3)}
        if conditions:
            rows[latent]["observing conditions (Spearman)"] = _strongest(
                conditions.get(latent, {}), 2)
    return pd.DataFrame.from_dict(rows, orient="index").to_html(border=0, classes="text")


def _correlation_html(tables, name):
    """Pearson and Spearman tables (latent x property) side by side."""
    cells = [f"<td style='vertical-align:top;border:0'><i>{method}</i>"
             + pd.DataFrame.from_dict(table, orient="index")
             .rename(index=lambda z: _latent_name(z, name)).round(2).to_html(border=0)
             + "</td>" for method, table in tables.items()]
    return f"<table style='border:0'><tr>{''.join(cells)}</tr></table>"


def _latents_html(results):
    """Section 6's text: a table of what each latent tracks per encoder, and every
    correlation, folded away."""
    parts = []
    for name in results["encoders"]:
        parts.append(f"<h3>{html.escape(name)}</h3>" + _tracking_html(name, results))
    studies = {name: (name, enc["correlations"]) for name, enc in results["encoders"].items()}
    if "vae_study_2_latents" in results:
        studies["2-latent VAE (the latent-space VAE study)"] = (
            "vae", results["vae_study_2_latents"])
    parts.append("<details><summary>Every Pearson and Spearman correlation of the latents "
                 "with the physical properties and the Galaxy Zoo vote fractions</summary>")
    for title, (name, correlations) in studies.items():
        parts.append(f"<h3>{html.escape(title)}</h3>"
                     + _correlation_html(correlations["properties"], name)
                     + _correlation_html(correlations["galaxy_zoo"], name))
    parts.append("</details>")
    return "".join(parts)


def _flatten(mapping, prefix=""):
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _settings_html(results):
    """The run's settings and machine as a two-column table."""
    rows = _flatten({**results["settings"], "machine": results.get("machine", {})})
    cells = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(_value_text(value))}</td></tr>"
        for key, value in rows.items())
    return f"<table class='text'><tr><th>setting</th><th>value</th></tr>{cells}</table>"


def _value_text(value):
    """A setting as short text: lists joined by commas, ``{}`` as none."""
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return "none" if value == {} or value is None else str(value)


def _figure_html(path, number):
    """``path`` embedded as a numbered figure with its caption."""
    caption = html.escape(_figure_caption(path.stem))
    data = base64.b64encode(path.read_bytes()).decode()
    return (f"<figure id='figure-{number}'><img alt='{caption}' "
            f"src='data:image/png;base64,{data}'><figcaption><b>Figure {number}.</b> "
            f"{caption}</figcaption></figure>")


def _section_of(stem):
    """The number of the section that shows the figure file ``stem``, or None."""
    for number, _, _, stems in _SECTIONS:
        if any(stem == s or (s.endswith("_") and stem.startswith(s)) for s in stems):
            return number
    return None


def write_report(out_dir, *, title="minuet_sk report"):
    """Write ``index.html`` from a benchmark folder (``results.json`` + ``figures/*.png``).

    The page reads like a paper's summary: a headline (what was run, the encoders' key
    figures, what to look at), contents, one numbered section per question with its tables,
    its figures and what they measure, a table of what each latent tracks, and the settings.
    Sections whose question did not run are left out. The figures are embedded, so the page
    is one self-contained file.

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

    # tables and figures by section; those of no section of _SECTIONS go to a last one
    known = {number for number, *_ in _SECTIONS}
    tables, figures = {}, {}
    for table_title, frame, better in question_tables(results):
        number = re.match(r"\d+", table_title)[0]
        tables.setdefault(number if number in known else None, []).append(
            (table_title, frame, better))
    for path in sorted((out_dir / "figures").glob("*.png")):
        figures.setdefault(_section_of(path.stem), []).append(path)
    sections = [(number, heading, text) for number, heading, text, _ in _SECTIONS
                if number in tables or number in figures or number == "6"]
    if None in tables or None in figures:
        sections.append((str(len(_SECTIONS) + 1), "Other results", ""))
        tables[sections[-1][0]] = tables.pop(None, [])
        figures[sections[-1][0]] = figures.pop(None, [])

    parts = [f"<h1>{html.escape(title)}</h1>",
             _headline_html(results, [number for number, _, _ in sections]),
             "<h2 id='contents'>Contents</h2><ol>"]
    parts += [f"<li value='{number}'><a href='#section-{number}'>{html.escape(heading)}</a>"
              "</li>" for number, heading, _ in sections]
    parts.append("<li style='list-style:none'><a href='#settings'>Settings</a></li></ol>")
    n_figures = 0
    for number, heading, text in sections:
        parts.append(f"<h2 id='section-{number}'>{number}. {html.escape(heading)}</h2>"
                     f"<p>{html.escape(text)}</p>")
        for table_title, frame, better in tables.get(number, []):
            note = {"higher": " (higher is better; best in bold)",
                    "lower": " (lower is better; best in bold)", None: ""}[better]
            parts.append(f"<h3>{html.escape(table_title)}<span class='note'>{note}</span>"
                         "</h3>" + format_table(frame, better, bold=("<b>", "</b>"))
                         .to_html(escape=False, border=0))
        if number == "6":
            parts.append(_latents_html(results))
        if number == "7" and {"peak_memory_mb", "simulate_seconds"} <= set(results):
            parts.append(f"<p class='note'>Peak memory {results['peak_memory_mb']:.0f} MB; "
                         f"simulation {results['simulate_seconds']:.1f} s.</p>")
        for path in figures.get(number, []):
            n_figures += 1
            parts.append(_figure_html(path, n_figures))
    parts.append("<h2 id='settings'>Settings</h2><details><summary>The benchmark's "
                 "settings and the machine</summary>" + _settings_html(results) + "</details>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>")
    path = out_dir / "index.html"
    path.write_text(page)
    return path
