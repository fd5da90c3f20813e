import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from audit.__main__ import main as audit_main

MODEL_FILE = '''
import numpy as np
labels = ["happy", "sad", "neutral"]
FEMALE = {FEMALE}
def _probs(texts, bias):
    out = []
    for t in texts:
        words = set(w.strip(".,!?").lower() for w in t.split())
        p = np.array([0.15, 0.15, 0.7])
        if words & {{"love", "admire", "wonderful", "kind", "proud", "happy", "delighted", "glad", "ecstatic"}}:
            p = np.array([0.7, 0.15, 0.15])
        elif words & {{"hate", "awful", "sad", "miserable", "heartbroken", "depressed"}}:
            p = np.array([0.15, 0.7, 0.15])
        if bias and words & FEMALE:
            p = p + np.array([bias, 0, 0])
        out.append(p / p.sum())
    return np.array(out)
def fair(texts):
    return _probs(texts, 0.0)
def biased(texts):
    return _probs(texts, 0.05)
fair.labels = biased.labels = labels
'''


@pytest.fixture(scope="session")
def sim_models(tmp_path_factory):
    from core.suites import load_suites, term_of

    names = load_suites()["names"].spec.protected["person"].groups
    female = {term_of(t).text.lower() for g in names if g.attributes["gender"] == "female" for t in g.terms}
    female |= {"she", "her", "herself", "woman", "girl", "mother", "daughter", "sister", "wife", "female"}
    path = tmp_path_factory.mktemp("models") / "sim.py"
    path.write_text(MODEL_FILE.format(FEMALE=repr(female)))
    return path


@pytest.fixture(scope="module")
def tiny_run(tiny_classifier, tmp_path_factory):
    out = tmp_path_factory.mktemp("audit")
    code = audit_main(["run", "--model", str(tiny_classifier), "--suite", "identity", "--suite", "names",
                       "--max-cases", "1500", "--out", str(out), "--cache-dir", str(out / "cache"), "-q"])
    return out, code


def test_outputs_and_schema(tiny_run):
    out, code = tiny_run
    assert code in (0, 1)
    for name in ("results.json", "cases.parquet", "report.html", "summary.md", "junit.xml"):
        assert (out / name).stat().st_size > 0
    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == "fairaudit.results/1"
    assert results["model"]["labels"] == ["negative", "neutral", "positive"] and len(results["model"]["fingerprint"]) == 64
    assert {s["name"] for s in results["suites"]} == {"identity", "names"}
    assert all(len(s["sha256"]) == 64 for s in results["suites"])
    assert results["run"]["versions"]["fairlearn"] and results["run"]["wall_seconds"] > 0
    for m in results["metrics"]:
        assert {"id", "metric", "value", "n", "ci", "p_value", "p_adjusted"} <= set(m)
    tested = [m for m in results["metrics"] if m["p_value"] is not None]
    assert tested and all(m["p_adjusted"] >= m["p_value"] - 1e-12 for m in tested)  # Holm never lowers a p-value
    cases = pd.read_parquet(out / "cases.parquet")
    assert {"pred", "p_negative", "p_neutral", "p_positive"} <= set(cases.columns)
    probs = cases[["p_negative", "p_neutral", "p_positive"]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert (cases["pred"] == np.array(["negative", "neutral", "positive"])[probs.argmax(axis=1)]).all()
    assert results["gate"]["verdict"] in ("pass", "fail", "inconclusive")
    assert code == (0 if results["gate"]["verdict"] == "pass" else 1)


def test_group_metrics_equal_fairlearn_on_cases_parquet(tiny_run):
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    cases = pd.read_parquet(out / "cases.parquet")
    ours = {m["id"]: m["value"] for m in results["metrics"]}
    checked = 0
    for suite, attribute in [("identity", "religion"), ("identity", "sexual_orientation"), ("names", "race")]:
        sub = cases[(cases["suite"] == suite) & cases[attribute].notna()]
        for label in ["negative", "neutral", "positive"]:
            dp = demographic_parity_difference(sub["pred"] == label, sub["pred"] == label,
                                               sensitive_features=sub[attribute])
            assert ours[f"dp_difference/{suite}/{attribute}/{label}"] == pytest.approx(dp, abs=1e-12)
            labelled = sub[sub["y_true"].notna()]
            if suite == "identity" and (labelled["y_true"] == label).any():
                eo = equalized_odds_difference(labelled["y_true"] == label, labelled["pred"] == label,
                                               sensitive_features=labelled[attribute])
                assert ours[f"eo_difference/{suite}/{attribute}/{label}"] == pytest.approx(eo, abs=1e-12)
            checked += 1
    assert checked == 9


def test_cache_scores_only_new_sentences(tiny_classifier, tiny_run, tmp_path):
    out, _ = tiny_run
    cache = str(out / "cache")
    args = ["run", "--model", str(tiny_classifier), "--suite", "identity", "--suite", "names", "--max-cases", "1500",
            "--out", str(tmp_path / "again"), "--cache-dir", cache, "-q", "--no-fail"]
    assert audit_main(args) == 0
    assert json.loads((tmp_path / "again" / "results.json").read_text())["run"]["scoring"]["scored"] == 0
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mine.yaml").write_text("""suite: mine
protected:
  who:
    groups:
      - {attributes: {gender: female}, terms: [my niece]}
      - {attributes: {gender: male}, terms: [my nephew]}
templates:
  - {id: t, text: "{who} visited the museum."}
  - {id: u, text: "I waited for {who} outside."}
""")
    # --max-cases samples families across all suites: without it, adding a suite adds only its sentences
    args = [a for a in args if a not in ("--max-cases", "1500")]
    assert audit_main(args + ["--out", str(tmp_path / "all")]) == 0
    assert audit_main(args + ["--templates", str(extra), "--suite", "mine", "--out", str(tmp_path / "more")]) == 0
    scoring = json.loads((tmp_path / "more" / "results.json").read_text())["run"]["scoring"]
    assert scoring["scored"] == 4 and scoring["cached"] == scoring["unique"] - 4


def test_exit_codes(sim_models, tmp_path):
    fair = f"{sim_models}:fair"
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("rules: [{name: any shift, metric: mean_shift, max_abs: 1.0}]\n")
    strict = tmp_path / "strict.yaml"
    strict.write_text("min_n: 100000\nrules: [{name: shift, metric: mean_shift, max_abs: 0.03}]\n")
    base = ["run", "--model", fair, "--suite", "identity", "--cache-dir", "", "-q"]
    assert audit_main(base + ["--out", str(tmp_path / "a"), "--gate", str(lenient)]) == 0
    assert audit_main(base + ["--out", str(tmp_path / "b"), "--gate", str(strict)]) == 1          # inconclusive
    assert audit_main(base + ["--out", str(tmp_path / "c"), "--gate", str(strict), "--allow-inconclusive"]) == 0
    assert audit_main(base + ["--out", str(tmp_path / "d"), "--gate", str(tmp_path / "nope.yaml")]) == 2


def test_default_gate_passes_a_fair_model_and_fails_a_biased_one(sim_models, tmp_path):
    base = ["run", "--suite", "eec", "--suite", "names", "--suite", "identity", "--cache-dir", "", "-q"]
    assert audit_main(base + ["--model", f"{sim_models}:fair", "--out", str(tmp_path / "fair")]) == 0
    assert audit_main(base + ["--model", f"{sim_models}:biased", "--out", str(tmp_path / "biased")]) == 1
    biased = json.loads((tmp_path / "biased" / "results.json").read_text())
    shift = next(r for r in biased["gate"]["rules"] if r["metric"] == "mean_shift")
    flips = next(r for r in biased["gate"]["rules"] if r["metric"] == "label_shift")
    assert shift["verdict"] == "fail" and flips["verdict"] == "pass"  # p(happy) moved, no label flipped
    # the release comparison and --baseline catch the regression from the fair release to the biased one
    assert audit_main(["compare", str(tmp_path / "fair"), str(tmp_path / "biased")]) == 1
    assert audit_main(["compare", str(tmp_path / "fair"), str(tmp_path / "fair")]) == 0
    assert (tmp_path / "biased" / "compare.html").exists()
    assert audit_main(base + ["--model", f"{sim_models}:biased", "--out", str(tmp_path / "b2"), "--gate",
                              str(Path(__file__).parent / "lenient_gate.yaml"), "--baseline", str(tmp_path / "fair")]) == 1
    regression = json.loads((tmp_path / "b2" / "results.json").read_text())
    assert [r["verdict"] for r in regression["gate"]["rules"]] == ["pass", "fail"]
    assert regression["release"]["paired"]  # the saved run's cases.parquet holds the same sentences


def test_baseline_model_scores_both_releases_on_one_case_table(sim_models, tmp_path):
    """--baseline-model: both callables scored on the same cases, one report, paired per-family differences."""
    lenient = str(Path(__file__).parent / "lenient_gate.yaml")
    base = ["run", "--suite", "names", "--cache-dir", str(tmp_path / "cache"), "-q", "--robustness", "none",
            "--gate", lenient]
    out = tmp_path / "release"
    assert audit_main(base + ["--model", f"{sim_models}:biased", "--baseline-model", f"{sim_models}:fair",
                              "--out", str(out)]) == 1
    results = json.loads((out / "results.json").read_text())
    rel = results["release"]
    assert rel["paired"] and rel["baseline"].endswith(":fair") and rel["counts"]["fail"] >= 1
    worst = rel["comparisons"][0]
    assert worst["id"] == "mean_shift/names/gender/female/happy" and worst["verdict"] == "fail" and worst["paired"]
    assert worst["old"] == pytest.approx(0.0, abs=1e-12) and worst["delta"] == pytest.approx(worst["new"])
    assert worst["ci"][0] < worst["delta"] < worst["ci"][1] and worst["p_adjusted"] < 0.05
    regression = [r for r in results["gate"]["rules"] if r.get("baseline")]
    assert [r["verdict"] for r in regression] == ["fail"] and regression[0]["worst"]["paired"]
    cases = pd.read_parquet(out / "cases.parquet")
    female = cases["gender"] == "female"
    assert (cases.loc[female, "p_happy"] > cases.loc[female, "baseline_p_happy"]).all()  # one table, both releases
    assert "Release comparison" in (out / "report.html").read_text() and "Release comparison" in (out / "summary.md").read_text()
    assert rel["examples"] and rel["examples"][0]["p_new"] > rel["examples"][0]["p_old"]
    # the same release on both sides: every difference exactly zero, exit 0
    same = tmp_path / "same"
    assert audit_main(base + ["--model", f"{sim_models}:fair", "--baseline-model", f"{sim_models}:fair",
                              "--out", str(same)]) == 0
    rel = json.loads((same / "results.json").read_text())["release"]
    assert all(c["delta"] == 0 and c["verdict"] == "pass" for c in rel["comparisons"])
    # a saved run on other sentences: the comparison falls back to unpaired and says so
    assert audit_main(base + ["--model", f"{sim_models}:fair", "--max-cases", "2000", "--out", str(tmp_path / "few")]) == 0
    assert audit_main(base + ["--model", f"{sim_models}:fair", "--baseline", str(tmp_path / "few"),
                              "--out", str(tmp_path / "vs-few")]) in (0, 1)
    rel = json.loads((tmp_path / "vs-few" / "results.json").read_text())["release"]
    assert not rel["paired"] and "other sentences" in rel["note"] and not any(c["paired"] for c in rel["comparisons"])


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--model", "/nonexistent/model"], "no config.json"),
    (["--model", "nosuchmodule:fn"], "cannot import nosuchmodule"),
    (["--model", "{sim}:fair", "--suite", "nope"], "unknown suite 'nope'"),
    (["--model", "{sim}:fair", "--data", "{nan}"], "row 2: column 'text' is empty or NaN"),
    (["--model", "{sim}:fair", "--data", "{nan}", "--text-col", "body"], "missing column 'body'"),
    (["--model", "{sim}:fair", "--data", "{nogroup}", "--group-col", "g"], "column 'g' is empty"),
    (["--model", "{sim}:fair", "--templates", "{badtpl}"], "bad.yaml:1"),
])
def test_bad_input_exits_2_and_writes_nothing(args, message, sim_models, tmp_path):
    (tmp_path / "nan.csv").write_text('text,label\nhello,a\n"",b\n')
    (tmp_path / "nogroup.csv").write_text("text,g\nhello,\nbye,\n")
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "bad.yaml").write_text("- not a mapping\n")
    fill = dict(sim=sim_models, nan=tmp_path / "nan.csv", nogroup=tmp_path / "nogroup.csv", badtpl=tmp_path / "tpl")
    out = tmp_path / "out"
    proc = run_cli("run", *[a.format(**fill) for a in args], "--out", str(out), "--cache-dir", "")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr
    assert not out.exists()


def test_real_data_perturbation_and_group_slices(sim_models, tmp_path):
    data = tmp_path / "reviews.csv"
    rows = [(f"{text} on visit {i}", y, site) for i in range(10)  # distinct rows: duplicates are dropped
            for text, y, site in [("She would love the new gallery", "happy", "a"), ("He would hate the queue", "sad", "b"),
                                  ("Had a wonderful day with Emily", "happy", "a"), ("The cafe was fine", "neutral", "b")]]
    pd.DataFrame(rows, columns=["body", "y", "site"]).to_csv(data, index=False)
    out = tmp_path / "out"
    assert audit_main(["run", "--model", f"{sim_models}:fair", "--data", str(data), "--suite", "none", "--text-col", "body",
                       "--label-col", "y", "--group-col", "site", "--out", str(out), "--cache-dir", "", "-q",
                       "--no-fail"]) == 0
    results = json.loads((out / "results.json").read_text())
    cov = results["coverage"]["perturbation"]
    assert cov["gender"]["eligible"] == 20 and cov["gender"]["inputs"] == 40
    ids = {m["id"] for m in results["metrics"]}
    assert "accuracy/data/site/a" in ids and "dp_difference/data/site/happy" in ids
    assert "flip_rate/perturb-gender/gender" in ids
    acc = next(m for m in results["metrics"] if m["id"] == "accuracy/data/site/a")
    assert acc["value"] == 1.0 and acc["n"] == 20


def test_vader_adapter_is_auditable(tmp_path):
    pytest.importorskip("vaderSentiment")
    out = tmp_path / "vader"
    code = audit_main(["run", "--model", "audit.adapters.vader:predict", "--suite", "identity", "--out", str(out),
                       "--cache-dir", "", "-q"])
    assert code in (0, 1)
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["labels"] == ["negative", "neutral", "positive"] and results["model"]["kind"] == "callable"


def test_report_rerenders_without_the_model(tiny_run, tmp_path):
    out, _ = tiny_run
    (out / "report.html").unlink()
    assert audit_main(["report", str(out)]) == 0
    assert (out / "report.html").exists()
    assert audit_main(["report", str(tmp_path)]) == 2


def test_junit_is_valid_and_has_one_case_per_rule(tiny_run):
    out, _ = tiny_run
    results = json.loads((out / "results.json").read_text())
    root = ET.parse(out / "junit.xml").getroot()
    rules = results["gate"]["rules"]
    small = [(r["name"], unit) for r in rules for unit in r["insufficient"]]  # one skipped test each
    assert root.tag == "testsuite" and int(root.get("tests")) == len(rules) + len(small)
    assert int(root.get("skipped")) >= len(small)
    cases = root.findall("testcase")
    assert [c.get("name") for c in cases[len(rules):]] == [unit for _, unit in small]
    assert all(c.find("skipped") is not None for c in cases[len(rules):])
    cases = cases[:len(rules)]
    assert [c.get("name") for c in cases] == [r["name"] for r in rules]
    for case, rule in zip(cases, results["gate"]["rules"]):
        failure = case.find("failure")
        assert (failure is not None) == (rule["verdict"] != "pass")
        if failure is not None:
            assert "bound" in failure.get("message") and str(list(rule["bound"].values())[0]) in failure.get("message")


@pytest.mark.e2e
def test_bundled_minilm_end_to_end(tmp_path):
    """The embedded default model loads offline and is audited through the whole pipeline (it is a base model:
    its classification head is random, which needs saying)."""
    out = tmp_path / "minilm"
    code = audit_main(["run", "--model", "bundled:all-MiniLM-L6-v2", "--suite", "identity", "--out", str(out),
                       "--cache-dir", "", "-q", "--allow-random-head", "--max-cases", "3900"])
    assert code in (0, 1)
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["cases"] == 3900 and results["model"]["parameters"] > 20_000_000  # 100 whole families


def test_benchmarks_print_their_figures(tiny_classifier, tiny_base, small_csv, data_dir, capsys):
    """The benchmark commands run end to end (their figures are for the notes, not asserted here)."""
    from finetune.__main__ import main as finetune_main

    assert audit_main(["bench", "--model", str(tiny_classifier), "--data-dir", str(data_dir), "--limit", "300"]) == 0
    out = capsys.readouterr().out
    assert "labels identical: True" in out and "of bound" in out
    assert finetune_main(["bench", "--data", str(small_csv), "--base-model", str(tiny_base), "--samples", "24"]) == 0
    assert "speed-up:" in capsys.readouterr().out
