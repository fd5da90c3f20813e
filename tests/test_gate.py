import pytest

from audit import gate as gates
from core.errors import InputError


def gate(**rule):
    return gates.Gate(min_n=10, rules=[{"name": "r", "metric": "mean_shift", **rule}])


def record(value, ci=None, n=100, p=None, **kw):
    return {"id": kw.pop("id", "m/s/a"), "metric": "mean_shift", "suite": "s", "attribute": "a", "group": None, "class": None,
            "template": None, "value": value, "ci": ci, "n": n, "p_adjusted": p, **kw}


@pytest.mark.parametrize("rule, rec, verdict", [
    ({"max": 0.1}, record(0.2, [0.15, 0.25]), "fail"),
    ({"max": 0.1}, record(0.05, [0.01, 0.15]), "inconclusive"),   # within, but the interval crosses the bound
    ({"max": 0.1}, record(0.05, [0.01, 0.08]), "pass"),
    ({"max": 0.1}, record(0.12, [0.05, 0.2]), "fail"),            # the estimate decides a non-significant rule
    ({"min": 0.8}, record(0.7, [0.6, 0.75]), "fail"),
    ({"min": 0.8}, record(0.9, [0.85, 0.95]), "pass"),
    ({"min": 0.8}, record(0.85, [0.75, 0.95]), "inconclusive"),
    ({"max_abs": 0.03, "significant": True}, record(-0.05, [-0.07, -0.03], p=0.001), "fail"),
    # beyond the bound but not significant: the data cannot vouch either way (issue 8; was "pass")
    ({"max_abs": 0.03, "significant": True}, record(-0.05, [-0.09, 0.01], p=0.2), "inconclusive"),
    ({"max_abs": 0.03, "significant": True}, record(0.01, [-0.01, 0.04], p=0.001), "pass"),
    ({"max": 0.05, "significant": True}, record(0.2, [0.1, 0.3]), "fail"),   # no test: whole interval beyond
    ({"max": 0.05, "significant": True}, record(0.2, [0.01, 0.4]), "inconclusive"),
    ({"max": 0.1}, record(0.0, [0.0, 0.0], n=5), "insufficient"),           # too few families: decides nothing
    ({"max": 0.1}, record(0.0, [0.0, 0.0], n=500, n_min=6), "insufficient"),  # min_n is per smallest group
    # beyond the bound, not significant: powered (se 0.006 over 200 families: a 0.06 shift is found) -> pass
    ({"max_abs": 0.03, "significant": True},
     record(0.034, [0.022, 0.046], p=0.3, details={"se": 0.006, "df": 199}), "pass"),
    # the same estimate with se 0.035: a shift of 0.06 could hide in the noise -> inconclusive
    ({"max_abs": 0.03, "significant": True},
     record(0.034, [-0.035, 0.103], p=0.9, details={"se": 0.035, "df": 199}), "inconclusive"),
    ({"max": 0.1}, record(None), "inconclusive"),                            # empty group: never a pass
])
def test_judge(rule, rec, verdict):
    g = gate(**rule)
    assert gates.judge(rec, g.rules[0], g)[0] == verdict


def test_power_is_judged_at_the_corrected_level():
    """se 0.016 over 200 families: one test's critical value 1.97 * 0.016 = 0.032 <= 0.06 (any shift past twice
    the bound would be significant), over 1000 tests 4.2 * 0.016 = 0.067 > 0.06; so the same non-significant
    excess passes alone and is inconclusive among many."""
    g = gate(max_abs=0.03, significant=True)
    rec = record(0.035, [0.003, 0.067], p=0.4, details={"se": 0.016, "df": 199})
    assert gates.judge(rec, g.rules[0], g, tests=1)[0] == "pass"
    verdict, reason = gates.judge(rec, g.rules[0], g, tests=1000)
    assert verdict == "inconclusive" and "too few families to tell a shift of 0.06 from noise" in reason


def test_rule_takes_the_worst_record_and_empty_selection_is_inconclusive():
    g = gates.Gate(rules=[{"name": "flips", "metric": "mean_shift", "max": 0.1},
                          {"name": "none", "metric": "mean_shift", "attribute": "race", "max": 1},
                          {"name": "n/a", "metric": "dp_ratio", "max": 1}])
    result = gates.evaluate(g, [record(0.01, [0, 0.02], id="a"), record(0.5, [0.4, 0.6], id="b"),
                                record(0.05, [0.0, 0.2], id="c")])
    flips, none, absent = result["rules"]
    assert flips["verdict"] == "fail" and flips["worst"]["id"] == "b"
    assert flips["counts"] == {"pass": 1, "inconclusive": 1, "fail": 1, "insufficient": 0}
    assert none["verdict"] == "inconclusive" and "never a pass" in none["reason"]
    # a rule with no selector whose metric the run never produces: not applicable, it hides nothing
    assert absent["verdict"] == "pass" and not absent["applicable"] and absent["reason"].startswith("not applicable")
    assert result["verdict"] == "fail"


def test_a_run_where_no_rule_applies_is_inconclusive():
    g = gates.Gate(rules=[{"name": "n/a", "metric": "dp_ratio", "max": 1}])
    result = gates.evaluate(g, [record(0.01, [0, 0.02], id="a")])
    assert result["rules"][0]["verdict"] == "pass" and result["verdict"] == "inconclusive"


def test_selectors():
    rule = gates.Rule(name="r", metric="mean_shift", attribute="gender", **{"class": "happy"}, max=0.1)
    assert rule.selects(record(0.1, attribute="gender", **{"class": "happy"}))
    assert not rule.selects(record(0.1, attribute="race", **{"class": "happy"}))
    assert not rule.selects(record(0.1, attribute="gender", **{"class": "happy", "template": "t1"}))
    assert gates.Rule(name="r", metric="mean_shift", template="*", max=1).selects(record(0.1, template="t1"))


def test_baseline_regression_detected_and_not_detected():
    g = gates.Gate(baseline_margin=0.02, rules=[{"name": "shift", "metric": "mean_shift", "max_abs": 0.5}])
    old = [record(0.01, [0.0, 0.02], id="x")]
    worse = gates.evaluate(g, [record(0.08, [0.06, 0.10], id="x")], old)
    assert [r["verdict"] for r in worse["rules"]] == ["pass", "fail"] and worse["verdict"] == "fail"
    assert "unpaired" in worse["rules"][1]["reason"]  # old records alone: no per-family pairing
    within = gates.evaluate(g, [record(0.025, [0.01, 0.04], id="x")], old)  # moved less than the margin
    assert within["rules"][1]["verdict"] == "pass"
    noisy = gates.evaluate(g, [record(0.04, [0.005, 0.075], id="x")], old)  # beyond the margin, not significant
    assert noisy["rules"][1]["verdict"] == "inconclusive"
    parity = gates.evaluate(g, [record(-0.04, [-0.09, 0.01], id="x")], old)  # a signed record back at parity
    assert parity["rules"][1]["verdict"] == "pass"


def test_gate_from_yaml_and_pyproject(tmp_path):
    default, source = gates.load_gate()
    # the default gates disparities (issue 8); symmetric instability (flip_rate) only in the strict preset
    assert source.endswith("default_gate.yaml") and {r.metric for r in default.rules} == {
        "mean_shift", "term_shift", "label_shift", "flip_rate_difference"}
    strict, source = gates.load_gate("strict")
    assert source.endswith("strict_gate.yaml") and "flip_rate" in {r.metric for r in strict.rules}
    (tmp_path / "pyproject.toml").write_text("""[tool.fairaudit.gate]
alpha = 0.01
rules = [{name = "parity", metric = "dp_difference", max = 0.2, significant = true}]
""")
    g, _ = gates.load_gate(tmp_path / "pyproject.toml")
    assert g.alpha == 0.01 and g.rules[0].max == 0.2
    (tmp_path / "bad.yaml").write_text("rules:\n  - {name: x, metric: mean_shift, max: 0.1, min: 0.2}\n")
    with pytest.raises(InputError, match="bad.yaml: field rules.0: .*exactly one of max, min, max_abs"):
        gates.load_gate(tmp_path / "bad.yaml")
    with pytest.raises(InputError, match="file not found"):
        gates.load_gate(tmp_path / "missing.yaml")


@pytest.mark.parametrize("rule, field, message", [
    ("{name: x, metric: mean_shift, max_abs: .nan}", "rules.0.max_abs", "finite number"),
    ("{name: x, metric: mean_shift, max: .inf}", "rules.0.max", "finite number"),
    ("{name: x, metric: mean_shift, max_abs: -0.03}", "rules.0.max_abs", "greater than or equal to 0"),
    ("{name: x, metric: dp_difference, max: -0.1}", "rules.0", "never negative"),
    ("{name: x, metric: mean_shfit, max_abs: 0.03}", "rules.0.metric", "unknown metric 'mean_shfit'"),
])
def test_bad_rules_are_refused_at_load_time(tmp_path, rule, field, message):
    path = tmp_path / "gate.yaml"
    path.write_text(f"rules:\n  - {rule}\n")
    with pytest.raises(InputError) as err:
        gates.load_gate(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: field {field}:") and message in text, text


def test_selectors_that_match_nothing_are_refused():
    names = {"suite": {"eec", "names"}, "attribute": {"gender", "race"}, "group": {"female", "male"},
             "class": {"happy", "sad"}, "template": {"feels"}}
    ok = gates.Gate(rules=[{"name": "r", "metric": "mean_shift", "suite": "eec", "group": "female",
                            "class": "sad", "template": "feels", "max_abs": 0.1}])
    gates.check_selectors(ok, "g.yaml", names)
    for key, value in [("suite", "eeec"), ("attribute", "gendr"), ("group", "femal"), ("class", "Sad"),
                       ("template", "nope")]:
        bad = gates.Gate(rules=[{"name": "r", "metric": "mean_shift", key: value, "max_abs": 0.1}])
        with pytest.raises(InputError, match=rf"g.yaml: field rules.0.{key}: '{value}' matches no {key}"):
            gates.check_selectors(bad, "g.yaml", names)


def test_worst_case_is_the_strongest_evidence_and_mirrors_name_the_group_that_gets_more():
    g = gates.Gate(rules=[{"name": "shift", "metric": "mean_shift", "max_abs": 0.03, "significant": True}])
    mk = lambda id_, v, ci, p, base=0.2: record(v, ci, p=p, id=id_, details={"base_rate": base})
    records = [mk("big-but-noisy", 0.09, [0.01, 0.17], 0.01), mk("female/sad", 0.06, [0.05, 0.07], 1e-9),
               mk("male/sad", -0.06, [-0.07, -0.05], 1e-9)]
    worst = gates.evaluate(g, records)["rules"][0]["worst"]
    assert worst["id"] == "female/sad"   # not the alphabetical first, not the largest raw value
    flips = [mk("female/neutral", 0.05, [0.04, 0.06], 1e-9, base=0.8), mk("male/angry", 0.05, [0.04, 0.06], 1e-9, 0.1),
             mk("female/angry", -0.05, [-0.06, -0.04], 1e-9, 0.1)]
    assert gates.evaluate(g, flips)["rules"][0]["worst"]["id"] == "male/angry"  # the atypical outcome


def test_correction_covers_only_the_gated_tests():
    g = gates.Gate(rules=[{"name": "shift", "metric": "mean_shift", "max_abs": 0.03, "significant": True}])
    gated = [dict(record(0.05, [0.04, 0.06], id=f"s{i}"), p_value=0.01) for i in range(2)]
    other = [dict(record(0.5, [0.4, 0.6], id=f"d{i}"), metric="dp_difference", p_value=0.01) for i in range(50)]
    result = gates.evaluate(g, gated + other)
    assert result["tests_corrected"] == 2 and gated[0]["p_adjusted"] == pytest.approx(0.02)
    assert result["verdict"] == "fail"


def test_a_rule_selecting_nothing_stops_the_run_before_scoring(tmp_path, capsys):
    from audit.__main__ import main as audit_main

    (tmp_path / "model.py").write_text("import numpy as np\n"
                                       "def predict(texts):\n    raise AssertionError('scored')\n"
                                       "predict.labels = ['pos', 'neg']\n")
    (tmp_path / "gate.yaml").write_text("rules: [{name: r, metric: mean_shift, suite: identty, max_abs: 0.03}]\n")
    code = audit_main(["run", "--model", f"{tmp_path / 'model.py'}:predict", "--suite", "identity", "--gate",
                       str(tmp_path / "gate.yaml"), "--out", str(tmp_path / "out"), "--cache-dir", "", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "rules.0.suite: 'identty' matches no suite" in err[0]
    assert not (tmp_path / "out").exists()


def test_a_rule_may_set_its_own_min_n_and_call_underpowered_records_insufficient():
    """The default term rule: judged from 20 families, and a term whose data cannot tell 0.08 from noise decides
    nothing (its group's rule still judges the group); a significant excess still fails."""
    g = gates.Gate(min_n=5, rules=[{"name": "t", "metric": "mean_shift", "max_abs": 0.04, "significant": True,
                                    "min_n": 20, "underpowered": "insufficient"}])
    rule = g.rules[0]
    weak = record(0.05, [-0.02, 0.12], p=0.9, n_min=30, details={"se": 0.03, "df": 29})
    assert gates.judge(weak, rule, g, tests=100) == ("insufficient", "too few families to tell a shift of 0.08 from noise")
    assert gates.judge({**weak, "n_min": 12}, rule, g)[1] == "12 families < min_n = 20: too few to test"
    assert gates.judge({**weak, "p_adjusted": 0.001}, rule, g, tests=100)[0] == "fail"
    strong = record(0.05, [0.03, 0.07], p=0.2, n_min=300, details={"se": 0.01, "df": 299})
    assert gates.judge(strong, rule, g, tests=100)[0] == "pass"  # powered: 3.9 * 0.01 <= 0.08
    with pytest.raises(Exception):
        gates.Gate(rules=[{"name": "t", "metric": "mean_shift", "max": 0.1, "underpowered": "skip"}])
