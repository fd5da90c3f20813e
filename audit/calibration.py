"""Calibration of a gate on simulated models whose bias is known (audit/simulate.py): the false-alarm and
detection rates that the README and the report's methodology state, measured by ``scripts/calibration_study.py``
and asserted by ``tests/test_calibration.py``.

One *audit* here is what ``audit run`` does after scoring, restricted to what the default gate reads: the
counterfactual records of the case table, the gate's multiplicity correction and its verdicts.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from audit import gate as gates
from audit.metrics import counterfactual_metrics
from audit.simulate import LABELS, Effect, SimulatedModel
from core.cases import attributes_of, build_cases
from core.suites import select_suites

# What scripts/calibration_study.py measured for the default gate (README "The gate"; the report's methodology).
MEASURED = ("a fair model passes 20 of 20 audits of identity, names and eec each at sentence noise 0.45 and 0.3, "
            "and 20 of 20 of real tweets with every swap; a +0.05 shift of one class for one group fails naming it in "
            "20 of 20 on each suite; a +0.05 shift for one identity term fails naming the term in 20 of 20; a +0.08 "
            "shift of a group seen in 6 of 40 families is never a pass (fail 6, inconclusive 14 of 20); a shift "
            "exactly at the bound goes either way (fails 9 to 20 of 20)")
NOISY = 0.45  # sentence noise (logit sd) at which identity v2's group shifts had a standard error of about 0.01


@dataclass
class Scenario:
    """A simulated model, and the records one of which must fail (``expect``: metric record ids; empty for a
    fair model)."""
    name: str
    model: SimulatedModel
    expect: tuple[str, ...] = ()


@dataclass
class Tally:
    verdicts: Counter = field(default_factory=Counter)
    named: int = 0  # audits that failed naming ``expect`` among the failing records

    def rate(self, verdict: str) -> str:
        return f"{self.verdicts[verdict]}/{sum(self.verdicts.values())}"


def suite_table(names: list[str]) -> tuple[pd.DataFrame, list[str]]:
    suites = select_suites(names)
    return build_cases(suites), attributes_of(suites)


def audit(cases: pd.DataFrame, attributes: list[str], model: SimulatedModel, seed: int,
          gate: gates.Gate | None = None) -> dict:
    """One seeded simulated audit: the gate result plus its ``metrics``."""
    gate = gate or gates.load_gate()[0]
    scored = model.score(cases, seed)
    metrics = [m.to_dict() for suite in scored["suite"].unique() for a in attributes if a in scored
               for m in counterfactual_metrics(scored, LABELS, suite, a, gate.alpha, attributes, per_template=False)]
    result = gates.evaluate(gate, metrics)
    result["metrics"] = metrics
    return result


def failing_ids(result: dict) -> set[str]:
    return {c["id"] for r in result["rules"] for c in r["not_passing"] if c["verdict"] == "fail"}


def run(cases: pd.DataFrame, attributes: list[str], scenario: Scenario, seeds: range) -> Tally:
    tally = Tally()
    for seed in seeds:
        result = audit(cases, attributes, scenario.model, seed)
        tally.verdicts[result["verdict"]] += 1
        tally.named += bool(set(scenario.expect) & failing_ids(result))
    return tally


def tiny_group_table(families: int = 40, tiny: int = 6) -> pd.DataFrame:
    """Groups x and y in every one of ``families`` families, group z in the first ``tiny`` only."""
    rows = [{"suite": "s", "family": f"f{i}", "template_id": "t", "template": "t", "text": f"{g} {i}",
             "expected_label": None, "surface": None, "pair": None, "term": g, "g": g}
            for i in range(families) for g in ("x", "y") + (("z",) if i < tiny else ())]
    return pd.DataFrame(rows)


def one_term(suite: str, shift: float, noise: float = NOISY) -> Scenario:
    """A model that reacts to one term of a group (``elderly`` of age: old; ``Ebony`` of the names)."""
    term = "elderly" if suite == "identity" else "Ebony"
    return Scenario(f"+{shift:g} one term", SimulatedModel([Effect({"term": term}, "sad", shift=shift)], noise_sd=noise),
                    tuple(f"term_shift/{suite}/{a}/{term}/sad" for a in ("age", "race", "gender")))


def scenarios(suite: str, noise: float = NOISY) -> list[Scenario]:
    """The scenarios of issue 21 for one built-in suite: fair, a +0.05 shift of one group, of one term, and a
    shift exactly at the bound."""
    group = {"identity": {"religion": "muslim"}, "names": {"gender": "female"}, "eec": {"race": "African-American"}}[suite]
    (attr, value), = group.items()
    with_noise = dict(noise_sd=noise)
    return [Scenario("fair", SimulatedModel(**with_noise)),
            Scenario("+0.05 one group", SimulatedModel([Effect(group, "sad", shift=0.05)], **with_noise),
                     (f"mean_shift/{suite}/{attr}/{value}/sad",)),
            one_term(suite, 0.05, noise),
            Scenario("at the bound (+0.03)", SimulatedModel([Effect(group, "sad", shift=0.03)], **with_noise))]

