"""Group slices: rates per group and the gaps between groups (fairlearn ``MetricFrame``; an intersection passes
its attributes as multiple sensitive features). Rows are clustered by family: intervals and the test of equal
rates use the cluster-robust variance (audit/stats.py), so they hold for paired template suites and for
independent data rows alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from audit import matching, stats
from audit.records import Metric, MetricInfo, Scored, clip_interval, metric_family, prob_matrix
from core.suites import INTERSECTION

_GAP = ("Newcombe's hybrid score interval for every pair of groups with the pairing correlation, Bonferroni over "
        "pairs (simultaneous); cluster-robust Wald test of equal rates (F approximation)")


@metric_family("group", "Group slices", (
    "Rates per group and the gaps between groups with fairlearn's MetricFrame (an intersection passes its "
    "attributes as multiple sensitive features). Families are the clusters, stratified by the suite's design "
    "cells (template x expected label): intervals and the test of equal rates use the cluster-robust variance, "
    "valid for paired template suites and independent data rows alike. --n-boot N switches the per-group "
    "intervals to fairlearn's row bootstrap (which ignores the clustering). accuracy, recall, the accuracy and "
    "equalized-odds gaps and the AUCs need expected labels (template labels through --label-map, or "
    "--label-col)."), {
    "selection_rate": MetricInfo("group", "rate", "P(pred = c | g); Wilson interval at the design effect"),
    "mean_prob": MetricInfo("group", "rate", "E[p_c | g]; cluster-robust t interval"),
    "dp_difference": MetricInfo("group", "gap", f"max_g - min_g selection rate of class c (fairlearn); {_GAP}",
                                "Newcombe 1998", "the largest gap in the rate of predicting the class between groups",
                                role="gap"),
    "dp_ratio": MetricInfo("group", "ratio", "min_g / max_g selection rate; interval from simultaneous group "
                           "intervals"),
    "accuracy": MetricInfo("group", "rate", "P(pred = y | g); Wilson at the design effect"),
    "recall": MetricInfo("group", "rate", "P(pred = c | y = c, g); Wilson at the design effect"),
    "accuracy_difference": MetricInfo("group", "gap", "max_g - min_g accuracy; interval and test as dp_difference",
                                      words="the largest gap in accuracy between groups", role="gap"),
    "eo_difference": MetricInfo("group", "gap", "max(TPR gap, FPR gap) of class c; interval and test as "
                                "dp_difference", "Hardt et al. 2016",
                                "the largest gap in true- or false-positive rate between groups", role="gap"),
    "subgroup_auc": MetricInfo("auc", "rate", "AUC of p_c within g; Hanley-McNeil interval",
                               "Borkan et al. 2019; Hanley & McNeil 1982"),
    "bpsn_auc": MetricInfo("auc", "rate", "AUC of background positives vs subgroup negatives; Hanley-McNeil",
                           "Borkan et al. 2019"),
    "bnsp_auc": MetricInfo("auc", "rate", "AUC of background negatives vs subgroup positives; Hanley-McNeil",
                           "Borkan et al. 2019"),
})
def group_family(scored: Scored, suite: str, attribute: str) -> list[Metric]:
    return group_metrics(scored.frame, scored.labels, suite, attribute, scored.n_boot, scored.alpha, scored.seed)


def group_metrics(frame: pd.DataFrame, labels: list[str], suite: str, attribute: str, n_boot: int = 0,
                  alpha: float = 0.05, seed: int = 0) -> list[Metric]:
    """Group slices (fairlearn ``MetricFrame``; an intersection passes its attributes as multiple sensitive
    features). Intervals treat families as clusters; ``n_boot`` switches per-group intervals to fairlearn's
    row bootstrap (``n_boot`` / ``ci_quantiles``), which ignores the clustering."""
    sub = frame[(frame["suite"] == suite) & frame[attribute].notna()]
    groups = sub[attribute].astype(str).to_numpy()
    if len(set(groups)) < 2:
        return []
    index = {l: i for i, l in enumerate(labels)}
    sensitive = sub[matching.components(attribute)] if INTERSECTION in attribute else pd.Series(groups, name="group")
    fam = pd.factorize(sub["family"])[0]
    strata = np.zeros(fam.max() + 1, dtype=int)  # the suite's fixed design cell: template x expected label
    design = [c for c in ("template_id", "expected_label") if c in sub]
    if design:
        strata[fam] = sub.groupby(design, dropna=False, sort=False).ngroup().to_numpy()
    ctx = _Slices(fam, strata, groups, sensitive, alpha, n_boot, seed)
    y_pred = sub["pred"].map(index).to_numpy()
    y_true = sub["y_true"].map(index).to_numpy() if "y_true" in sub else np.full(len(sub), np.nan)
    has_truth = ~pd.isna(y_true)
    out = _selection_metrics(ctx, suite, attribute, labels, y_pred, prob_matrix(sub, labels))
    if has_truth.sum() and len(set(groups[has_truth])) >= 2:
        lab = _Slices(fam[has_truth], strata, groups[has_truth], sensitive[has_truth], alpha, n_boot, seed)
        out += _labelled_metrics(lab, suite, attribute, labels, y_true[has_truth].astype(int), y_pred[has_truth],
                                 prob_matrix(sub, labels)[has_truth])
    return out


@dataclass
class _Slices:
    family: np.ndarray
    strata: np.ndarray  # per family code
    groups: np.ndarray
    sensitive: pd.Series | pd.DataFrame
    alpha: float
    n_boot: int
    seed: int

    @property
    def names(self) -> list[str]:
        return sorted(set(self.groups))

    def frame(self, metrics: dict, y_true, y_pred, params: dict | None = None) -> MetricFrame:
        boot = {"n_boot": self.n_boot, "ci_quantiles": [self.alpha / 2, 1 - self.alpha / 2],
                "random_state": self.seed} if self.n_boot else {}
        return MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=self.sensitive,
                           sample_params=params, **boot)

    def table(self, mask: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(families, groups) sums of ``weight`` (default 1) and counts over the rows in ``mask``."""
        g_idx = np.searchsorted(self.names, self.groups)
        f, g = self.family.max() + 1, len(self.names)
        key = (self.family * g + g_idx)[mask]
        w = np.ones(mask.sum()) if weight is None else weight[mask]
        return np.bincount(key, w, f * g).reshape(f, g), np.bincount(key, minlength=f * g).reshape(f, g).astype(float)

    @staticmethod
    def group_names(mf: MetricFrame) -> list[str]:
        """Row names of ``by_group``; an intersection's ("female", "Asian") becomes "female×Asian"."""
        return [INTERSECTION.join(map(str, i)) if isinstance(i, tuple) else str(i) for i in mf.by_group.index]

    def by_group(self, mf: MetricFrame, name: str) -> dict[str, float]:
        return dict(zip(self.group_names(mf), mf.by_group[name].to_numpy(dtype=float)))

    def boot_ci(self, mf: MetricFrame, name: str) -> dict[str, tuple[float, float]]:
        lo, hi = mf.by_group_ci
        return {g: (float(a), float(b)) for g, a, b in zip(self.group_names(mf), lo[name].to_numpy(),
                                                             hi[name].to_numpy())}

    def gap_metrics(self, metric: str, suite: str, attribute: str, hits: np.ndarray, totals: np.ndarray,
                    value: float, cls: str | None, ratio_value: float | None = None) -> list[Metric]:
        gap = stats.rate_gap(hits, totals, self.alpha, self.strata[:len(hits)])
        if not gap:
            return []
        present = [g for g, t in zip(self.names, totals.sum(axis=0)) if t > 0]
        details = {"highest": present[int(np.argmax(gap["rates"]))], "lowest": present[int(np.argmin(gap["rates"]))],
                   "interval": "simultaneous Newcombe (families as clusters)"}
        held = (totals > 0).sum(axis=0)  # families holding each group: the gate's unit for min_n
        n_min = int(held[held > 0].min())
        out = [Metric(metric, "group", suite, attribute, value, int(totals.sum()), clip_interval(gap["gap_ci"], value),
                      cls=cls, test="cluster-robust Wald test", p_value=gap["p_value"], n_min=n_min, details=details)]
        if ratio_value is not None:
            out.append(Metric("dp_ratio", "group", suite, attribute, ratio_value, int(totals.sum()),
                              clip_interval(gap["ratio_ci"], ratio_value), cls=cls, test="simultaneous group intervals",
                              n_min=n_min, details=details))
        return out


def _selection_metrics(ctx: _Slices, suite, attribute, labels, y_pred, probs) -> list[Metric]:
    metrics, params = {}, {}
    for c, label in enumerate(labels):
        metrics[f"sel:{label}"] = lambda yt, yp, c=c: float(np.mean(yp == c))
        metrics[f"prob:{label}"] = lambda yt, yp, p: float(np.mean(p))
        params[f"prob:{label}"] = {"p": probs[:, c]}
    mf = ctx.frame(metrics, np.zeros(len(y_pred)), y_pred, params)
    diff, ratio = mf.difference(method="between_groups"), mf.ratio(method="between_groups")
    everyone = np.ones(len(y_pred), dtype=bool)
    out = []
    for c, label in enumerate(labels):
        sel, prob = f"sel:{label}", f"prob:{label}"
        hits, totals = ctx.table(everyone, (y_pred == c).astype(float))
        psum, _ = ctx.table(everyone, probs[:, c])
        sel_v, prob_v = ctx.by_group(mf, sel), ctx.by_group(mf, prob)
        boot = (ctx.boot_ci(mf, sel), ctx.boot_ci(mf, prob)) if ctx.n_boot else None
        for i, g in enumerate(ctx.names):
            strata = ctx.strata[:len(hits)]
            ci_sel = boot[0][g] if boot else stats.cluster_wilson(hits[:, i], totals[:, i], ctx.alpha, strata)
            ci_prob = boot[1][g] if boot else stats.cluster_mean(psum[:, i], totals[:, i], ctx.alpha, strata)
            n, fams = int(totals[:, i].sum()), int((totals[:, i] > 0).sum())
            out.append(Metric("selection_rate", "group", suite, attribute, sel_v[g], n, clip_interval(ci_sel, sel_v[g]),
                              group=g, cls=label, test="bootstrap" if boot else "wilson (design effect)", n_min=fams))
            out.append(Metric("mean_prob", "group", suite, attribute, prob_v[g], n, clip_interval(ci_prob, prob_v[g]),
                              group=g, cls=label, test="bootstrap" if boot else "cluster t interval", n_min=fams))
        out += ctx.gap_metrics("dp_difference", suite, attribute, hits, totals, float(diff[sel]), label,
                               float(ratio[sel]))
    return out


def _labelled_metrics(ctx: _Slices, suite, attribute, labels, y_true, y_pred, probs) -> list[Metric]:
    metrics = {"accuracy": lambda yt, yp: float(np.mean(yt == yp))}
    present = sorted(set(y_true))
    for c in present:
        label = labels[c]
        metrics[f"tpr:{label}"] = lambda yt, yp, c=c: float(np.mean(yp[yt == c] == c)) if (yt == c).any() else np.nan
        metrics[f"fpr:{label}"] = lambda yt, yp, c=c: float(np.mean(yp[yt != c] == c)) if (yt != c).any() else np.nan
    mf = ctx.frame(metrics, y_true, y_pred)
    diff = mf.difference(method="between_groups")
    out = []
    everyone = np.ones(len(y_true), dtype=bool)
    correct, sizes = ctx.table(everyone, (y_pred == y_true).astype(float))
    acc = ctx.by_group(mf, "accuracy")
    boot = ctx.boot_ci(mf, "accuracy") if ctx.n_boot else None
    for i, g in enumerate(ctx.names):
        ci = boot[g] if boot else stats.cluster_wilson(correct[:, i], sizes[:, i], ctx.alpha, ctx.strata[:len(sizes)])
        out.append(Metric("accuracy", "group", suite, attribute, acc[g], int(sizes[:, i].sum()), clip_interval(ci, acc[g]),
                          group=g, test="wilson (design effect)", n_min=int((sizes[:, i] > 0).sum())))
        for c in present:
            hit, n_c = ctx.table(y_true == c, (y_pred == c).astype(float))
            if n_c[:, i].sum():
                rec = ctx.by_group(mf, f"tpr:{labels[c]}")[g]
                out.append(Metric("recall", "group", suite, attribute, rec, int(n_c[:, i].sum()),
                                  clip_interval(stats.cluster_wilson(hit[:, i], n_c[:, i], ctx.alpha,
                                                                     ctx.strata[:len(hit)]), rec), group=g,
                                  cls=labels[c], test="wilson (design effect)", n_min=int((n_c[:, i] > 0).sum())))
    out += ctx.gap_metrics("accuracy_difference", suite, attribute, correct, sizes, float(diff["accuracy"]), None)
    for c in present:
        tpr, fpr = f"tpr:{labels[c]}", f"fpr:{labels[c]}"
        value = np.nanmax([diff[tpr], diff[fpr]])
        if np.isnan(value):
            continue
        which = (y_true == c) if diff[tpr] >= diff[fpr] or np.isnan(diff[fpr]) else (y_true != c)
        hits, totals = ctx.table(which, (y_pred == c).astype(float))
        out += [m for m in ctx.gap_metrics("eo_difference", suite, attribute, hits, totals, float(value), labels[c])]
    out += _auc_metrics(suite, attribute, labels, y_true, probs, ctx.groups, present)
    return out


def _auc_metrics(suite, attribute, labels, y_true, probs, groups, present) -> list[Metric]:
    """Borkan et al. (2019): AUCs that separate a subgroup's effect from the background's."""
    out = []
    for c in present:
        positive, score = y_true == c, probs[:, c]
        for g in sorted(set(groups)):
            in_g = groups == g
            views = {"subgroup_auc": in_g, "bpsn_auc": (~in_g & positive) | (in_g & ~positive),
                     "bnsp_auc": (~in_g & ~positive) | (in_g & positive)}
            for name, mask in views.items():
                y = positive[mask]
                n_pos, n_neg = int(y.sum()), int((~y).sum())
                if n_pos == 0 or n_neg == 0:
                    continue
                auc = stats.auc(y, score[mask])
                out.append(Metric(name, "auc", suite, attribute, auc, int(mask.sum()),
                                  stats.auc_interval(auc, n_pos, n_neg), group=g, cls=labels[c], test="Hanley-McNeil",
                                  n_min=min(n_pos, n_neg)))
    return out
