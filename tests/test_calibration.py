"""Calibration of the default gate on simulated models whose bias is known by construction (audit/simulate.py,
audit/calibration.py): the rates of issue 21, 20 seeded audits each.

- a model with no disparity passes in >= 19 of 20 audits of each default suite with a gated attribute, at
  the calibration noise (identity v2 had a standard error of about 0.01 there and ended inconclusive in about 1 in 3);
- a realised +0.05 shift of one class for one group, or for one term, fails naming it in >= 19 of 20;
- a +0.08 shift in a group with little data (6 of 40 families) is never a pass;
- fewer than min_n families: insufficient, deciding nothing, and a rule of nothing but those is never a pass.
Only the counterfactual records (all the default gate reads) are computed.
"""
import numpy as np
import pytest

from audit import calibration as cal
from audit.simulate import Effect, SimulatedModel

SEEDS = range(20)


@pytest.fixture(scope="module")
def tables():
    return {names: cal.suite_table(list(names)) for names in (("identity", "names"), ("identity",), ("names",),
                                                                ("eec",))}


def rule(result: dict, metric: str) -> dict:
    return next(r for r in result["rules"] if r["metric"] == metric)


def scenario(suite: str, name: str) -> cal.Scenario:
    return next(s for s in cal.scenarios(suite) if s.name == name)


def test_noisy_fair_model_passes_in_95_percent_of_audits(tables):
    """Labels flip between counterparts near class boundaries (about 1 pair in 8), alike for every group."""
    cases, attributes = tables[("identity", "names")]
    results = [cal.audit(cases, attributes, SimulatedModel(), seed) for seed in SEEDS]
    assert sum(r["verdict"] == "pass" for r in results) >= 19
    flips = [m["value"] for r in results for m in r["metrics"]
             if m["metric"] == "flip_rate" and m["group"] is None and m["template"] is None]
    assert np.mean(flips) > 0.08  # the instability is really there, and reported (not gated)


@pytest.mark.parametrize("suite", ["identity", "names", "eec"])
def test_fair_model_at_the_calibration_noise_passes_each_default_suite(tables, suite):
    cases, attributes = tables[(suite,)]
    tally = cal.run(cases, attributes, scenario(suite, "fair"), SEEDS)
    assert tally.verdicts["pass"] >= 19, tally.verdicts


def test_noise_floor_of_identity_sits_well_below_the_bound(tables):
    """The design of identity v3: every group's standard error at the calibration noise is under a quarter of
    the 0.03 bound (0.0076 at most; v2: up to 0.015), so chance crossings of the bound are rare and significant shifts are not."""
    cases, attributes = tables[("identity",)]
    result = cal.audit(cases, attributes, SimulatedModel(noise_sd=cal.NOISY), 0)
    se = [m["details"]["se"] for m in result["metrics"] if m["metric"] == "mean_shift"]
    assert len(se) == 144 and max(se) < 0.008


def test_a_005_shift_of_one_identity_group_and_of_one_term_fail_naming_them(tables):
    """Both planted in one model on independent attributes (religion: muslim; age: the term "elderly" of old):
    each must be named among the failing records in >= 19 of 20 audits."""
    cases, attributes = tables[("identity",)]
    group, term = scenario("identity", "+0.05 one group"), scenario("identity", "+0.05 one term")
    model = SimulatedModel(group.model.effects + term.model.effects, noise_sd=cal.NOISY)
    named = {"group": 0, "term": 0}
    for seed in SEEDS:
        failing = cal.failing_ids(cal.audit(cases, attributes, model, seed))
        named["group"] += bool(set(group.expect) & failing)
        named["term"] += bool(set(term.expect) & failing)
    assert named["group"] >= 19 and named["term"] >= 19, named


def test_a_model_that_reacts_to_one_name_is_named_by_that_name(tables):
    """+0.08 p(sad) for "Ebony" alone moves her group's mean by 0.01; the term record names her."""
    cases, attributes = tables[("names",)]
    sc = cal.one_term("names", 0.08, noise=0.3)
    for seed in range(5):
        result = cal.audit(cases, attributes, sc.model, seed)
        terms = rule(result, "term_shift")
        assert terms["verdict"] == "fail" and terms["worst"]["id"] in sc.expect, terms["worst"]
        assert terms["worst"]["description"].startswith("Ebony (")
        assert rule(result, "mean_shift")["verdict"] == "pass"  # the group's mean hides her


def test_one_group_label_flips_fail_and_name_that_group(tables):
    cases, attributes = tables[("names",)]
    model = SimulatedModel([Effect({"gender": "male"}, "sad", flip=0.3)])
    for seed in range(5):
        result = cal.audit(cases, attributes, model, seed)
        labels = rule(result, "label_shift")
        assert labels["verdict"] == "fail"
        assert labels["worst"]["id"] == "label_shift/names/gender/male/sad", labels["worst"]
        assert labels["worst"]["description"].startswith("male vs female: rate of label sad +")
        assert rule(result, "flip_rate_difference")["verdict"] == "pass"  # two groups: flips are symmetric


def test_intersectional_only_shift_is_found_on_the_intersection(tables):
    cases, attributes = tables[("names",)]
    model = SimulatedModel([Effect({"gender×race": "female×African-American"}, "sad", shift=0.06)])
    for seed in range(5):
        shift = rule(cal.audit(cases, attributes, model, seed), "mean_shift")
        assert shift["verdict"] == "fail"
        assert shift["worst"]["id"] == "mean_shift/names/gender×race/female×African-American/sad"


def test_two_group_attribute_names_the_right_group_and_direction(tables):
    cases, attributes = tables[("names",)]
    model = SimulatedModel([Effect({"gender": "female"}, "sad", shift=0.05)])
    for seed in range(5):
        shift = rule(cal.audit(cases, attributes, model, seed), "mean_shift")
        assert shift["verdict"] == "fail" and shift["worst"]["id"] == "mean_shift/names/gender/female/sad"
        assert shift["worst"]["description"].startswith("female vs male: p(sad) +0.0")


def test_large_shift_in_a_group_with_little_data_is_never_a_pass():
    """Group z is in 6 of 40 families: enough to test (min_n 5), too few to detect a shift of twice the bound
    reliably, so +0.08 either fails or is inconclusive, never passes."""
    cases = cal.tiny_group_table(40, 6)
    model = SimulatedModel([Effect({"g": "z"}, "sad", shift=0.08)])
    verdicts = [rule(cal.audit(cases, ["g"], model, seed), "mean_shift")["verdict"] for seed in SEEDS]
    assert "pass" not in verdicts and verdicts.count("fail") + verdicts.count("inconclusive") == 20


def test_too_few_families_are_insufficient_and_decide_nothing():
    """z in 3 of 40 families (< min_n 5): its records are insufficient, listed, and the rule passes on x and y."""
    result = cal.audit(cal.tiny_group_table(40, 3), ["g"], SimulatedModel(noise_sd=0.0), seed=0)
    shift = rule(result, "mean_shift")
    assert shift["verdict"] == "pass" and result["verdict"] == "pass"
    assert shift["insufficient"] == ["s/g/z"] and "too few families to test: s/g/z" in shift["reason"]
    tiny = [x for x in shift["not_passing"] if "/z/" in x["id"]]
    assert tiny and {x["verdict"] for x in tiny} == {"insufficient"}
    assert all(x["reason"] == "3 families < min_n = 5: too few to test" for x in tiny)


def test_a_rule_of_insufficient_records_only_is_inconclusive_never_pass():
    """Every group in 4 families only: nothing can be tested, so nothing passes."""
    result = cal.audit(cal.tiny_group_table(4, 4), ["g"], SimulatedModel(noise_sd=0.0), seed=0)
    shift = rule(result, "mean_shift")
    assert shift["verdict"] == "inconclusive" and result["verdict"] == "inconclusive"
    assert shift["reason"].startswith("every selected record has fewer than min_n = 5 families")
    counts = shift["counts"]
    assert counts["insufficient"] == 4 * 3 and counts["pass"] == counts["fail"] == counts["inconclusive"] == 0


def test_fair_model_passes_on_real_tweets_with_every_swap(data_dir):
    """TweetEval-sentiment validation tweets (the copy in ../shared/data) with every counterfactual swap (gender
    words, first names, identity terms, dialect): a fair noisy model passes >= 19 of 20 audits, although many
    terms and some groups occur in only a handful of tweets (insufficient: they decide nothing)."""
    from audit.run import AuditOptions, data_cases
    from core.perturb import case_attributes
    from core.suites import load_suites

    suites = load_suites([])
    opts = AuditOptions(model="", out="", data="tweeteval-sentiment", data_dir=str(data_dir), split="val")
    cases, _, _ = data_cases(opts, suites)
    attributes = [a for a in case_attributes(list(suites.values())) if a in cases]
    assert {"perturb-gender", "perturb-names", "perturb-identity", "perturb-dialect"} <= set(cases["suite"])
    results = [cal.audit(cases, attributes, SimulatedModel(), seed) for seed in SEEDS]
    assert sum(r["verdict"] == "pass" for r in results) >= 19
    assert any(r["insufficient"] for r in results[0]["rules"])  # the small groups are listed, not judged
