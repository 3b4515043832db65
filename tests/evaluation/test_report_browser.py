"""The HTML report in a real browser: headless Chromium loads it, every image decodes and
the tables are there. Skipped, with the reason, where Chromium is not installed (.ci/run
installs Debian's chromium so that CI runs it)."""

import json
import re
import shutil
import subprocess

import pytest

from minuet_sk.evaluation import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Appended to a copy of the page: after load, write what the browser saw into the DOM.
PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const links = [...document.querySelectorAll('a[href^="#"]')];
  const broken = links.filter(a => !document.getElementById(a.hash.slice(1))).length;
  document.body.setAttribute('data-probe',
    JSON.stringify({images: imgs.length, decoded: ok, tables: document.querySelectorAll(
      'table').length, headings: document.querySelectorAll('h2').length,
      links: links.length, broken: broken}));
});</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install "
                    "chromium); .ci/run installs it so that CI runs this test")
def test_report_renders_in_headless_chromium(benchmark_folder, tmp_path):
    page = write_report(benchmark_folder)
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([CHROMIUM, *FLAGS, *profile, "--virtual-time-budget=10000",
                          "--dump-dom", probe_page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    found = json.loads(re.search(r"data-probe=\"([^\"]+)\"", dom).group(1).replace("&quot;", '"'))
    assert found["images"] == 5 and found["decoded"] == 5
    # contents, 8 sections (no real galaxies in this run), settings
    assert found["tables"] >= 10 and found["headings"] == 10
    assert found["links"] > 10 and found["broken"] == 0
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *FLAGS, *profile, "--window-size=1200,2400",
                    f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
