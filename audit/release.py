"""Release comparison: is the new model release worse than the old one for some group, with evidence?

Both releases are audited on the same sentences, so every gated record is compared *per family* (the
independent unit of the audit): for record r with per-family sums y_f (new), x_f (old) and weights n_f,

    delta = sum_f (y_f - x_f) / sum_f n_f        (new minus old; n_f = 1 for the contrasts, a mean over families)
    var   = F / (F - 1) * sum_f z_f^2,  z_f = (y_f - x_f - delta n_f) / sum_f n_f

the cluster-robust variance of a ratio estimator (Liang & Zeger 1986; audit/stats.py), whose pairing removes
what both releases share (the families' frames and fill words): a paired t-test over families, F - 1 df. The
per-family units come from audit/pairing.py. Where the two runs scored different sentences (or a record has
no per-family units, e.g. a maximum), the comparison is *unpaired*: delta = new - old with the two intervals'
standard errors added in quadrature (normal), and the report says so.

Orientation: ``max`` rules regress when the value rises, ``min`` rules when it falls; ``max_abs`` rules on a
signed contrast when it moves further to the side of zero it now lies on (-0.02 -> +0.02 for "female, p(sad)"
is a +0.04 move against that group); a signed record whose new interval still holds zero sits at parity and
cannot have regressed. Test: one-sided, H0: oriented delta <= margin (``baseline_margin``), so noise within
the margin is never a regression. The p-values of all comparisons of all rules are adjusted together (the
gate's ``correction``); the verdict uses the gate's three outcomes: **fail** when the oriented delta is
beyond the margin and the adjusted p < alpha, **inconclusive** when beyond the margin but not significant,
**pass** otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from audit import pairing, stats
from audit.pairing import Units
from audit.records import registry

ORDER = {"pass": 0, "inconclusive": 1, "fail": 2}


@dataclass
class Baseline:
    """The old release: its metric records and, when it scored the same sentences, the per-family units."""
    records: list[dict]
    units: dict[str, Units] = field(default_factory=dict)
    source: str = ""
    note: str = ""
    examples: list[dict] = field(default_factory=list)     # matched sentences whose prediction changed most
    comparisons: list[dict] = field(default_factory=list)  # filled by :func:`regressions`

    @property
    def paired(self) -> bool:
        return bool(self.units)


def paired_difference(new: np.ndarray, old: np.ndarray, n: np.ndarray) -> tuple[float, float, int]:
    """delta, its standard error and the degrees of freedom (families - 1) of the formula above."""
    d, n = np.asarray(new, float) - np.asarray(old, float), np.asarray(n, float)
    keep = n > 0
    d, n = d[keep], n[keep]
    f, total = len(d), n.sum()
    if f == 0 or total == 0:
        return float("nan"), float("nan"), 0
    delta = float(d.sum() / total)
    if f < 2:
        return delta, float("nan"), 0
    z = (d - delta * n) / total
    return delta, math.sqrt(f / (f - 1) * float(z @ z)), f - 1


def _orient(rule, new: dict) -> int:
    """+1: a rise is worse; -1: a fall is worse; 0: a signed record at parity in the new release."""
    kind, _ = rule.bound()
    if kind == "max":
        return 1
    if kind == "min":
        return -1
    value, ci = new["value"], new.get("ci")
    if registry()[rule.metric].scale == "signed" and ci and ci[0] is not None and ci[0] <= 0 <= ci[1]:
        return 0
    return 1 if value >= 0 else -1


def compare_record(rule, new: dict, old: dict, units: Units | None, margin: float, alpha: float) -> dict:
    """One gated record in both releases: delta, its interval, the one-sided p-value of the regression test."""
    delta, se, df = paired_difference(*units) if units is not None else (float("nan"), float("nan"), 0)
    if np.isfinite(delta):
        q = stats.t_quantile(1 - alpha / 2, df) if df else float("nan")
        paired = True
    else:  # no per-family units (or none with a weight): the two runs' intervals
        delta, se, df, paired = new["value"] - old["value"], _unpaired_se(new, old, alpha), 0, False
        q = stats.z_quantile(1 - alpha / 2)
    sign = _orient(rule, new)
    ci = [delta - q * se, delta + q * se] if np.isfinite(se) else None
    oriented = sign * delta
    if sign == 0:
        p = 1.0
    elif not np.isfinite(se) or se == 0:
        p = (0.0 if oriented > margin else 1.0) if np.isfinite(se) else None
    else:
        t = (oriented - margin) / se
        p = float(sps.t.sf(t, df) if df else sps.norm.sf(t))
    return {"id": new["id"], "metric": new["metric"], "suite": new.get("suite"), "attribute": new.get("attribute"),
            "group": new.get("group"), "class": new.get("class"), "template": new.get("template"),
            "description": new.get("description"), "old": old["value"], "new": new["value"], "delta": delta,
            "ci": ci, "paired": paired, "families": df + 1 if paired else None, "oriented": oriented * (sign != 0),
            "p_value": p, "margin": margin, "harm": (new.get("details") or {}).get("harm", new["value"])}


def _unpaired_se(new: dict, old: dict, alpha: float) -> float:
    """Standard errors read back from the two intervals' half-widths, added in quadrature (independent runs)."""
    z = stats.z_quantile(1 - alpha / 2)
    parts = []
    for m in (new, old):
        ci = m.get("ci")
        if not ci or ci[0] is None:
            return float("nan")
        parts.append((ci[1] - ci[0]) / (2 * z))
    return math.sqrt(sum(s * s for s in parts))


def verdict(c: dict, alpha: float) -> tuple[str, str]:
    what = f"{c['description'] or c['id']}: {c['old']:+.4f} -> {c['new']:+.4f} ({c['delta']:+.4f}"
    how = "paired over families" if c["paired"] else "unpaired"
    if c["oriented"] <= c["margin"]:
        return "pass", f"{what}, within the margin {c['margin']})"
    p = c.get("p_adjusted")
    if p is None:
        return "inconclusive", f"{what}, beyond the margin {c['margin']}; no interval to test it)"
    if p < alpha:
        return "fail", f"{what}, worse beyond the margin {c['margin']}, adjusted p = {p:.2g}, {how})"
    return "inconclusive", f"{what}, beyond the margin {c['margin']} but not significant (adjusted p = {p:.2g}, {how})"


def evidence(c: dict) -> tuple:
    """Worst first: verdict, a group's record before a single term's (a group that regressed is named as the
    group), how far the interval's near end passes the margin, then, of a two-group mirror pair ("female p(sad)
    +0.04" / "male p(sad) -0.04"), the group that now receives more of the class."""
    near = c["oriented"] - (abs(c["ci"][1] - c["ci"][0]) / 2 if c.get("ci") else 0.0)
    return (ORDER[c["verdict"]], not c["id"].startswith("term_shift/"), round(near - c["margin"], 9), c["delta"] > 0,
            c["harm"] is not None and c["harm"] > 0)


def regressions(gate, metrics: list[dict], baseline: Baseline) -> list[dict]:
    """One "no regression" rule result per gate rule (same order); the comparisons are kept on ``baseline``."""
    old = {m["id"]: m for m in baseline.records if m.get("value") is not None}
    per_rule: list[list[dict]] = []
    for rule in gate.rules:
        margin = rule.baseline_margin if rule.baseline_margin is not None else gate.baseline_margin
        rows = [dict(compare_record(rule, m, old[m["id"]], baseline.units.get(m["id"]), margin, gate.alpha),
                     rule=rule.name)
                for m in metrics if rule.selects(m) and m.get("value") is not None and m["id"] in old]
        per_rule.append(rows)
    tested = [c for rows in per_rule for c in rows if c["p_value"] is not None]
    for c, p in zip(tested, stats.adjust([c["p_value"] for c in tested], gate.correction)):
        c["p_adjusted"] = p
    for rows in per_rule:
        for c in rows:
            c["verdict"], c["reason"] = verdict(c, gate.alpha)
        rows.sort(key=evidence, reverse=True)
    baseline.comparisons = sorted((c for rows in per_rule for c in rows), key=evidence, reverse=True)
    return [_rule_result(rule, rows, baseline) for rule, rows in zip(gate.rules, per_rule)]


def _rule_result(rule, rows: list[dict], baseline: Baseline) -> dict:
    margin = rows[0]["margin"] if rows else rule.baseline_margin
    how = "paired over families" if baseline.paired else "unpaired: the baseline scored other sentences"
    if not rows:
        verdict_, reason = "inconclusive", "no record of this rule was measured in both releases"
    else:
        verdict_ = rows[0]["verdict"]
        bad = [c for c in rows if c["verdict"] != "pass"]
        reason = (f"{sum(c['verdict'] == 'fail' for c in rows)} of {len(rows)} records worse than the baseline "
                  f"beyond the margin ({how}); worst: {rows[0]['reason']}" if bad else
                  f"none of {len(rows)} records worse than the baseline beyond the margin ({how})")
    case = ("id", "description", "old", "new", "delta", "ci", "p_adjusted", "verdict", "reason", "paired")
    return {"name": f"no regression: {rule.name}", "metric": rule.metric,
            "bound": {"margin": margin if margin is not None else 0.0}, "significant": True,
            "verdict": verdict_, "reason": reason,
            "worst": ({k: rows[0].get(k) for k in case} | {"value": rows[0]["delta"]}) if rows else None,
            "counts": {v: sum(c["verdict"] == v for c in rows) for v in ORDER},
            "not_passing": [{k: c.get(k) for k in case} | {"value": c["delta"]} for c in rows
                            if c["verdict"] != "pass"][:50], "baseline": True}


def from_model(spec: str, old_records: list[dict], old: tuple[pd.DataFrame, pd.DataFrame],
               new: tuple[pd.DataFrame, pd.DataFrame], labels: list[str], attributes: list[str]) -> Baseline:
    """``--baseline-model``: the old release scored in this run; ``old`` / ``new``: (cases, robustness table)."""
    return Baseline(old_records, pairing.units(old[0], new[0], labels, attributes, old[1], new[1]), spec,
                    "paired over families: both releases scored in this run on the same cases",
                    pairing.changed_examples(old[0], new[0], labels))


def from_saved(path: str, records: list[dict], old_labels: list[str], old_cases: pd.DataFrame | None,
               cases: pd.DataFrame, labels: list[str], attributes: list[str]) -> Baseline:
    """``--baseline RUN`` (and ``compare``): paired when the saved run's cases hold this run's sentences."""
    aligned = pairing.align(old_cases, cases, labels) if old_cases is not None and old_labels == labels else None
    if aligned is None:
        why = ("the baseline model has other labels" if old_labels != labels else
               "the baseline has no cases.parquet" if old_cases is None else
               "the baseline's cases.parquet holds other sentences than this run")
        return Baseline(records, {}, path, f"unpaired: {why}")
    return Baseline(records, pairing.units(aligned, cases, labels, attributes), path,
                    "paired over families on the same sentences (robustness variants: unpaired, a saved run keeps "
                    "no robustness table)", pairing.changed_examples(aligned, cases, labels))


def with_baseline_columns(cases, old_cases, labels: list[str]):
    """The one case table of a two-release run: the new release's columns, and the old one's as ``baseline_*``."""
    extra = {f"baseline_{c}": old_cases[c].to_numpy() for c in ["pred", *(f"p_{l}" for l in labels)]}
    return cases.assign(**extra)


def section(baseline: Baseline, limit: int = 500) -> dict:
    """The results.json ``release`` section: the old release, how it was compared, every comparison."""
    keep = ("id", "metric", "suite", "attribute", "group", "class", "template", "description", "rule", "old",
            "new", "delta", "ci", "paired", "families", "p_value", "p_adjusted", "verdict", "reason")
    return {"baseline": baseline.source, "paired": baseline.paired, "note": baseline.note,
            "counts": {v: sum(c["verdict"] == v for c in baseline.comparisons) for v in ORDER},
            "examples": baseline.examples,
            "comparisons": [{k: c.get(k) for k in keep} for c in baseline.comparisons[:limit]]}
