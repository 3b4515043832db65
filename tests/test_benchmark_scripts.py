"""The scripts of ``benchmarks/`` keep their conventions: one script per question, each
importing and listed in the README, results recorded per question, SUMMARY.md regenerated
rather than edited (see benchmarks/_common.py). The harness they share with ``minuet
benchmark`` is tested in ``tests/evaluation/test_harness.py``."""

import ast
import importlib
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*.py") if not p.stem.startswith("_"))
HELPERS = sorted(p.name for p in BENCHMARKS.glob("_*.py"))
RUN_KEYS = {"question", "command", "date", "settings", "seed", "machine", "headline", "target",
            "figures"}


@pytest.fixture
def common(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("_common")


def test_summary_is_regenerated_from_the_runs(common):
    assert (BENCHMARKS / "results" / "SUMMARY.md").read_text() == common.summary_text(), (
        "benchmarks/results/SUMMARY.md is stale or hand-edited: run python benchmarks/_common.py")


@pytest.mark.parametrize("runs", sorted((BENCHMARKS / "results").glob("*/runs.jsonl")),
                         ids=lambda p: p.parent.name)
def test_every_result_belongs_to_a_question_script(runs):
    question = runs.parent.name
    assert (BENCHMARKS / f"{question}.py").exists(), f"no script for results/{question}/"
    lines = [json.loads(x) for x in runs.read_text().splitlines() if x.strip()]
    assert lines
    for line in lines:
        assert RUN_KEYS <= set(line), RUN_KEYS - set(line)
        assert line["question"] == question
        assert line["command"].startswith(("python benchmarks/", "minuet ")), line["command"]
    latest = json.loads((runs.parent / "latest.json").read_text())
    assert latest["headline"] == lines[-1]["headline"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_name_their_question_and_import_only_shared_helpers(script):
    tree = ast.parse((BENCHMARKS / f"{script}.py").read_text())
    assert script.split("_")[0] in ("bench", "quality", "screen"), script
    assert ast.get_docstring(tree), f"{script}.py: no docstring stating its question"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in SCRIPTS, f"{script} imports {node.module}"
        if isinstance(node, ast.Attribute) and node.attr == "insert":
            assert ast.unparse(node.value) != "sys.path", f"{script}.py edits sys.path"
    assert "record(" in (BENCHMARKS / f"{script}.py").read_text(), f"{script} records nothing"


def test_readme_lists_every_script_and_helper():
    readme = (BENCHMARKS / "README.md").read_text()
    missing = [name for name in [f"{s}.py" for s in SCRIPTS] + HELPERS
               if f"`{name}`" not in readme]
    assert not missing, f"benchmarks/README.md does not list {missing}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_import(script, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module(script)
    assert module.__doc__


def test_record_appends_a_run_and_rewrites_latest_and_summary(common, tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(common, "SUMMARY", tmp_path / "SUMMARY.md")
    machine = {"platform": "test"}
    for speed in (10, 20):
        common.record("bench_minuet", figures={"speed": speed}, headline=f"{speed}/s",
                      target=">= 15/s", settings={"n": 3}, seed=0, markdown="| a |",
                      argv=["benchmarks/bench_minuet.py", "--threads", "2"],
                      machine_info=machine)
    runs = [json.loads(x) for x in (tmp_path / "bench_minuet" / "runs.jsonl").read_text()
            .splitlines()]
    assert [r["figures"]["speed"] for r in runs] == [10, 20]
    assert runs[0]["command"] == "python benchmarks/bench_minuet.py --threads 2"
    assert json.loads((tmp_path / "bench_minuet" / "latest.json").read_text())["headline"] == (
        "20/s")
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert "| 20/s | >= 15/s | [2](bench_minuet/runs.jsonl) |" in summary
    assert "Throughput of MinuetEncoder" in summary  # the question, from the script


def test_record_refuses_figures_json_cannot_hold(common, tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    with pytest.raises(TypeError, match="not JSON-serialisable: object"):
        common.record("bench_pca", figures={"x": object()}, headline="-", machine_info={})
    assert not (tmp_path / "bench_pca" / "runs.jsonl").exists()
