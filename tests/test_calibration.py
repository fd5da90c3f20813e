"""Calibration of the default gate on simulated models whose bias is known by construction (audit/simulate.py).

Each scenario of issue 8 in a few seeded audits: the gate must pass noisy fair models, and must fail biased
ones naming the right group, class and direction. Only the counterfactual metrics are computed (all the
default gate reads), which keeps the whole file to well under a minute.
"""
import numpy as np
import pandas as pd
import pytest

from audit import gate as gates
from core.cases import attributes_of, build_cases
from audit.metrics import all_metrics
from audit.simulate import LABELS, Effect, SimulatedModel
from core.suites import select_suites


@pytest.fixture(scope="module")
def tables():
    out = {}
    for names in (("identity", "names"), ("identity",), ("names",)):
        suites = select_suites(list(names))
        out[names] = (build_cases(suites), attributes_of(suites))
    return out


def audit(cases: pd.DataFrame, attributes: list[str], model: SimulatedModel, seed: int) -> dict:
    scored = model.score(cases, seed)
    gate, _ = gates.load_gate()
    metrics = [m.to_dict() for m in all_metrics(scored, LABELS, attributes, seed=seed, slices=False)]
    result = gates.evaluate(gate, metrics)
    result["metrics"] = metrics
    return result


def rule(result: dict, metric: str) -> dict:
    return next(r for r in result["rules"] if r["metric"] == metric)


def test_noisy_fair_model_passes_in_95_percent_of_audits(tables):
    """Labels flip between counterparts near class boundaries (about 1 pair in 8), alike for every group."""
    cases, attributes = tables[("identity", "names")]
    results = [audit(cases, attributes, SimulatedModel(), seed) for seed in range(20)]
    assert sum(r["verdict"] == "pass" for r in results) >= 19
    flips = [m["value"] for r in results for m in r["metrics"]
             if m["metric"] == "flip_rate" and m["group"] is None and m["template"] is None]
    assert np.mean(flips) > 0.08  # the instability is really there, and reported (not gated)


def test_one_group_label_flips_fail_and_name_that_group(tables):
    cases, attributes = tables[("names",)]
    model = SimulatedModel([Effect({"gender": "male"}, "sad", flip=0.3)])
    for seed in range(5):
        result = audit(cases, attributes, model, seed)
        labels = rule(result, "label_shift")
        assert labels["verdict"] == "fail"
        assert labels["worst"]["id"] == "label_shift/names/gender/male/sad", labels["worst"]
        assert labels["worst"]["description"].startswith("male vs female: rate of label sad +")
        assert rule(result, "flip_rate_difference")["verdict"] == "pass"  # two groups: flips are symmetric


def test_one_identity_shifted_by_005_is_detected(tables):
    cases, attributes = tables[("identity",)]
    model = SimulatedModel([Effect({"religion": "muslim"}, "sad", shift=0.05)])
    results = [audit(cases, attributes, model, seed) for seed in range(20)]
    shifts = [rule(r, "mean_shift") for r in results]
    assert sum(s["verdict"] == "fail" for s in shifts) >= 19
    assert all(s["worst"]["id"] == "mean_shift/identity/religion/muslim/sad" for s in shifts if s["verdict"] == "fail")


def test_intersectional_only_shift_is_found_on_the_intersection(tables):
    cases, attributes = tables[("names",)]
    model = SimulatedModel([Effect({"gender×race": "female×African-American"}, "sad", shift=0.06)])
    for seed in range(5):
        shift = rule(audit(cases, attributes, model, seed), "mean_shift")
        assert shift["verdict"] == "fail"
        assert shift["worst"]["id"] == "mean_shift/names/gender×race/female×African-American/sad"


def test_two_group_attribute_names_the_right_group_and_direction(tables):
    cases, attributes = tables[("names",)]
    model = SimulatedModel([Effect({"gender": "female"}, "sad", shift=0.05)])
    for seed in range(5):
        shift = rule(audit(cases, attributes, model, seed), "mean_shift")
        assert shift["verdict"] == "fail" and shift["worst"]["id"] == "mean_shift/names/gender/female/sad"
        assert shift["worst"]["description"].startswith("female vs male: p(sad) +0.0")


def test_tiny_group_is_inconclusive_never_pass():
    """40 families of x and y; group z appears in 6 of them: its records cannot vouch for the model."""
    rows = [{"suite": "s", "family": f"f{i}", "template_id": "t", "template": "t", "text": f"{g} {i}",
             "expected_label": None, "surface": None, "pair": None, "g": g}
            for i in range(40) for g in ("x", "y") + (("z",) if i < 6 else ())]
    cases = pd.DataFrame(rows)
    result = audit(cases, ["g"], SimulatedModel(noise_sd=0.0), seed=0)
    shift = rule(result, "mean_shift")
    assert shift["verdict"] == "inconclusive" and result["verdict"] == "inconclusive"
    tiny = [x for x in shift["not_passing"] if "/z/" in x["id"]]
    assert tiny and all("min_n" in x["reason"] for x in tiny)
