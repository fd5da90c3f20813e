"""Robustness metrics (audit/robustness.py) on simulated models with known sensitivity, and the audit's option,
records, gate rule and report section."""
import json

import numpy as np
import pytest

from audit import gate as gates
from audit.__main__ import main as audit_main
from audit.robustness import robustness_cases, robustness_metrics, template_sentences
from audit.simulate import LABELS, Effect, SimulatedModel
from core.cases import build_cases
from core.suites import load_suites


@pytest.fixture(scope="module")
def case_table():
    """The case plug-in on one base sentence of each family of the three built-in suites (463 texts)."""
    suites = ["eec", "identity", "names"]
    cases = build_cases([load_suites()[s] for s in suites])
    sources = {"templates": tuple(sum(x, []) for x in zip(*(template_sentences(cases, s) for s in suites)))}
    table, _ = robustness_cases(["case"], sources, 1000, 0)
    return table


def flip_record(scored):
    return next(m for m in robustness_metrics(scored, LABELS) if m.metric == "robustness_flip_rate")


def test_the_interval_covers_a_planted_upper_case_flip_rate(case_table):
    """Upper-case text flips to angry in 30% of cases (no other noise): the truth is 0.3 x the share of
    originals not already angry x 1/3 (one pair in three is the upper-case one); 95% intervals cover it."""
    model = SimulatedModel([Effect(where={"robustness": "upper"}, cls="angry", flip=0.3)], noise_sd=0.0)
    covered = []
    for seed in range(40):
        scored = model.score(case_table, seed)
        m = flip_record(scored)
        originals = scored[scored["robustness"] == "original"]
        truth = 0.3 * (originals["pred"] != "angry").mean() / 3
        covered.append(m.ci[0] <= truth <= m.ci[1])
        upper = m.details["by_variant"]
        assert upper["lower"]["flip_rate"] == upper["title"]["flip_rate"] == 0.0  # only upper case was planted
    assert np.mean(covered) >= 0.9, np.mean(covered)
    assert m.suite == "templates" and m.group == "case" and m.attribute == "robustness"
    assert m.n == 3 * 463 and m.n_min == 463 and m.details["invariance"] == pytest.approx(1 - m.value)


def test_clustered_noise_intervals_cover_the_mean_rate(case_table):
    """A noisy model (family effects put some texts near a boundary, sentence noise flips them) with the planted
    upper-case flips: the three variants of a text are correlated; cluster intervals cover the mean rate of
    40 runs (the truth, as in the coverage study) about 95% of the time."""
    model = SimulatedModel([Effect(where={"robustness": "upper"}, cls="angry", flip=0.3)], noise_sd=0.3)
    records = [flip_record(model.score(case_table, seed)) for seed in range(40)]
    truth = np.mean([m.value for m in records])
    assert 0.88 <= np.mean([m.ci[0] <= truth <= m.ci[1] for m in records]) <= 1.0


def test_a_fair_model_passes_and_an_upper_case_sensitive_one_fails_the_rule(case_table):
    gate = gates.Gate.model_validate({"rules": [{"name": "robust", "metric": "robustness_flip_rate", "max": 0.10}]})
    fair = [m.to_dict() for m in robustness_metrics(SimulatedModel(noise_sd=0.1).score(case_table, 0), LABELS)]
    assert gates.evaluate(gate, fair)["verdict"] == "pass"
    shouty = SimulatedModel([Effect(where={"robustness": "upper"}, cls="angry", flip=0.9)], noise_sd=0.1)
    result = gates.evaluate(gate, [m.to_dict() for m in robustness_metrics(shouty.score(case_table, 0), LABELS)])
    assert result["verdict"] == "fail" and result["rules"][0]["worst"]["id"] == \
        "robustness_flip_rate/templates/robustness/case"


def test_delta_p_is_the_mean_move_of_the_original_class(case_table):
    scored = SimulatedModel(noise_sd=0.0).score(case_table, 0)
    d = next(m for m in robustness_metrics(scored, LABELS) if m.metric == "robustness_delta_p")
    assert d.value == pytest.approx(0.0, abs=1e-12) and d.ci == (0.0, 0.0)  # nothing moves without noise
    moved = scored.copy()
    upper = moved["robustness"] == "upper"
    moved.loc[upper, [f"p_{l}" for l in LABELS]] = 0.25  # every upper-case variant: a flat distribution
    d = next(m for m in robustness_metrics(moved, LABELS) if m.metric == "robustness_delta_p")
    originals = scored[scored["robustness"] == "original"]
    own = originals[[f"p_{l}" for l in LABELS]].max(axis=1)
    assert d.value == pytest.approx(float((own - 0.25).abs().sum() / (3 * len(originals))))
    assert d.ci[0] <= d.value <= d.ci[1]


MODEL = '''
import numpy as np
labels = ["happy", "sad", "neutral"]
def predict(texts):
    out = []
    for t in texts:
        p = [0.7, 0.15, 0.15] if "love" in t.lower() else [0.15, 0.15, 0.7]
        out.append([0.1, 0.8, 0.1] if t.isupper() else p)  # shouting reads as sad
    return np.array(out)
predict.labels = labels
'''


@pytest.fixture(scope="module")
def shouty(tmp_path_factory):
    path = tmp_path_factory.mktemp("rb") / "shouty.py"
    path.write_text(MODEL)
    return f"{path}:predict"


def test_audit_reports_and_gates_robustness(shouty, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text('text\n"I love it <script>alert(1)</script>"\nthe gallery opens at ten\n"She loves the new wing!"\n')
    gate = tmp_path / "g.yaml"
    gate.write_text("min_n: 3\nrules:\n  - {name: case, metric: robustness_flip_rate, group: case, max: 0.10}\n"
                    "  - {name: typos, metric: robustness_flip_rate, suite: data, group: typos, max: 0.5}\n")
    out = tmp_path / "a"
    code = audit_main(["run", "--model", shouty, "--data", str(data), "--suite", "none", "--robustness", "case,typos", "--gate", str(gate), "--out", str(out), "--cache-dir", "", "-q"])
    results = json.loads((out / "results.json").read_text())
    rb = results["robustness"]
    assert [p["name"] for p in rb["perturbations"]] == ["case", "typos"] and rb["texts"]["data"] == 3  # (the gender swap makes the case table)
    records = {m["id"]: m for m in results["metrics"] if m["kind"] == "robustness"}
    case = records["robustness_flip_rate/data/robustness/case"]
    assert case["details"]["by_variant"]["upper"]["flip_rate"] == 1.0 and case["value"] == pytest.approx(3 / 8)  # "the gallery ..." has no lower-case variant
    assert all("/data/" in i for i in records)  # --data alone: no suites, so no template sentences
    verdicts = [r["verdict"] for r in results["gate"]["rules"]]
    assert code == 1 and verdicts[0] == "fail"
    assert results["run"]["cases"] == sum(results["coverage"]["cases_by_suite"].values())  # kept out of the cases
    html = (out / "report.html").read_text()
    assert 'id="robustness"' in html and "Worst pairs: case" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "### Robustness" in (out / "summary.md").read_text()
    assert audit_main(["report", str(out)]) == 0 and 'id="robustness"' in (out / "report.html").read_text()


def test_robustness_none_and_bad_values(shouty, tmp_path, capsys):
    out = tmp_path / "n"
    base = ["run", "--model", shouty, "--suite", "identity", "--max-cases", "200", "--cache-dir", "", "-q",
            "--no-fail"]
    assert audit_main(base + ["--robustness", "none", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["robustness"]["perturbations"] == [] and not any(m["kind"] == "robustness"
                                                                    for m in results["metrics"])
    assert audit_main(base + ["--robustness", "punctuation", "--robustness-sample", "5", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    flips = [m for m in results["metrics"] if m["metric"] == "robustness_flip_rate"]
    assert [m["id"] for m in flips] == ["robustness_flip_rate/identity/robustness/punctuation"]
    assert flips[0]["n_min"] == 5 and results["robustness"]["texts"] == {"identity": 5}
    capsys.readouterr()
    gate = tmp_path / "typo.yaml"
    gate.write_text("rules: [{name: r, metric: robustness_flip_rate, group: typo, max: 0.1}]\n")
    for extra, why in ((["--robustness", "typo"], "unknown perturbation 'typo'"),
                       (["--robustness", "case,case"], "named twice"),
                       (["--robustness-sample", "0"], "--robustness-sample"),
                       (["--gate", str(gate)], "'typo' matches no group")):
        assert audit_main(base + extra + ["--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and why in err and "\n" not in err
        assert not (tmp_path / "x").exists()
