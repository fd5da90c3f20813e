"""Metric records and the registry of metric names: every metric with its scale, formula and reference.

One :class:`Metric` travels from the metrics (audit/metrics.py, audit/slices.py) to the gate and the reports;
``to_dict`` is its results.json form. The gate validates rule names against :data:`REGISTRY`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class MetricInfo:
    kind: str     # counterfactual | group | auc | functional
    scale: str    # rate (0..1) | gap (>= 0) | signed (-1..1) | ratio (0..1)
    formula: str
    reference: str = ""


_CONTRAST = ("mean over families of [mean over the family's matched strata of (mean_{x in g} v(x) - mean_{h != g}"
             " mean_{x in h} v(x))]; t interval, paired t-test (p) and Wilcoxon signed-rank over families")
REGISTRY: dict[str, MetricInfo] = {
    "mean_shift": MetricInfo("counterfactual", "signed", f"v = p_c: {_CONTRAST}", "Kiritchenko & Mohammad 2018"),
    "label_shift": MetricInfo("counterfactual", "signed", f"v = 1[pred = c]: {_CONTRAST}",
                              "selection-rate difference on matched pairs"),
    "flip_rate_difference": MetricInfo("counterfactual", "signed",
                                       f"v = share of x's matched counterparts with another label: {_CONTRAST}"),
    "flip_rate": MetricInfo("counterfactual", "rate", "share of matched cross-group pairs whose labels differ; "
                            "Wilson interval at the families' design effect", "CheckList INV, Ribeiro et al. 2020"),
    "group_flip_rate": MetricInfo("counterfactual", "rate", "share of matched pairs involving group g whose "
                                  "labels differ (symmetric: instability, not disparity)"),
    "ctf_gap": MetricInfo("counterfactual", "gap", "mean |p_c(x) - p_c(x')| over matched cross-group pairs, per "
                          "family then over families; t interval", "Garg et al. 2019"),
    "mean_abs_delta": MetricInfo("counterfactual", "gap", "ctf_gap averaged over classes"),
    "max_abs_delta": MetricInfo("counterfactual", "gap", "max |p_c(x) - p_c(x')| over matched pairs and classes"),
    "selection_rate": MetricInfo("group", "rate", "P(pred = c | g); Wilson at the design effect"),
    "mean_prob": MetricInfo("group", "rate", "E[p_c | g]; cluster-robust t interval"),
    "dp_difference": MetricInfo("group", "gap", "max_g - min_g selection rate (fairlearn); simultaneous Newcombe "
                                "interval; cluster-robust Wald test of equal rates", "Newcombe 1998"),
    "dp_ratio": MetricInfo("group", "ratio", "min_g / max_g selection rate; from simultaneous group intervals"),
    "accuracy": MetricInfo("group", "rate", "P(pred = y | g)"),
    "recall": MetricInfo("group", "rate", "P(pred = c | y = c, g)"),
    "accuracy_difference": MetricInfo("group", "gap", "max_g - min_g accuracy; as dp_difference"),
    "eo_difference": MetricInfo("group", "gap", "max(TPR gap, FPR gap)", "Hardt et al. 2016"),
    "subgroup_auc": MetricInfo("auc", "rate", "AUC within g", "Borkan et al. 2019; Hanley & McNeil 1982"),
    "bpsn_auc": MetricInfo("auc", "rate", "AUC of background positives vs subgroup negatives", "Borkan et al. 2019"),
    "bnsp_auc": MetricInfo("auc", "rate", "AUC of background negatives vs subgroup positives", "Borkan et al. 2019"),
    "mft_failure_rate": MetricInfo("functional", "rate", "share of an MFT's sentences (expect: label) not given "
                                   "their expected label; Wilson at the families' design effect",
                                   "CheckList MFT, Ribeiro et al. 2020"),
    "dir_violation_rate": MetricInfo("functional", "rate", "share of DIR pairs (base, variant) where s * (p_c(v) - "
                                     "p_c(b)) < -tolerance (default 0.1); Wilson at the design effect (clusters: base "
                                     "sentences)", "CheckList DIR, Ribeiro et al. 2020"),
    "dir_mean_change": MetricInfo("functional", "signed", "mean over DIR pairs of s * (p_c(v) - p_c(b)) (> 0: moves "
                                  "the expected way); cluster-robust t interval", "CheckList DIR, Ribeiro et al. 2020"),
}
CONTRASTS = ("mean_shift", "label_shift", "flip_rate_difference")


@dataclass
class Metric:
    metric: str
    kind: str  # counterfactual | group | auc | functional
    suite: str
    attribute: str
    value: float | None
    n: int
    ci: tuple[float | None, float | None] | None = None
    group: str | None = None
    cls: str | None = None
    template: str | None = None
    test: str | None = None
    p_value: float | None = None
    p_wilcoxon: float | None = None
    p_adjusted: float | None = None
    n_min: int | None = None  # observations in the smallest group compared (min_n applies to it)
    details: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        parts = [self.metric, self.suite, self.attribute, self.group, self.cls, self.template]
        return "/".join(p for p in parts if p)

    @property
    def description(self) -> str:
        """"female vs male: p(sad) +0.060": who is compared with whom, on what, in which direction."""
        if self.value is None:
            return self.id
        what = {"mean_shift": f"p({self.cls})", "label_shift": f"rate of label {self.cls}",
                "flip_rate_difference": "label flips"}.get(self.metric)
        if what and self.group:
            return f"{self.group} vs {self.details.get('vs', 'the others')}: {what} {self.value:+.3f}"
        if self.metric in ("dp_difference", "accuracy_difference", "eo_difference") and "highest" in self.details:
            return (f"{self.metric} {self.cls or ''}: {self.details['highest']} vs {self.details['lowest']} "
                    f"{self.value:.3f}").replace("  ", " ")
        return f"{self.metric} {' '.join(filter(None, [self.group, self.cls]))} {self.value:.3f}".replace("  ", " ")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["id"] = self.id
        d["description"] = self.description
        d["class"] = d.pop("cls")
        d["ci"] = list(self.ci) if self.ci else None
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in d.items()}


def prob_matrix(frame: pd.DataFrame, labels: list[str]) -> np.ndarray:
    return frame[[f"p_{label}" for label in labels]].to_numpy(dtype=float)


def clip_interval(ci: tuple, value: float, lowest: float = 0.0) -> tuple:
    """The interval clipped to the metric's range [lowest, 1], containing its estimate (guards rounding)."""
    lo, hi = ci
    if lo is None:
        return None, None
    return float(max(lowest, min(lo, value))), float(min(1.0, max(hi, value)))
