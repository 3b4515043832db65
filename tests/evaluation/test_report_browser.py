"""The HTML report in a real browser: headless Chromium loads it, every image decodes and
the tables are there. Skipped, with the reason, where Chromium is not installed (.ci/run
installs Debian's chromium so that CI runs it)."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from minuet_sk.evaluation import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Appended to a copy of the page: after load, write what the browser saw into the DOM.
PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-probe',
    JSON.stringify({images: imgs.length, decoded: ok, tables: document.querySelectorAll(
      'table').length, headings: document.querySelectorAll('h2').length}));
});</script>"""


def _fake_benchmark_folder(folder):
    """A results.json of the right form and two PNG figures (the report only renders)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    (folder / "figures").mkdir(parents=True)
    for stem in ("1_reconstructions", "2_power_spectra"):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.imshow(rng.random((8, 8)))
        fig.savefig(folder / "figures" / f"{stem}.png")
        plt.close(fig)
    names = ("redshift", "log_mstar", "log_sfr")
    tasks = ("merger", "spiral", "edge_on", "round", "smooth", "bar")
    corr = {"pearson": {"minuet0": {"redshift": 0.5}}, "spearman": {"minuet0": {"redshift": 0.4}}}
    post = {"redshift": {"sigma_nmad": 0.05, "outlier_fraction": 0.01, "bias": 0.0},
            "crps": dict.fromkeys(names, 0.1), "coverage_68": dict.fromkeys(names, 0.68),
            "coverage_95": dict.fromkeys(names, 0.95), "fit_seconds": 1.0,
            "samples_per_s": 1e4}
    encoder = {
        "reconstruction": {"mse_per_band": [1.0, 2.0, 3.0],
                           "power_spectrum_log_error_per_band": [0.1, 0.2, 0.3]},
        "probes": {t: {"logistic": 0.8, "mlp": 0.85} for t in tasks},
        "posteriors": post, "similarity": {"gz_spiral": 0.7}, "orientation": {"mean": 0.1},
        "correlations": {"properties": corr, "galaxy_zoo": corr},
        "cost": {"fit_seconds": 3.0},
    }
    results = {"package_version": "0", "seed": 0, "settings": {"n_components": 5, "cv_folds": 5},
               "machine": {"platform": "test"}, "data": {"n_train": 10, "n_test": 5,
                                                         "image_shape": [3, 8, 8]},
               "encoders": {"minuet": encoder, "pca": encoder},
               "pixel_probes": {t: {"logistic": 0.7} for t in tasks},
               "oracle_posteriors": post, "peak_memory_mb": 1.0, "simulate_seconds": 1.0}
    (folder / "results.json").write_text(json.dumps(results))


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install "
                    "chromium); .ci/run installs it so that CI runs this test")
def test_report_renders_in_headless_chromium(tmp_path):
    _fake_benchmark_folder(tmp_path)
    page = write_report(tmp_path)
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([CHROMIUM, *FLAGS, *profile, "--virtual-time-budget=10000",
                          "--dump-dom", probe_page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    found = json.loads(re.search(r"data-probe=\"([^\"]+)\"", dom).group(1).replace("&quot;", '"'))
    assert found["images"] == 2 and found["decoded"] == 2
    assert found["tables"] >= 7 and found["headings"] >= 9
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *FLAGS, *profile, "--window-size=1200,2400",
                    f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
