import pytest

from audit import gate as gates
from finetune.errors import InputError


def gate(**rule):
    return gates.Gate(min_n=10, rules=[{"name": "r", "metric": "m", **rule}])


def record(value, ci=None, n=100, p=None, **kw):
    return {"id": kw.pop("id", "m/s/a"), "metric": "m", "suite": "s", "attribute": "a", "group": None, "class": None,
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
    ({"max_abs": 0.03, "significant": True}, record(-0.05, [-0.09, 0.01], p=0.2), "pass"),
    ({"max_abs": 0.03, "significant": True}, record(0.01, [-0.01, 0.04], p=0.001), "pass"),
    ({"max": 0.05, "significant": True}, record(0.2, [0.1, 0.3]), "fail"),   # no test: whole interval beyond
    ({"max": 0.05, "significant": True}, record(0.2, [0.01, 0.4]), "pass"),
    ({"max": 0.1}, record(0.0, [0.0, 0.0], n=5), "inconclusive"),           # too few observations
    ({"max": 0.1}, record(None), "inconclusive"),                            # empty group: never a pass
])
def test_judge(rule, rec, verdict):
    g = gate(**rule)
    assert gates.judge(rec, g.rules[0], g)[0] == verdict


def test_rule_takes_the_worst_record_and_empty_selection_is_inconclusive():
    g = gates.Gate(rules=[{"name": "flips", "metric": "m", "max": 0.1}, {"name": "none", "metric": "other", "max": 1}])
    result = gates.evaluate(g, [record(0.01, [0, 0.02], id="a"), record(0.5, [0.4, 0.6], id="b"),
                                record(0.05, [0.0, 0.2], id="c")])
    flips, none = result["rules"]
    assert flips["verdict"] == "fail" and flips["worst"]["id"] == "b"
    assert flips["counts"] == {"pass": 1, "inconclusive": 1, "fail": 1}
    assert none["verdict"] == "inconclusive" and "never a pass" in none["reason"]
    assert result["verdict"] == "fail"


def test_selectors():
    rule = gates.Rule(name="r", metric="m", attribute="gender", **{"class": "happy"}, max=0.1)
    assert rule.selects(record(0.1, attribute="gender", **{"class": "happy"}))
    assert not rule.selects(record(0.1, attribute="race", **{"class": "happy"}))
    assert not rule.selects(record(0.1, attribute="gender", **{"class": "happy", "template": "t1"}))
    assert gates.Rule(name="r", metric="m", template="*", max=1).selects(record(0.1, template="t1"))


def test_baseline_regression_detected_and_not_detected():
    g = gates.Gate(baseline_margin=0.02, rules=[{"name": "shift", "metric": "m", "max_abs": 0.5}])
    old = [record(0.01, [0.0, 0.02], id="x")]
    worse = gates.evaluate(g, [record(0.08, [0.06, 0.10], id="x")], old)
    assert [r["verdict"] for r in worse["rules"]] == ["pass", "fail"] and worse["verdict"] == "fail"
    noisy = gates.evaluate(g, [record(0.04, [0.0, 0.08], id="x")], old)    # within the margin
    assert noisy["rules"][1]["verdict"] == "pass"
    wide = gates.evaluate(g, [record(0.08, [0.0, 0.16], id="x")], old)     # interval still holds the old value
    assert wide["rules"][1]["verdict"] == "pass"


def test_gate_from_yaml_and_pyproject(tmp_path):
    default, source = gates.load_gate()
    assert source.endswith("default_gate.yaml") and {r.metric for r in default.rules} >= {
        "group_flip_rate", "mean_shift", "dp_difference"}
    (tmp_path / "pyproject.toml").write_text("""[tool.fairaudit.gate]
alpha = 0.01
rules = [{name = "parity", metric = "dp_difference", max = 0.2, significant = true}]
""")
    g, _ = gates.load_gate(tmp_path / "pyproject.toml")
    assert g.alpha == 0.01 and g.rules[0].max == 0.2
    (tmp_path / "bad.yaml").write_text("rules:\n  - {name: x, metric: m, max: 0.1, min: 0.2}\n")
    with pytest.raises(InputError, match="bad.yaml: field rules.0: .*exactly one of max, min, max_abs"):
        gates.load_gate(tmp_path / "bad.yaml")
    with pytest.raises(InputError, match="file not found"):
        gates.load_gate(tmp_path / "missing.yaml")
