"""Paired release comparison (audit/release.py, audit/pairing.py) on simulated releases (audit/simulate.py).

Two releases of one model family share the family effects (same ``seed``) and differ in sentence noise (their
own ``noise_seed``). Issue 20's scenarios, 20 seeded pairs each, on the EEC sentences: a shift for one group
that moves from -0.02 to +0.02 (inside the 0.03 bound both times) must be flagged in at least 19 of 20; two
fair releases in at most 1 of 20; identical releases never. Only the gender contrasts are computed (the
planted effect's attribute; race still defines the matched strata), which keeps the file well under a minute.
"""
import numpy as np
import pytest

from audit import gate as gates, pairing, release
from audit.metrics import counterfactual_metrics
from audit.simulate import LABELS, Effect, SimulatedModel
from core.cases import attributes_of, build_cases
from core.suites import select_suites

RUNS = 20


@pytest.fixture(scope="module")
def eec():
    suites = select_suites(["eec"])
    return build_cases(suites), attributes_of(suites)


def records(scored, attributes) -> list[dict]:
    return [m.to_dict() for m in counterfactual_metrics(scored, LABELS, "eec", "gender", 0.05, attributes)]


def compare(eec, old_model, new_model, seed, old_noise, new_noise) -> tuple[dict, release.Baseline]:
    cases, attributes = eec
    old, new = old_model.score(cases, seed, old_noise), new_model.score(cases, seed, new_noise)
    baseline = release.Baseline(records(old, attributes), pairing.units(old, new, LABELS, attributes, only=["gender"]))
    gate, _ = gates.load_gate()
    return gates.evaluate(gate, records(new, attributes), baseline), baseline


def flagged(result: dict) -> bool:
    return any(r["verdict"] == "fail" for r in result["rules"] if r.get("baseline"))


def test_shift_moving_from_minus_to_plus_002_is_flagged_naming_group_and_class(eec):
    old = SimulatedModel([Effect({"gender": "male"}, "sad", shift=0.02)])    # female vs male: p(sad) -0.02
    new = SimulatedModel([Effect({"gender": "female"}, "sad", shift=0.02)])  # female vs male: p(sad) +0.02
    hits, named = 0, 0
    for seed in range(RUNS):
        result, baseline = compare(eec, old, new, seed, 1000 + seed, 2000 + seed)
        absolute = next(r for r in result["rules"] if r["metric"] == "mean_shift" and not r.get("baseline"))
        assert absolute["verdict"] != "fail"  # inside the 0.03 bound: only the comparison can see it
        hits += flagged(result)
        worst = baseline.comparisons[0]
        named += worst["id"] == "mean_shift/eec/gender/female/sad" and worst["verdict"] == "fail"
        assert worst["paired"] and abs(worst["delta"] - 0.04) < 0.015
        assert worst["ci"][0] < worst["delta"] < worst["ci"][1]
    assert hits >= 19 and named >= 19, (hits, named)


def test_two_fair_releases_with_different_noise_are_flagged_at_most_once_in_20(eec):
    hits = sum(flagged(compare(eec, SimulatedModel(), SimulatedModel(), seed, 1000 + seed, 2000 + seed)[0])
               for seed in range(RUNS))
    assert hits <= 1


def test_identical_releases_are_never_flagged_and_differ_by_exactly_zero(eec):
    for seed in range(5):
        result, baseline = compare(eec, SimulatedModel(), SimulatedModel(), seed, 7, 7)
        assert not flagged(result) and all(r["verdict"] == "pass" for r in result["rules"] if r.get("baseline"))
        assert all(c["delta"] == 0 and c["verdict"] == "pass" for c in baseline.comparisons)


def test_paired_difference_formula():
    # contrasts: weights 1, a paired t over families (mean 0.1, sd 0.1 of the differences, 4 families)
    delta, se, df = release.paired_difference(np.array([0.2, 0.1, 0.3, 0.2]), np.array([0.1, 0.1, 0.1, 0.1]),
                                              np.ones(4))
    d = np.array([0.1, 0.0, 0.2, 0.1])
    assert np.isclose(delta, 0.1) and df == 3 and np.isclose(se, d.std(ddof=1) / 2)
    # rates: a ratio of sums; identical releases differ by exactly zero
    assert release.paired_difference(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([4.0, 4.0]))[:2] == (0.0, 0.0)


def test_min_rules_regress_when_the_value_falls():
    g = gates.Gate(baseline_margin=0.02, rules=[{"name": "acc", "metric": "accuracy", "min": 0.5}])
    rec = lambda v, ci: {"id": "accuracy/s/gender/female", "metric": "accuracy", "value": v, "ci": ci,  # noqa: E731
                         "group": "female", "n": 100, "n_min": 100}
    units = {"accuracy/s/gender/female": (np.array([6.0, 7, 6, 7, 6, 7]), np.array([9.0, 9, 9, 9, 9, 9]),
                                          np.full(6, 10.0))}
    base = release.Baseline([rec(0.9, [0.85, 0.95])], units)
    result = gates.evaluate(g, [rec(0.65, [0.55, 0.75])], base)
    assert result["rules"][1]["verdict"] == "fail" and np.isclose(base.comparisons[0]["delta"], -0.25)
