"""The release gate: rules over metrics, a verdict per rule, an overall verdict, and baseline regressions.

A rule selects metric records (``metric`` plus optional ``suite`` / ``attribute`` / ``group`` / ``class`` /
``template`` selectors, ``"*"`` = any; without ``template`` only whole-suite summaries are selected) and sets
one bound: ``max``, ``min`` or ``max_abs`` (the size of a signed value, e.g. a probability shift).

Verdict of one record against a rule:

* ``insufficient`` when fewer than ``min_n`` families (the rule's, else the gate's) hold its smallest group
  (``n_min``): it decides nothing and is not among the corrected tests; ``inconclusive`` when it has no value;
* ``significant: true``: **fail** when the estimate is beyond the bound *and* the excess is significant
  (adjusted p-value < alpha; without a test, the whole interval beyond the bound); beyond the bound but not
  significant, **pass** when the record is :func:`powered` (any shift of twice the bound would be significant
  at the corrected level: the excess is noise the data can tell apart), else **inconclusive** (or, with
  ``underpowered: insufficient``, an unpowered record decides nothing whatever its estimate); within it **pass**;
* ``significant: false``: **fail** when the estimate is beyond the bound; **inconclusive** when the estimate
  is within it but the interval crosses it (the data cannot vouch for the model); otherwise **pass**.

The multiplicity correction (Holm or Benjamini-Hochberg) covers exactly the tests that ``significant`` rules
use. A rule fails if any selected record fails, is inconclusive if none fails but one is inconclusive, if every
selected record is insufficient or if nothing was selected (a rule with no selector whose metric the run does
not produce at all is *not applicable* and passes), and passes otherwise, naming the groups too small to test;
its *worst case* is the record with the strongest evidence beyond the bound (the interval's near end furthest
past it). The run's verdict is the worst rule verdict; a run where no rule applied is inconclusive. The error
rates of the default gate on simulated models are measured by scripts/calibration_study.py (audit/calibration.py).

Rule kinds follow CheckList's three test types (Ribeiro et al. 2020): INV rules bound ``flip_rate`` (and the
disparity metrics), MFT rules ``mft_failure_rate``, DIR rules ``dir_violation_rate`` with an optional
``tolerance`` (how far p(label) may move against the expected direction before a pair counts as a violation;
default 0.1, audit/functional.py) or ``dir_mean_change``.

Rules are checked twice before any scoring: at load time (known metric, finite bound of the right sign) and,
by :func:`check_selectors`, against the suites, attributes, groups, classes and templates of the run, so that
a typo can never switch a rule off.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from audit import stats
from audit.functional import DEFAULT_TOLERANCE
from audit.records import registry
from core.errors import InputError

DEFAULT_GATE = Path(__file__).with_name("default_gate.yaml")
PRESETS = {"default": DEFAULT_GATE, "strict": Path(__file__).with_name("strict_gate.yaml")}
ORDER = {"pass": 0, "inconclusive": 1, "fail": 2}
RECORD_RANK = {"pass": 0, "insufficient": 1, "inconclusive": 2, "fail": 3}  # a record's verdicts, listed worst first
SELECTORS = (("suite", "suite"), ("attribute", "attribute"), ("group", "group"), ("cls", "class"),
             ("template", "template"))


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str
    metric: str
    suite: str = "*"
    attribute: str = "*"
    group: str = "*"
    cls: str = Field("*", alias="class")
    template: str | None = None
    max: float | None = Field(None, allow_inf_nan=False)
    min: float | None = Field(None, allow_inf_nan=False)
    max_abs: float | None = Field(None, ge=0, allow_inf_nan=False)
    significant: bool = False
    tolerance: float | None = Field(None, ge=0, lt=1, allow_inf_nan=False)  # DIR rules: dir_violation_rate only
    baseline_margin: float | None = Field(None, ge=0, allow_inf_nan=False)  # overrides the gate's for --baseline
    min_n: int | None = Field(None, ge=1)  # overrides the gate's (families) for this rule's records
    # a significant rule's record that is not powered (:func:`powered`) and not failing: inconclusive (default), or
    # insufficient (decides nothing: for fine-grained records such as single terms, whose group's rule covers them)
    underpowered: Literal["inconclusive", "insufficient"] = "inconclusive"

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        if v not in registry():  # the registered metric families' names (audit/records.py)
            raise ValueError(f"unknown metric {v!r} (known: {', '.join(registry())})")
        return v

    @model_validator(mode="after")
    def _one_bound(self):
        if sum(b is not None for b in (self.max, self.min, self.max_abs)) != 1:
            raise ValueError("give exactly one of max, min, max_abs")
        kind, bound = self.bound()
        if registry()[self.metric].scale != "signed" and bound < 0:
            raise ValueError(f"{kind} {bound} is negative, but {self.metric} is never negative")
        if self.tolerance is not None and self.metric != "dir_violation_rate":
            raise ValueError(f"tolerance applies to dir_violation_rate rules only, not {self.metric}")
        return self

    def bound(self) -> tuple[str, float]:
        for key in ("max", "min", "max_abs"):
            if getattr(self, key) is not None:
                return key, getattr(self, key)
        raise AssertionError

    def selects(self, m: dict) -> bool:
        if m["metric"] != self.metric:
            return False
        for key, want in (("suite", self.suite), ("attribute", self.attribute), ("group", self.group),
                          ("class", self.cls)):
            if want != "*" and m.get(key) != want:
                return False
        tolerance = (m.get("details") or {}).get("tolerance")  # DIR records: one per tolerance a rule asks for
        if tolerance is not None and tolerance != (DEFAULT_TOLERANCE if self.tolerance is None else self.tolerance):
            return False
        if self.template is None:
            return m.get("template") is None
        return self.template == "*" or m.get("template") == self.template


class Gate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alpha: float = Field(0.05, gt=0, lt=1)
    min_n: int = Field(10, ge=1)
    correction: Literal["holm", "bh"] = "holm"
    baseline_margin: float = Field(0.02, ge=0)
    rules: list[Rule] = Field(min_length=1)


def load_gate(path: str | Path | None = None) -> tuple[Gate, str]:
    """A gate YAML file, ``[tool.fairaudit.gate]`` in a pyproject.toml, or a shipped preset: ``default`` (also
    when no path is given) or ``strict`` (adds the invariance rule)."""
    path = PRESETS.get(str(path), Path(path)) if path else DEFAULT_GATE
    if not path.is_file():
        raise InputError(f"--gate {path}: file not found")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text()).get("tool", {}).get("fairaudit", {}).get("gate")
            if data is None:
                raise InputError(f"{path}: no [tool.fairaudit.gate] table")
        else:
            data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot parse: {str(exc).splitlines()[0]}") from exc
    try:
        return Gate.model_validate(data), str(path)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(f"{path}: field {'.'.join(map(str, err['loc']))}: {err['msg']}") from exc


def dir_tolerances(gate: Gate) -> list[float]:
    """The DIR tolerances to measure: the default and every one a rule sets."""
    return sorted({DEFAULT_TOLERANCE} | {r.tolerance for r in gate.rules if r.tolerance is not None})


def check_selectors(gate: Gate, source: str, names: dict[str, set[str]]) -> None:
    """Refuse a rule whose suite / attribute / group / class / template selector matches nothing in this run.

    ``names``: the values that exist, keyed by selector (``class``: the model's labels). Called after the cases
    are built and the model is loaded, before any scoring.
    """
    for i, rule in enumerate(gate.rules):
        for attr, key in SELECTORS:
            want = getattr(rule, attr)
            if want in (None, "*") or want in names.get(key, set()):
                continue
            known = sorted(names.get(key, set()))
            shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            raise InputError(f"{source}: field rules.{i}.{key}: {want!r} matches no {key} of this run "
                             f"(known: {shown or 'none'}); a rule that selects nothing would never fail")


def names_in_run(cases, attributes: list[str], labels: list[str]) -> dict[str, set[str]]:
    """What a rule may select in this run: suites, attributes, groups (and "g1 vs g2" pairs), classes, templates."""
    groups: set[str] = set()
    for a in attributes:
        values = sorted(str(v) for v in cases[a].dropna().unique())
        groups |= set(values) | {f"{x} vs {y}" for i, x in enumerate(values) for y in values[i + 1:]}
    return {"suite": set(cases["suite"].unique()), "attribute": set(attributes), "group": groups,
            "class": set(labels), "template": set(cases["template_id"].dropna().astype(str).unique())}


def _oriented(m: dict, rule: Rule) -> tuple[float, float | None, float | None, float]:
    """Value, interval and bound turned so that "beyond the bound" always means "larger"."""
    value, ci = m["value"], m.get("ci")
    kind, bound = rule.bound()
    lo, hi = (ci if ci and ci[0] is not None else (None, None))
    if kind == "max_abs":
        value = abs(value)
        if lo is not None:
            lo, hi = (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))), max(abs(lo), abs(hi))
    if kind == "min":
        value, bound = -value, -bound
        if lo is not None:
            lo, hi = -hi, -lo
    return value, lo, hi, bound


def powered(m: dict, rule: Rule, gate: Gate, tests: int) -> bool:
    """Whether the record's test would call any shift of twice the bound significant at the corrected level.

    For a contrast tested against zero over F families (standard error ``se``, F - 1 df): the Bonferroni critical
    value c = t_{1 - alpha / (2 m), F-1} over the m tests the gate corrects (Holm's first step; a conservative
    stand-in for its later steps and for BH); powered when c * se <= 2 * bound. A non-significant estimate of a
    powered record then lies below twice the bound for sure, and a true shift of twice the bound is found at
    least half the time. Few families make both se and c large (the t quantile far in the tail at 5 df is several
    times that at 50), so a group seen in a handful of families is not powered. Only ``max`` / ``max_abs`` rules
    over records that carry ``se`` qualify.
    """
    se, df = (m.get("details") or {}).get("se"), (m.get("details") or {}).get("df")
    kind, bound = rule.bound()
    if not se or not df or kind == "min" or bound <= 0:
        return False
    return se * stats.t_quantile(1 - gate.alpha / (2 * max(tests, 1)), df) <= 2 * bound


def _min_n(rule: Rule, gate: Gate) -> int:
    return rule.min_n if rule.min_n is not None else gate.min_n


def _families(m: dict) -> int:
    """The record's independent units (``n_min``: families holding its smallest group; else ``n``)."""
    return m.get("n_min") if m.get("n_min") is not None else (m.get("n") or 0)


def judge(m: dict, rule: Rule, gate: Gate, tests: int = 1) -> tuple[str, str]:
    """Verdict and a one-line reason for one metric record (``tests``: how many tests the gate corrects over).

    ``insufficient`` (fewer than ``min_n`` families) decides nothing; see the module docstring for the rest.
    """
    value, n = m.get("value"), _families(m)
    if value is None:
        return "inconclusive", "no value (empty or degenerate group)"
    if n < _min_n(rule, gate):
        return "insufficient", f"{n} families < min_n = {_min_n(rule, gate)}: too few to test"
    kind, _ = rule.bound()
    value, lo, hi, bound = _oriented(m, rule)
    beyond = value > bound
    shown = f"{abs(value) if kind == 'max_abs' else (-value if kind == 'min' else value):.4f}"
    where = f"{kind} {abs(bound)}"
    if rule.significant:
        p = m.get("p_adjusted")
        if beyond and p is not None and p < gate.alpha:
            return "fail", f"{shown} beyond {where}, adjusted p = {p:.2g} < {gate.alpha}"
        if rule.underpowered == "insufficient" and p is not None and not powered(m, rule, gate, tests):
            return "insufficient", f"too few families to tell a shift of {2 * abs(bound):g} from noise"
        if not beyond:
            return "pass", f"{shown} within {where}"
        if p is not None and powered(m, rule, gate, tests):
            return "pass", (f"{shown} beyond {where} by chance: not significant (adjusted p = {p:.2g}) where any "
                            f"shift past {2 * abs(bound):g} would be")
        if p is not None:
            return "inconclusive", (f"{shown} beyond {where}, not significant (adjusted p = {p:.2g}), and too few "
                                    f"families to tell a shift of {2 * abs(bound):g} from noise")
        if lo is not None and lo > bound:
            return "fail", f"{shown} beyond {where}, whole interval beyond it"
        return "inconclusive", f"{shown} beyond {where} but the interval reaches it (not significant)"
    if beyond:
        return "fail", f"{shown} beyond {where}"
    if hi is not None and hi > bound:
        return "inconclusive", f"{shown} within {where} but the interval crosses it"
    return "pass", f"{shown} within {where}"


def adjust_gated(gate: Gate, metrics: list[dict]) -> int:
    """Adjust the p-values that ``significant`` rules use among themselves (descriptive tests keep theirs).
    Records with fewer than ``min_n`` families decide nothing, so they are not among the tests corrected."""
    gated = [m for m in metrics if m.get("p_value") is not None
             and any(r.significant and r.selects(m) and _families(m) >= _min_n(r, gate) for r in gate.rules)]
    for m, p in zip(gated, stats.adjust([m["p_value"] for m in gated], gate.correction)):
        m["p_adjusted"], m["adjusted_over"] = p, "gate"
    return len(gated)


def evidence(m: dict, rule: Rule) -> tuple:
    """Sort key of the worst case among records of one verdict. First whether the record's group is the one
    harmed (``details.harm`` > 0: it moves away from the expected labels, or, without them, it receives *more*
    of the class): with two groups every contrast has a mirror image ("male +angry" / "female -angry", and
    "female +neutral" when male sentences flipped from neutral), and only the harmed group is named. Then
    how far the interval's near end lies beyond the bound, the estimate's excess, and the class that is rarer
    overall (the atypical outcome)."""
    if m.get("value") is None:
        return (False, float("-inf"), float("-inf"), 0.0)
    details = m.get("details") or {}
    value, lo, _, bound = _oriented(m, rule)
    near = lo if lo is not None else value
    harmed = details.get("harm", m["value"]) > 0
    return (harmed, round(near - bound, 9), round(value - bound, 9), -details.get("base_rate", 0.0))


def evaluate(gate: Gate, metrics: list[dict], baseline=None) -> dict:
    corrected = adjust_gated(gate, metrics)
    regressed = regression(gate, metrics, baseline) if baseline is not None else None
    results = []
    for rule in gate.rules:
        selected = [m for m in metrics if rule.selects(m)]
        judged = [(m, *judge(m, rule, gate, corrected)) for m in selected]
        decided = [j for j in judged if j[1] != "insufficient"]
        too_small = sorted({_unit(j[0]) for j in judged if j[1] == "insufficient"})
        worst = None
        applicable = bool(judged) or not _unselective(rule) or any(m["metric"] == rule.metric for m in metrics)
        if not applicable:  # e.g. term_shift where no group has several terms: nothing to gate, nothing hidden
            verdict, reason = "pass", f"not applicable: this run has no {rule.metric} records"
        elif not judged:
            verdict, reason = "inconclusive", "no cases matched this rule: an empty selection is never a pass"
        elif not decided:
            verdict, reason = "inconclusive", (f"every selected record has fewer than min_n = {_min_n(rule, gate)} families: "
                                               "too little data to test, never a pass")
        else:
            worst, verdict, reason = max(decided, key=lambda j: (ORDER[j[1]], evidence(j[0], rule)))
            if worst.get("description"):
                reason = f"{worst['description']}: {reason}"
        if too_small:
            reason += f" (too few families to test: {', '.join(too_small[:8])}{', ...' if len(too_small) > 8 else ''})"
        counts = {v: sum(1 for j in judged if j[1] == v) for v in (*ORDER, "insufficient")}
        results.append(_rule_result(rule, verdict, reason, worst, counts,
                                    [dict(id=m["id"], verdict=v, reason=r) for m, v, r in
                                     sorted(judged, key=lambda j: -RECORD_RANK[j[1]]) if v != "pass"],
                                    too_small, applicable))
        if regressed is not None:
            results.append(regressed.pop(0))  # this rule's, in rule order
    overall = max((r["verdict"] for r in results), key=ORDER.get, default="inconclusive")
    if not any(r.get("applicable", True) for r in results):
        overall = "inconclusive"  # no rule had anything to judge: a run that tested nothing never passes
    return {"verdict": overall, "alpha": gate.alpha, "min_n": gate.min_n, "correction": gate.correction,
            "tests_corrected": corrected, "rules": results}


def _unselective(rule: Rule) -> bool:
    """A rule that names no suite, attribute, group, class or template: it applies wherever its metric exists."""
    return all(getattr(rule, attr) in ("*", None) for attr, _ in SELECTORS)


def _unit(m: dict) -> str:
    """What an insufficient record is about: suite/attribute/group (the report's coverage section lists them)."""
    return "/".join(str(p) for p in (m.get("suite"), m.get("attribute"), m.get("group")) if p)


def _rule_result(rule: Rule, verdict: str, reason: str, worst: dict | None, counts: dict, failing: list,
                 insufficient: list[str] | None = None, applicable: bool = True) -> dict:
    kind, bound = rule.bound()
    return {"name": rule.name, "metric": rule.metric, "bound": {kind: bound}, "significant": rule.significant,
            "verdict": verdict, "reason": reason, "worst": worst and {k: worst.get(k) for k in
                                                                      ("id", "description", "value", "ci", "n",
                                                                       "n_min", "p_adjusted")},
            "counts": counts, "not_passing": failing[:50], "insufficient": insufficient or [],
            "applicable": applicable}


def regression(gate: Gate, metrics: list[dict], baseline) -> list[dict]:
    """One "no regression" result per rule against the old release (audit/release.py): ``baseline`` is a
    :class:`audit.release.Baseline`, or the old run's records alone (then every comparison is unpaired)."""
    from audit import release

    if not isinstance(baseline, release.Baseline):
        baseline = release.Baseline(list(baseline), note="unpaired: only the old run's records were given")
    return release.regressions(gate, metrics, baseline)
