"""The HTML report's layout: a headline, contents, numbered sections with their tables and
figures, what each latent tracks, the settings as a table; and figures without a blank band
under their titles."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from minuet_sk.evaluation import write_report

SHIPPED = Path(__file__).parents[2] / "report"


def _headline(page):
    return re.search(r"<div class='headline'>(.*?)</div>", page, re.DOTALL).group(1)


def _section(page, number):
    """The HTML of section ``number``: from its heading to the next one."""
    return re.search(rf"<h2 id='section-{number}'>(.*?)(?=<h2 )", page, re.DOTALL).group(1)


def test_the_headline_gives_each_encoders_key_figures(benchmark_folder):
    headline = _headline(write_report(benchmark_folder).read_text())
    header = re.search(r"<thead>(.*?)</thead>", headline, re.DOTALL).group(1)
    assert re.findall(r"<th>(\w+)</th>", header) == ["minuet", "vae", "pca", "better"]
    mse = re.search(r"reconstruction MSE.*?</tr>", headline, re.DOTALL).group(0)
    assert re.findall(r"<td>(.*?)</td>", mse) == ["2", "<b>1</b>", "3", "lower"]
    top1 = re.search(r"new noise draw \(top-1\).*?</tr>", headline, re.DOTALL).group(0)
    assert re.findall(r"<td>(.*?)</td>", top1) == ["<b>0.9</b>", "0.6", "0.7", "higher"]
    assert "10 training and 5 held-out" in headline and "7 epochs" in headline
    assert "What to look at" in headline and "href='#section-9'" in headline


def test_every_link_of_the_page_resolves_to_an_anchor(benchmark_folder):
    page = write_report(benchmark_folder).read_text()
    links = re.findall(r"href='#([^']+)'", page)
    ids = set(re.findall(r"id='([^']+)'", page))
    assert {"section-1", "section-9", "settings"} <= set(links)
    assert set(links) <= ids


def test_sections_come_in_numbered_order_with_their_tables_and_figures(benchmark_folder):
    page = write_report(benchmark_folder).read_text()
    numbers = [int(n) for n in re.findall(r"<h2 id='section-(\d+)'>", page)]
    assert numbers == [1, 2, 3, 4, 5, 6, 7, 9]  # no real galaxies in this run: no section 8
    contents = re.search(r"<h2 id='contents'>.*?</ol>", page, re.DOTALL).group(0)
    assert [int(n) for n in re.findall(r"href='#section-(\d+)'", contents)] == numbers
    for number in numbers:  # each table under the section of its number
        for title in re.findall(r"<h3>(\d+)[a-z]?\. ", _section(page, number)):
            assert int(title) == number
    assert "Radial power spectra" in _section(page, 1)  # figure file 2_, question 1
    assert "coloured by redshift" in _section(page, 6)
    assert "observed again" in _section(page, 9) and page.count("<img") == 5
    figures = [int(n) for n in re.findall(r"<b>Figure (\d+)\.</b>", page)]
    assert figures == [1, 2, 3, 4, 5]
    assert "canonical frame" in re.search(r"Figure 1\.</b>(.*?)</figcaption>", page).group(1)


def test_settings_are_a_table_not_a_json_dump(benchmark_folder):
    page = write_report(benchmark_folder).read_text()
    settings = page[page.index("<h2 id='settings'>"):]
    rows = dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]*)</td></tr>", settings))
    assert rows["minuet.max_epochs"] == "7" and rows["n_components"] == "5"
    assert rows["vae"] == "none" and rows["machine.platform"] == "test"
    assert "<pre>" not in page and '"n_components"' not in page


def test_each_latent_is_named_and_described_by_what_it_tracks(benchmark_folder):
    page = write_report(benchmark_folder).read_text()
    tracks = _section(page, 6)
    for name in ("minuet", "vae", "pca"):
        assert all(f"<th>{name}{i}</th>" in tracks for i in range(5))
    minuet0 = re.search(r"<th>minuet0</th>(.*?)</tr>", tracks, re.DOTALL).group(1)
    # the strongest band of each kind: r magnitude, not g; r-band PSF, not g-band
    assert re.findall(r"<td>(.*?)</td>", minuet0) == [
        "r magnitude -0.70, log stellar mass -0.20, redshift +0.00",
        "PSF FWHM r +0.57, r-band noise -0.55"]
    assert not re.search(r"latent ?\d", page)


def test_a_run_without_the_re_observation_question(benchmark_folder):
    results = json.loads((benchmark_folder / "results.json").read_text())
    del results["reobservation"]
    (benchmark_folder / "results.json").write_text(json.dumps(results))
    (benchmark_folder / "figures" / "9_reobserved.png").unlink()
    page = write_report(benchmark_folder).read_text()
    assert "section-9" not in page and "top-1" not in _headline(page)
    assert "observing conditions (Spearman)" not in page and "<th>minuet0</th>" in page


@pytest.mark.skipif(not (SHIPPED / "results.json").exists(), reason="no shipped report")
def test_the_shipped_reports_results(tmp_path):
    shutil.copy(SHIPPED / "results.json", tmp_path)
    page = write_report(tmp_path).read_text()
    numbers = [int(n) for n in re.findall(r"<h2 id='section-(\d+)'>", page)]
    assert numbers == list(range(1, 10))
    assert re.search(r"<th>minuet0</th>\s*<td>[^<]+</td>\s*<td>[^<]*(noise|PSF)", page)
    assert not re.search(r"latent ?\d", page)


def test_figure_titles_sit_just_above_the_axes(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from minuet_sk import plotting
    from minuet_sk.evaluation.figures import _named_latents, _title_above_axes

    red = np.zeros((8, 8, 3))
    red[..., 0] = 1
    fig = plotting.plot_image_grid([[red] * 4] * 8, col_labels=["a"] * 4, title="A title")
    _title_above_axes(fig)  # a tall grid: its default top margin is a large blank band
    fig.savefig(tmp_path / "grid.png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    image = np.asarray(Image.open(tmp_path / "grid.png").convert("RGB")).astype(int)
    first_image = np.argmax(((image[..., 0] > 200) & (image[..., 1] < 50)).any(axis=1))
    inked = np.flatnonzero((image[:first_image] < 200).any(axis=(1, 2)))
    assert inked[0] <= 10 and np.diff(inked).max() < 15  # title, labels: no blank band

    corner = _named_latents(plotting.plot_latent_corner(np.random.default_rng(0).normal(
        size=(30, 3))), "minuet")
    assert [ax.get_xlabel() for ax in corner.axes[-3:]] == ["minuet0", "minuet1", "minuet2"]
    plt.close(corner)


def test_a_figure_of_no_section_is_still_shown_last(benchmark_folder):
    shutil.copy(benchmark_folder / "figures" / "2_power_spectra.png",
                benchmark_folder / "figures" / "7_extra_figure.png")
    page = write_report(benchmark_folder).read_text()
    numbers = re.findall(r"<h2 id='section-(\d+)'>", page)
    assert numbers[-1] == "10" and "Extra figure" in _section(page, 10)
    assert page.count("<img") == 6
