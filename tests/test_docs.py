"""The API reference lists every public name, and the docs' sources hold together.

These tests read the reStructuredText sources only (no Sphinx needed); ``make docs`` builds
the site itself with warnings as errors.
"""

import re
import warnings
from pathlib import Path

import pytest

import minuet_sk
import minuet_sk.datasets

DOCS = Path(__file__).resolve().parents[1] / "docs"
API = DOCS / "api.rst"


def autosummary_names(text):
    """Fully qualified names listed in the ``autosummary`` blocks of an rst text."""
    names, module, in_block = set(), None, False
    for line in text.splitlines():
        directive = re.match(r"\.\. (currentmodule|module|autosummary)::\s*(\S*)", line)
        if directive:
            kind, argument = directive.groups()
            if kind == "autosummary":
                in_block = True
            else:
                module, in_block = argument, False
            continue
        if not in_block:
            continue
        if line and not line[0].isspace():  # unindented text ends the block
            in_block = False
            continue
        entry = line.strip()
        if not entry or entry.startswith(":"):  # blank line or an option such as :toctree:
            continue
        entry = entry.lstrip("~")
        names.add(entry if entry.startswith("minuet_sk.") else f"{module}.{entry}")
    return names


def test_parser_reads_modules_options_and_blocks():
    text = (
        ".. currentmodule:: pkg\n\n.. autosummary::\n   :toctree: generated/\n\n   A\n"
        "   sub.f\n\nText.\n\n   NotListed\n\n.. currentmodule:: pkg.data\n\n"
        ".. autosummary::\n\n   load\n"
    )
    assert autosummary_names(text) == {"pkg.A", "pkg.sub.f", "pkg.data.load"}


@pytest.mark.parametrize(
    "module", [minuet_sk, minuet_sk.datasets], ids=lambda m: m.__name__
)
def test_every_public_name_is_in_the_api_reference(module):
    documented = autosummary_names(API.read_text(encoding="utf-8"))
    missing = sorted(
        name for name in module.__all__ if f"{module.__name__}.{name}" not in documented
    )
    assert not missing, (
        f"{module.__name__}.__all__ names missing from docs/api.rst: {missing}. List them in "
        "an autosummary block (see docs/api_pending.txt for the prepared entries)."
    )


def test_api_entries_exist():
    """Every name the API page lists can be imported (autosummary would fail later)."""
    import importlib

    for name in sorted(autosummary_names(API.read_text(encoding="utf-8"))):
        parts = name.split(".")
        for split in range(len(parts) - 1, 0, -1):  # longest importable module prefix
            try:
                obj = importlib.import_module(".".join(parts[:split]))
            except ImportError:
                continue
            for attr in parts[split:]:
                obj = getattr(obj, attr)
            break
        assert obj.__doc__, f"{name} has no docstring"


def test_every_page_is_in_a_toctree():
    """Sphinx warns about orphan pages; catch them here with a clear message as well."""
    pages = {
        p.relative_to(DOCS).with_suffix("").as_posix()
        for p in DOCS.rglob("*.rst")
        if "_build" not in p.parts and "generated" not in p.parts and "_templates" not in p.parts
    }
    listed = {"index"}
    for page in pages:
        text = (DOCS / f"{page}.rst").read_text(encoding="utf-8")
        for block in re.findall(r"\.\. toctree::\n((?:[ \t]+.*\n|\n)+)", text):
            for entry in block.split("\n"):
                entry = entry.strip()
                if entry and not entry.startswith(":"):
                    folder = page.rsplit("/", 1)[0] + "/" if "/" in page else ""
                    listed.add(folder + entry)
    assert pages <= listed, f"pages in no toctree: {sorted(pages - listed)}"


def test_the_recipe_for_your_own_cutouts_runs_as_written(tmp_path, monkeypatch):
    """docs/examples/your_cutouts.rst with the shipped models, unshrunk (it is small)."""
    import sys

    sys.path.insert(0, str(DOCS))
    try:
        from run_examples import code_blocks, run
    finally:
        sys.path.remove(str(DOCS))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings():
        # headers that state bands, unit and pixel scale: read on no assumption
        warnings.filterwarnings("error", message=".*assumptions")
        assert run("\n".join(code_blocks("examples/your_cutouts.rst")), "your_cutouts.rst",
                   namespace)
    assert namespace["latents"].shape == (12, 5)
    assert set(namespace["summary"]["target"]) == {"redshift", "log_mstar", "log_sfr"}
    ids = namespace["cutouts"].ids  # the file names, from the files to the posteriors
    assert namespace["latents"].index.equals(ids) and namespace["posterior"].index.equals(ids)
    assert set(namespace["summary"]["galaxy"]) == set(ids)
    assert namespace["recon"].shape == (4, 3, 72, 72)
    assert (namespace["folder"].parent / "my_minuet" / "config.json").is_file()
