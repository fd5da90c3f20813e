"""CheckList's functional tests over scored cases (Ribeiro et al. 2020, "Beyond Accuracy: Behavioral Testing of
NLP Models with CheckList"). INV, the third type, is the counterfactual flip rate of audit/metrics.py.

*MFT* (minimum functionality test): a template with ``expect: label``; every sentence x must get its expected
label y(x) (the suite's label through ``--label-map``)::

    mft_failure_rate = #{x : pred(x) != y(x)} / #{x}

*DIR* (directional expectation): a template with ``expect: direction``, ``direction: {label: c, sign: s}`` and
``variants``; every pair (base b, variant v) must not move p_c against s by more than the tolerance tau::

    delta(b, v) = s * (p_c(v) - p_c(b))              s = +1 for "+", -1 for "-"
    dir_violation_rate = #{pairs : delta < -tau} / #{pairs}
    dir_mean_change = mean over pairs of delta        (> 0: the model moves the way the test expects)

tau defaults to 0.1, the tolerance of CheckList's sentiment DIR tests (``Expect.monotonic(..., tolerance=0.1)``):
scores wobble a little under any edit, and only a move of a tenth of the probability mass counts; a gate rule
may set its own (``tolerance:``).

Each rate is reported per suite, per template (CheckList's unit: one test), per expected class and, where the
template has a protected slot, per group. Intervals: families are the clusters (the members of one protected
family; a base sentence with all its variants), templates the strata of a suite's fixed design: Wilson at the
design effect for rates, cluster-robust t for the mean change (audit/stats.py). A test whose class the model
lacks after the label map is *skipped with a note*: it yields a record without a value (a rule that selects
only such records is inconclusive, never a pass) and a line in the report.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit import stats
from audit.records import Metric, MetricInfo, clip_interval, register_metric

DEFAULT_TOLERANCE = 0.1
_CHECKLIST = "Ribeiro et al. 2020 (CheckList)"
# Registered by name: run.py computes these from the gate's tolerances (not per suite x attribute slice).
register_metric("mft_failure_rate", MetricInfo(
    "functional", "rate", "share of an MFT's sentences (expect: label) not given their expected label; Wilson at "
    "the families' design effect", f"MFT, {_CHECKLIST}", words="failed a minimum functionality test"))
register_metric("dir_violation_rate", MetricInfo(
    "functional", "rate", "share of DIR pairs (base, variant) where s * (p_c(v) - p_c(b)) < -tolerance (default "
    "0.1); Wilson at the design effect (clusters: base sentences)", f"DIR, {_CHECKLIST}",
    words="moved against a directional expectation"))
register_metric("dir_mean_change", MetricInfo(
    "functional", "signed", "mean over DIR pairs of s * (p_c(v) - p_c(b)) (> 0: moves the expected way); "
    "cluster-robust t interval", f"DIR, {_CHECKLIST}", words="mean change in the expected direction"))
EXAMPLES = 5  # failing examples kept per test for the report


@dataclass
class FunctionalMetric(Metric):
    """A record of an MFT or DIR test, described by its test (template) and class: "mft_failure_rate
    functional/feel-today 0.222"."""

    @property
    def description(self) -> str:
        where = "/".join(filter(None, [self.suite, self.template, self.attribute and f"{self.attribute}={self.group}",
                                       self.cls and f"class {self.cls}"]))
        return f"{self.metric} {where}" + ("" if self.value is None else f" {self.value:.3f}")


@dataclass
class DirMetric(FunctionalMetric):
    """A DIR violation rate: its tolerance is part of its identity (one record per tolerance a rule asks for)."""

    @property
    def id(self) -> str:
        return f"{super().id}/tol={self.details['tolerance']:g}"


def functional_tests(cases: pd.DataFrame, labels: list[str], label_map: dict[str, str] | None = None,
                     attributes: list[str] | None = None, tolerances: list[float] | tuple = (DEFAULT_TOLERANCE,),
                     alpha: float = 0.05) -> tuple[list[Metric], dict]:
    """Metric records of every MFT and DIR test in ``cases`` (scored: ``pred`` and ``p_<label>`` columns), and the
    results.json section ``functional`` (one entry per test with its failing examples, worst first)."""
    if "source_row" in cases:  # template sentences only: labelled data rows (--label-col) are no MFT
        cases = cases[cases["source_row"].isna()]
    label_map = label_map or {}
    to_model = lambda x: None if x is None or pd.isna(x) else label_map.get(x, x)  # noqa: E731
    attributes = [a for a in (attributes or []) if a in cases]
    metrics: list[Metric] = []
    tests: list[dict] = []
    mft = cases[cases["expectation"] == "label"]
    if len(mft):
        m, t = _mft(mft, labels, to_model, attributes, alpha)
        metrics, tests = metrics + m, tests + t
    if "base_text" in cases:
        pairs = _pairs(cases, labels, to_model)
        if pairs is not None:
            m, t = _dir(pairs, labels, attributes, sorted(set(tolerances) | {DEFAULT_TOLERANCE}), alpha)
            metrics, tests = metrics + m, tests + t
    tests.sort(key=lambda t: (t["rate"] is None, -(t["rate"] or 0.0), t["suite"], t["template"]))
    return metrics, {"tolerance": DEFAULT_TOLERANCE, "tests": tests}


# ------------------------------------------------------------------ shared: clustered rates and means
def _clusters(frame: pd.DataFrame, cluster_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Cluster code per row, and the stratum (template) code per cluster."""
    fam = pd.factorize(frame[cluster_col])[0]
    strata = np.zeros(fam.max() + 1 if len(fam) else 0, dtype=int)
    strata[fam] = pd.factorize(frame["template_id"])[0]
    return fam, strata


def _rate(metric: str, frame: pd.DataFrame, hit: np.ndarray, cluster_col: str, alpha: float, cls=None,
          record=FunctionalMetric, **kw) -> Metric:
    """Share of rows with ``hit``, Wilson at the clusters' design effect (templates as strata)."""
    fam, strata = _clusters(frame, cluster_col)
    hits = np.bincount(fam, hit.astype(float), len(strata))
    totals = np.bincount(fam, minlength=len(strata)).astype(float)
    value = float(hit.mean())
    ci = stats.cluster_wilson(hits, totals, alpha, strata if len(set(strata)) > 1 else None)
    return record(metric, "functional", frame["suite"].iloc[0], kw.pop("attribute", ""), value, len(frame),
                  clip_interval(ci, value), cls=cls, test="wilson (families' design effect)", n_min=len(strata),
                  details={"failures": int(hit.sum()), "clusters": len(strata), **kw.pop("details", {})}, **kw)


def _slices(frame: pd.DataFrame, attributes: list[str], cls_col: str):
    """(selector fields, rows) of each record: the suite, each template, each class, each group."""
    for suite, rows in frame.groupby("suite", sort=True):
        yield {}, rows
        for tid, sub in rows.groupby("template_id", sort=True):
            yield {"template": str(tid)}, sub
        for cls, sub in rows.groupby(cls_col, sort=True):
            yield {"cls": cls}, sub
        for attribute in attributes:
            for group, sub in rows[rows[attribute].notna()].groupby(attribute, sort=True):
                yield {"attribute": attribute, "group": str(group)}, sub


def _skipped(metric: str, frame: pd.DataFrame, key: str, note: str) -> list[Metric]:
    """Records without a value for tests the model cannot run: a rule selecting them is inconclusive."""
    return [FunctionalMetric(metric, "functional", suite, "", None, 0, None, template=str(tid),
                   details={"skipped": note, "cases": len(rows)})
            for (suite, tid), rows in frame.groupby(["suite", key], sort=True)]


# ------------------------------------------------------------------ MFT
def _mft(frame: pd.DataFrame, labels: list[str], to_model, attributes: list[str], alpha: float):
    frame = frame.assign(expected=frame["expected_label"].map(to_model))
    frame = frame.assign(failed=frame["pred"] != frame["expected"])
    ran = frame[frame["expected"].isin(labels)]
    out: list[Metric] = []
    for sel, rows in _slices(ran, attributes, "expected") if len(ran) else ():
        out.append(_rate("mft_failure_rate", rows, rows["failed"].to_numpy(), "family", alpha, **sel))
    tests = []
    for (suite, tid), rows in frame.groupby(["suite", "template_id"], sort=True):
        ok = rows[rows["expected"].isin(labels)]
        missing = sorted(set(rows.loc[~rows["expected"].isin(labels), "expected_label"].dropna()))
        note = _absent_note(missing, labels) if missing else None
        test = {"type": "MFT", "suite": suite, "template": str(tid), "display": rows["template"].iloc[0],
                "label": sorted(set(ok["expected"])), "n": len(ok), "failures": 0, "rate": None, "ci": None,
                "note": note, "examples": []}
        if len(ok):
            rec = next(m for m in out if m.suite == suite and m.template == str(tid))
            bad = ok[ok["failed"]]
            p_exp = np.array([bad.at[i, f"p_{bad.at[i, 'expected']}"] for i in bad.index])
            worst = bad.assign(p_expected=p_exp).sort_values("p_expected").head(EXAMPLES)
            test.update(failures=len(bad), rate=rec.value, ci=list(rec.ci) if rec.ci else None,
                        examples=[{"text": r.text, "expected": r.expected, "pred": r.pred,
                                   "p_expected": float(r.p_expected)} for r in worst.itertuples()])
        elif note:
            out += _skipped("mft_failure_rate", rows, "template_id", note)
        tests.append(test)
    return out, tests


def _absent_note(missing: list[str], labels: list[str]) -> str:
    shown = ", ".join(missing)
    return (f"skipped: class {shown} is not a label of the model ({', '.join(labels)}); map it with "
            f"--label-map {missing[0]}=<model label> to run it")


# ------------------------------------------------------------------ DIR
def _pairs(cases: pd.DataFrame, labels: list[str], to_model) -> pd.DataFrame | None:
    """One row per (base, variant) pair: the variant's case row plus ``label`` (model class), ``sign``, the
    probabilities before and after, ``delta`` (signed change) and ``runnable``."""
    var = cases[cases["base_text"].notna() & (cases["expectation"] == "direction")]
    if var.empty:
        return None
    first = cases.drop_duplicates("text").set_index("text")
    var = var[var["base_text"].isin(first.index)]  # a base sampled away by --max-cases: no pair
    label = var["direction_label"].map(to_model)
    runnable = label.isin(labels).to_numpy()
    before = np.full(len(var), np.nan)
    after = np.full(len(var), np.nan)
    for c in set(label[runnable]):
        rows = (label == c).to_numpy()
        before[rows] = first.loc[var["base_text"][rows], f"p_{c}"].to_numpy(dtype=float)
        after[rows] = var.loc[rows, f"p_{c}"].to_numpy(dtype=float)
    sign = np.where(var["direction_sign"] == "-", -1.0, 1.0)
    return var.assign(label=label, sign=sign, before=before, after=after, delta=sign * (after - before),
                      runnable=runnable)


def _dir(pairs: pd.DataFrame, labels: list[str], attributes: list[str], tolerances: list[float], alpha: float):
    ran = pairs[pairs["runnable"]]
    out: list[Metric] = []
    for sel, rows in _slices(ran, attributes, "label") if len(ran) else ():
        delta = rows["delta"].to_numpy()
        for tol in tolerances:
            out.append(_rate("dir_violation_rate", rows, delta < -tol, "base_family", alpha, record=DirMetric,
                             details={"tolerance": tol, "unit": "pairs"}, **sel))
        out.append(_mean_change(rows, delta, alpha, **sel))
    tests = []
    for (suite, tid), rows in pairs.groupby(["suite", "template_id"], sort=True):
        ok = rows[rows["runnable"]]
        sign = rows["direction_sign"].iloc[0]
        test = {"type": "DIR", "suite": suite, "template": str(tid), "display": rows["template"].iloc[0],
                "label": rows["label"].iloc[0], "sign": sign, "tolerance": DEFAULT_TOLERANCE, "n": len(ok),
                "failures": 0, "rate": None, "ci": None, "mean_change": None, "note": None, "examples": []}
        if len(ok):
            pick = lambda name: next(m for m in out if m.metric == name and m.suite == suite  # noqa: E731
                                     and m.template == str(tid) and m.details.get("tolerance", DEFAULT_TOLERANCE)
                                     == DEFAULT_TOLERANCE)
            rate, change = pick("dir_violation_rate"), pick("dir_mean_change")
            bad = ok[ok["delta"] < -DEFAULT_TOLERANCE].sort_values("delta").head(EXAMPLES)
            test.update(failures=rate.details["failures"], rate=rate.value, ci=list(rate.ci) if rate.ci else None,
                        mean_change=change.value, examples=[
                            {"base": r.base_text, "variant": r.text, "p_before": float(r.before),
                             "p_after": float(r.after), "change": float(r.after - r.before)}
                            for r in bad.itertuples()])
        else:
            test["note"] = _absent_note([rows["direction_label"].iloc[0]], labels)
            out += _skipped("dir_violation_rate", rows, "template_id", test["note"])
        tests.append(test)
    return out, tests


def _mean_change(rows: pd.DataFrame, delta: np.ndarray, alpha: float, **sel) -> Metric:
    """Mean signed change of p(label), cluster-robust t interval (base families as clusters, templates as strata)."""
    fam, strata = _clusters(rows, "base_family")
    sums = np.bincount(fam, delta, len(strata))
    counts = np.bincount(fam, minlength=len(strata)).astype(float)
    value = float(delta.mean())
    ci = stats.cluster_mean(sums, counts, alpha, strata if len(set(strata)) > 1 else None)
    return FunctionalMetric("dir_mean_change", "functional", rows["suite"].iloc[0], sel.pop("attribute", ""), value,
                            len(rows), clip_interval(ci, value, -1.0), test="cluster-robust t interval",
                            n_min=len(strata), details={"unit": "pairs", "clusters": len(strata)}, **sel)
