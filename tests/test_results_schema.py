"""The results schema: the committed JSON Schema is the generated one, results files are validated on load
with a one-line error naming the file and the field, and files of the previous release still load."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from audit import results as schema
from audit.__main__ import main as audit_main
from audit.run import load_results
from badinput import expect_error, write_fixtures
from conftest import schema_errors
from core.errors import InputError

V1 = Path(__file__).parent / "snapshots" / "results-v1.json"  # written before the schema was typed (release 0.1.0)


def test_committed_schema_is_the_generated_one():
    assert schema.SCHEMA_FILE.read_text(encoding="utf-8") == schema.schema_text(), \
        f"audit/results.schema.json is stale: regenerate it with `{schema.REGENERATE}` and commit it"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema")
    fx = write_fixtures(root)
    out = root / "out"
    assert audit_main(["run", "--model", f"{fx['models']}:good", "--templates", str(fx["suite"]), "--suite", "mini",
                       "--out", str(out), "--cache-dir", "", "-q"]) in (0, 1)
    return out


def test_a_written_results_file_is_valid_and_typed(run_dir):
    doc = json.loads((run_dir / "results.json").read_text())
    assert schema_errors(doc) == []
    results = load_results(run_dir)
    assert results.schema_id == schema.SCHEMA and results.model.labels == ["happy", "sad", "neutral"]
    assert results.gate.verdict in ("pass", "fail", "inconclusive") and results.metrics[0].id == doc["metrics"][0]["id"]
    assert results.to_json()["metrics"][0]["class"] == doc["metrics"][0]["class"]


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["metrics"][0].update(value="high"), "metrics[0].value"),
    (lambda d: d["gate"].update(verdict="maybe"), "gate.verdict"),
    (lambda d: d["model"].pop("fingerprint"), "model.fingerprint"),
    (lambda d: d["gate"]["rules"][0].update(bound=None), "gate.rules[0].bound"),
])
def test_a_wrong_field_is_named(run_dir, tmp_path, capsys, edit, field):
    doc = json.loads((run_dir / "results.json").read_text())
    edit(doc)
    parent, leaf = field.rsplit(".", 1)
    errors = schema_errors(doc)  # a wrong value is reported at its path, a missing key at its parent's
    assert any(e.startswith(f"$.{field}:") or e.startswith(f"$.{parent}: {leaf!r}") for e in errors), errors
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text(json.dumps(doc))
    (bad / ".broken-on-purpose").touch()
    with pytest.raises(InputError, match=re.escape(f"{bad / 'results.json'}: ") + ".*" + re.escape(field)):
        load_results(bad)
    expect_error(audit_main, ["compare", run_dir, bad, "--out", tmp_path / "cmp"], capsys, field, tmp_path / "cmp")


def test_plugin_sections_validate_as_records():
    doc = json.loads(V1.read_text())
    ok = {**doc, "robustness": [{"perturbation": "typos", "flip_rate": 0.1}], "functional": {"tests": []},
          "someone_elses": {"a": 1}}
    assert schema_errors(ok) == [] and schema.validate(ok, "x").robustness[0]["perturbation"] == "typos"
    for key in ("robustness", "someone_elses"):
        assert any(e.startswith(f"$.{key}") for e in schema_errors({**doc, key: 3}))
        with pytest.raises(InputError, match=key):
            schema.validate({**doc, key: 3}, "x")


def test_previous_release_results_still_load(tmp_path):
    """A --baseline or `compare` old run from before the typed schema (same id, fairaudit.results/1)."""
    doc = json.loads(V1.read_text())
    assert doc["schema"] == "fairaudit.results/1" and schema.SCHEMA in schema.READABLE
    assert schema_errors(doc) == []
    old = load_results(V1)
    assert old.model.fingerprint == doc["model"]["fingerprint"] and len(old.metrics) == len(doc["metrics"])
    assert old.record_dicts()[0]["id"] == doc["metrics"][0]["id"]
    future = copy.deepcopy(doc)
    future["schema"] = "fairaudit.results/99"
    (tmp_path / "results.json").write_text(json.dumps(future))
    with pytest.raises(InputError, match="schema 'fairaudit.results/99' is not 'fairaudit.results/1'"):
        load_results(tmp_path)
    (tmp_path / ".broken-on-purpose").touch()
