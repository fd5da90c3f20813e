"""The metric registry drives the README table, the report's methodology and the gate's metric names; a new
metric family is one new file plus one registration line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit import records
from audit.__main__ import main as audit_main
from audit.gate import load_gate
from badinput import write_fixtures

ROOT = Path(__file__).resolve().parent.parent


def test_readme_metric_table_is_the_generated_one():
    found = records.README_TABLE.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md lacks the <!-- metrics:begin --> ... <!-- metrics:end --> markers"
    assert found[2] == records.markdown_table(), \
        "README's metric table differs from the registry: update it with `python -m audit.records --readme README.md`"


def test_markdown_command_prints_every_registered_metric():
    out = subprocess.run([sys.executable, "-m", "audit.records", "--markdown"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out == records.markdown_table()
    assert all(f"| `{name}` |" in out for name in records.registry())
    assert "| `mean_shift` | counterfactual | signed |" in out and "Kiritchenko & Mohammad 2018" in out


def test_readme_command_rewrites_only_the_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- metrics:begin (generated) -->\n| old |\n<!-- metrics:end -->\n\ntail\n")
    assert records.main(["--readme", str(readme)]) == 0
    assert readme.read_text() == ("# x\n\n<!-- metrics:begin (generated) -->\n" + records.markdown_table()
                                  + "<!-- metrics:end -->\n\ntail\n")
    readme.write_text("no markers\n")
    assert records.main(["--readme", str(readme)]) == 2 and readme.read_text() == "no markers\n"


def test_builtin_families_register_every_metric_once():
    families = records.load_families()
    assert list(families)[:2] == ["counterfactual", "group"]
    named = [m for f in families.values() for m in f.metrics]
    assert len(named) == len(set(named)) and set(named) <= set(records.registry())
    assert records.names("contrast") == ("mean_shift", "label_shift", "flip_rate_difference")
    with pytest.raises(ValueError, match="registered twice"):
        records.register_metric("mean_shift", records.MetricInfo("group", "rate", "something else"))


@pytest.fixture
def toy_family(monkeypatch):
    """tests/toy_metric.py is the new file; the line added to FAMILY_MODULES is its registration."""
    monkeypatch.setattr(records, "FAMILY_MODULES", [*records.FAMILY_MODULES, "toy_metric"])
    assert "mean_confidence" in records.registry()
    yield
    monkeypatch.undo()
    records.unregister_family("toy")
    sys.modules.pop("toy_metric", None)
    assert "mean_confidence" not in records.registry()


def test_a_new_family_reaches_results_report_and_gate(toy_family, tmp_path):
    fx = write_fixtures(tmp_path)
    gate = tmp_path / "gate.yaml"
    gate.write_text("rules:\n  - {name: sure enough, metric: mean_confidence, min: 0.4}\n")
    assert load_gate(str(gate))[0].rules[0].metric == "mean_confidence"
    out = tmp_path / "out"
    code = audit_main(["run", "--model", f"{fx['models']}:good", "--templates", str(fx["suite"]), "--suite", "mini",
                       "--gate", str(gate), "--out", str(out), "--cache-dir", "", "-q"])
    results = json.loads((out / "results.json").read_text())
    toy = [m for m in results["metrics"] if m["metric"] == "mean_confidence"]
    assert [(m["suite"], m["kind"], m["value"]) for m in toy] == [("mini", "toy", pytest.approx(0.5))]
    rule = next(r for r in results["gate"]["rules"] if r["metric"] == "mean_confidence")
    assert rule["verdict"] == "pass" and rule["worst"]["id"] == "mean_confidence/mini/all"
    assert code == 0
    html = (out / "report.html").read_text()
    assert "<summary>Toy confidence (1)</summary>" in html  # its records in the section's generic table
    methodology = html[html.index('<h2 id="methodology">'):]
    assert '<h3 id="family-toy">Toy confidence</h3>' in methodology
    assert "<b>mean_confidence</b>" in methodology and "mean over cases of max_c p_c (a test fixture)" in methodology


def test_methodology_lists_the_families_of_the_run_only():
    shown = records.methodology({"mean_shift"})
    assert [f["name"] for f in shown] == ["counterfactual"]
    assert shown[0]["metrics"][0]["formula"] == records.registry()["mean_shift"].formula
    assert {f["name"] for f in records.methodology()} >= {"counterfactual", "group"}


def test_gate_refuses_an_unregistered_metric(tmp_path):
    from core.errors import InputError

    gate = tmp_path / "gate.yaml"
    gate.write_text("rules:\n  - {name: sure, metric: mean_confidence, min: 0.4}\n")
    with pytest.raises(InputError, match="unknown metric 'mean_confidence'"):
        load_gate(str(gate))


def test_a_family_may_only_return_the_metrics_it_registered(toy_family, monkeypatch):
    import pandas as pd

    family = records.FAMILIES["toy"]
    wrong = lambda scored: [records.Metric("mean_confidenc", "toy", "s", "all", 0.5, 10)]  # noqa: E731
    monkeypatch.setitem(records.FAMILIES, "toy", records.Family(**{**family.__dict__, "compute": wrong}))
    scored = records.Scored(pd.DataFrame({"suite": ["s"], "p_a": [1.0]}), ["a"], [])
    with pytest.raises(ValueError, match="'toy' returned a 'mean_confidenc' record, which it did not register"):
        records.run_families(scored, ["toy"])
