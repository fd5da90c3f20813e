"""Disparity metrics over scored cases. Every metric is multiclass (per class, one-vs-rest) and carries n,
a point estimate, an interval and, where it is a test, a p-value.

Counterfactual metrics (per suite x attribute; a *family* is a set of cases that differ only in the protected
slot, and only members with a value for the attribute take part):

* ``flip_rate``: share of families whose predicted label is not the same for every member (CheckList's INV
  failure rate, Ribeiro et al. 2020). Wilson interval over families. Also per template, and per group pair
  (``group`` = "g1 vs g2": only the members of the two groups count).
* ``group_flip_rate``: share of a group's members whose label differs from their family's modal label
  (per template too: the heat map). Wilson interval over members.
* ``mean_shift``: for group g and class c, the mean over families of ``mean_{x in g} p_c(x) - mean_{h != g}
  mean_{x in h} p_c(x)`` (g against the average of the other groups); t interval; paired t-test and Wilcoxon
  signed-rank over families (Kiritchenko & Mohammad 2018). "female names raise p(sad) by 0.04" is one of these.
* ``ctf_gap``: counterfactual token fairness gap (Garg et al. 2019) for class c: mean ``|p_c(x) - p_c(x')|``
  over member pairs from different groups, averaged per family then over families (t interval).
* ``mean_abs_delta`` / ``max_abs_delta``: the same over all classes; mean with t interval, and the maximum.

Group metrics (fairlearn ``MetricFrame``; with ``n_boot`` its bootstrap intervals from ``n_boot`` /
``ci_quantiles``, by default a binomial bootstrap of the group rates, see :func:`rate_gap_interval`):

* ``selection_rate`` (Wilson) and ``mean_prob`` (t) per group and class; ``dp_difference`` / ``dp_ratio`` per class
  (demographic parity, between groups; chi-square test of independence of group and predicted class).
* with true labels: ``accuracy`` and ``recall`` per group, ``accuracy_difference`` (chi-square test), and
  ``eo_difference`` per class (equalized odds: the larger of the TPR and FPR gaps, Hardt et al. 2016).
* ``subgroup_auc``, ``bpsn_auc``, ``bnsp_auc`` per group and class (Borkan et al. 2019), Hanley-McNeil intervals.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from audit import stats


@dataclass
class Metric:
    metric: str
    kind: str  # counterfactual | group | auc
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
    details: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        parts = [self.metric, self.suite, self.attribute, self.group, self.cls, self.template]
        return "/".join(p for p in parts if p)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["id"] = self.id
        d["class"] = d.pop("cls")
        d["ci"] = list(self.ci) if self.ci else None
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in d.items()}


def prob_matrix(frame: pd.DataFrame, labels: list[str]) -> np.ndarray:
    return frame[[f"p_{label}" for label in labels]].to_numpy(dtype=float)


# ------------------------------------------------------------------ counterfactual
def counterfactual_metrics(frame: pd.DataFrame, labels: list[str], suite: str, attribute: str,
                           alpha: float = 0.05) -> list[Metric]:
    sub = frame[(frame["suite"] == suite) & frame[attribute].notna()]
    if sub.empty:
        return []
    probs = prob_matrix(sub, labels)
    pred = sub["pred"].map({l: i for i, l in enumerate(labels)}).to_numpy()
    groups = sub[attribute].astype(str).to_numpy()
    group_names = sorted(set(groups))
    templates = sub["template_id"].astype(str).to_numpy()
    flips: list[tuple[str, bool]] = []
    pair_flips: dict[tuple[str, str], list[bool]] = {}
    deviations: dict[tuple[str, str], list[bool]] = {}
    shifts: dict[tuple[str, int], list[float]] = {}
    ctf: list[np.ndarray] = []
    max_delta = 0.0
    for idx in sub.groupby("family", sort=False).indices.values():
        g = groups[idx]
        present = sorted(set(g))
        if len(present) < 2:
            continue  # not a counterfactual family for this attribute
        p, y, tid = probs[idx], pred[idx], templates[idx[0]]
        flips.append((tid, len(set(y)) > 1))
        for g1, g2 in itertools.combinations(present, 2):
            pair_flips.setdefault((g1, g2), []).append(len(set(y[(g == g1) | (g == g2)])) > 1)
        modal = np.bincount(y).argmax()
        for gi, dev in zip(g, y != modal):
            deviations.setdefault((gi, tid), []).append(bool(dev))
        means = {h: p[g == h].mean(axis=0) for h in present}
        for h in present:
            rest = np.mean([means[o] for o in present if o != h], axis=0)
            for c in range(len(labels)):
                shifts.setdefault((h, c), []).append(float(means[h][c] - rest[c]))
        cross = g[:, None] != g[None, :]
        delta = np.abs(p[:, None, :] - p[None, :, :])[cross]  # (pairs x 2, classes)
        ctf.append(delta.mean(axis=0))
        max_delta = max(max_delta, float(delta.max()))
    if not flips:
        return []
    out: list[Metric] = []
    n_fam = len(flips)
    k = sum(f for _, f in flips)
    out.append(Metric("flip_rate", "counterfactual", suite, attribute, k / n_fam, n_fam, stats.wilson(k, n_fam, alpha),
                      test="wilson", details={"flipped": k}))
    for tid in sorted({t for t, _ in flips}):
        fs = [f for t, f in flips if t == tid]
        out.append(Metric("flip_rate", "counterfactual", suite, attribute, sum(fs) / len(fs), len(fs),
                          stats.wilson(sum(fs), len(fs), alpha), template=tid, test="wilson", details={"flipped": sum(fs)}))
    for (g1, g2), fs in sorted(pair_flips.items()):
        out.append(Metric("flip_rate", "counterfactual", suite, attribute, sum(fs) / len(fs), len(fs),
                          stats.wilson(sum(fs), len(fs), alpha), group=f"{g1} vs {g2}", test="wilson",
                          details={"flipped": sum(fs)}))
    for h in group_names:
        devs = [d for (gi, _), ds in deviations.items() if gi == h for d in ds]
        if devs:
            out.append(Metric("group_flip_rate", "counterfactual", suite, attribute, sum(devs) / len(devs), len(devs),
                              stats.wilson(sum(devs), len(devs), alpha), group=h, test="wilson"))
        for (gi, tid), ds in sorted(deviations.items()):
            if gi == h:
                out.append(Metric("group_flip_rate", "counterfactual", suite, attribute, sum(ds) / len(ds), len(ds),
                                  stats.wilson(sum(ds), len(ds), alpha), group=h, template=tid, test="wilson"))
    for (h, c), diffs in sorted(shifts.items()):
        d = np.array(diffs)
        p_t, p_w = stats.paired_tests(d)
        out.append(Metric("mean_shift", "counterfactual", suite, attribute, float(d.mean()), len(d),
                          stats.mean_interval(d, alpha), group=h, cls=labels[c], test="paired t-test",
                          p_value=p_t, p_wilcoxon=p_w))
    ctf_arr = np.array(ctf)
    for c, label in enumerate(labels):
        col = ctf_arr[:, c]
        out.append(Metric("ctf_gap", "counterfactual", suite, attribute, float(col.mean()), len(col),
                          stats.mean_interval(col, alpha), cls=label, test="t interval"))
    per_family = ctf_arr.mean(axis=1)
    out.append(Metric("mean_abs_delta", "counterfactual", suite, attribute, float(per_family.mean()), n_fam,
                      stats.mean_interval(per_family, alpha), test="t interval"))
    out.append(Metric("max_abs_delta", "counterfactual", suite, attribute, max_delta, n_fam, None,
                      details={"note": "a maximum has no interval"}))
    return out


# ------------------------------------------------------------------ group slices
def group_metrics(frame: pd.DataFrame, labels: list[str], suite: str, attribute: str, n_boot: int = 0,
                  alpha: float = 0.05, seed: int = 0) -> list[Metric]:
    sub = frame[(frame["suite"] == suite) & frame[attribute].notna()]
    groups = sub[attribute].astype(str).to_numpy()
    if len(set(groups)) < 2:
        return []
    index = {l: i for i, l in enumerate(labels)}
    y_pred = sub["pred"].map(index).to_numpy()
    y_true = sub["y_true"].map(index).to_numpy() if "y_true" in sub else np.full(len(sub), np.nan)
    has_truth = ~pd.isna(y_true)
    probs = prob_matrix(sub, labels)
    out = _selection_metrics(suite, attribute, labels, y_pred, probs, groups, n_boot, alpha, seed)
    if has_truth.sum() and len(set(groups[has_truth])) >= 2:
        yt = y_true[has_truth].astype(int)
        out += _labelled_metrics(suite, attribute, labels, yt, y_pred[has_truth], probs[has_truth], groups[has_truth],
                                 n_boot, alpha, seed)
    return out


def _frame(metrics: dict, y_true, y_pred, groups, params: dict | None, n_boot: int, alpha: float, seed: int):
    boot = {"n_boot": n_boot, "ci_quantiles": [alpha / 2, 1 - alpha / 2], "random_state": seed} if n_boot else {}
    return MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=pd.Series(groups, name="group"),
                       sample_params=params, **boot)


def rate_gap_interval(successes: np.ndarray, totals: np.ndarray, alpha: float, seed: int,
                      draws: int = 2000) -> tuple[tuple[float, float], tuple[float, float]]:
    """Bootstrap interval of the between-groups difference (max - min) and ratio (min / max) of rates.

    Resampling rows within each group leaves a group's success count Binomial(n_g, p_g), so drawing those
    counts directly is the stratified bootstrap of a proportion, at a ten-thousandth of the cost of fairlearn's
    row resampling (``--n-boot`` switches to that).
    """
    ok = totals > 0
    rng = np.random.default_rng(seed)
    rates = rng.binomial(totals[ok][None, :], (successes[ok] / totals[ok])[None, :], size=(draws, ok.sum())) / totals[ok]
    hi, lo = rates.max(axis=1), rates.min(axis=1)
    diff = np.quantile(hi - lo, [alpha / 2, 1 - alpha / 2])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.nan_to_num(np.where(hi > 0, lo / hi, 1.0), nan=1.0)
    q = np.quantile(ratio, [alpha / 2, 1 - alpha / 2])
    return (float(diff[0]), float(diff[1])), (float(q[0]), float(q[1]))


def _selection_metrics(suite, attribute, labels, y_pred, probs, groups, n_boot, alpha, seed) -> list[Metric]:
    metrics, params = {}, {}
    for c, label in enumerate(labels):
        metrics[f"sel:{label}"] = lambda yt, yp, c=c: float(np.mean(yp == c))
        metrics[f"prob:{label}"] = lambda yt, yp, p: float(np.mean(p))
        params[f"prob:{label}"] = {"p": probs[:, c]}
    mf = _frame(metrics, np.zeros(len(y_pred)), y_pred, groups, params, n_boot, alpha, seed)
    by_group = mf.by_group
    names = [str(g) for g in by_group.index]
    counts = np.array([(groups == g).sum() for g in names])
    diff, ratio = mf.difference(method="between_groups"), mf.ratio(method="between_groups")
    if n_boot:
        ci_low, ci_high = mf.by_group_ci
        diff_ci, ratio_ci = mf.difference_ci(method="between_groups"), mf.ratio_ci(method="between_groups")
    test = "bootstrap" if n_boot else None
    out = []
    for c, label in enumerate(labels):
        sel, prob = f"sel:{label}", f"prob:{label}"
        hits = np.array([int(((groups == g) & (y_pred == c)).sum()) for g in names])
        for i, g in enumerate(names):
            if n_boot:
                ci_sel = (float(ci_low[sel].loc[g]), float(ci_high[sel].loc[g]))
                ci_prob = (float(ci_low[prob].loc[g]), float(ci_high[prob].loc[g]))
            else:
                ci_sel, ci_prob = stats.wilson(hits[i], counts[i], alpha), stats.mean_interval(probs[groups == g, c], alpha)
            out.append(Metric("selection_rate", "group", suite, attribute, float(by_group[sel].loc[g]), int(counts[i]),
                              ci_sel, group=g, cls=label, test=test or "wilson"))
            out.append(Metric("mean_prob", "group", suite, attribute, float(by_group[prob].loc[g]), int(counts[i]),
                              ci_prob, group=g, cls=label, test=test or "t interval"))
        if n_boot:
            d_ci, r_ci = (float(diff_ci[0][sel]), float(diff_ci[1][sel])), (float(ratio_ci[0][sel]), float(ratio_ci[1][sel]))
        else:
            d_ci, r_ci = rate_gap_interval(hits, counts, alpha, seed)
        p = stats.chi2_independence(np.stack([hits, counts - hits], axis=1))
        out.append(Metric("dp_difference", "group", suite, attribute, float(diff[sel]), len(y_pred), d_ci, cls=label,
                          test="chi-square", p_value=p, details={"interval": test or "binomial bootstrap"}))
        out.append(Metric("dp_ratio", "group", suite, attribute, float(ratio[sel]), len(y_pred), r_ci, cls=label,
                          test=test or "binomial bootstrap"))
    return out


def _labelled_metrics(suite, attribute, labels, y_true, y_pred, probs, groups, n_boot, alpha, seed) -> list[Metric]:
    metrics = {"accuracy": lambda yt, yp: float(np.mean(yt == yp))}
    present = sorted(set(y_true))
    for c in present:
        label = labels[c]
        metrics[f"tpr:{label}"] = lambda yt, yp, c=c: float(np.mean(yp[yt == c] == c)) if (yt == c).any() else np.nan
        metrics[f"fpr:{label}"] = lambda yt, yp, c=c: float(np.mean(yp[yt != c] == c)) if (yt != c).any() else np.nan
    mf = _frame(metrics, y_true, y_pred, groups, None, n_boot, alpha, seed)
    by_group, diff = mf.by_group, mf.difference(method="between_groups")
    names = [str(g) for g in by_group.index]
    if n_boot:
        ci_low, ci_high = mf.by_group_ci
        diff_ci = mf.difference_ci(method="between_groups")
    test = "bootstrap" if n_boot else "wilson"

    out = []
    correct = np.array([int(((groups == g) & (y_pred == y_true)).sum()) for g in names])
    sizes = np.array([int((groups == g).sum()) for g in names])
    for i, g in enumerate(names):
        ci = (float(ci_low["accuracy"].loc[g]), float(ci_high["accuracy"].loc[g])) if n_boot else stats.wilson(correct[i], sizes[i], alpha)
        out.append(Metric("accuracy", "group", suite, attribute, float(by_group["accuracy"].loc[g]), int(sizes[i]), ci,
                          group=g, test=test))
        for c in present:
            name = f"tpr:{labels[c]}"
            n_c = int(((groups == g) & (y_true == c)).sum())
            if n_c:
                hit = int(((groups == g) & (y_true == c) & (y_pred == c)).sum())
                ci = (float(ci_low[name].loc[g]), float(ci_high[name].loc[g])) if n_boot else stats.wilson(hit, n_c, alpha)
                out.append(Metric("recall", "group", suite, attribute, float(by_group[name].loc[g]), n_c, ci, group=g,
                                  cls=labels[c], test=test))
    acc_ci = (float(diff_ci[0]["accuracy"]), float(diff_ci[1]["accuracy"])) if n_boot else rate_gap_interval(correct, sizes, alpha, seed)[0]
    out.append(Metric("accuracy_difference", "group", suite, attribute, float(diff["accuracy"]), len(y_true), acc_ci,
                      test="chi-square", p_value=stats.chi2_independence(np.stack([correct, sizes - correct], axis=1))))
    for c in present:
        tpr, fpr = f"tpr:{labels[c]}", f"fpr:{labels[c]}"
        value = np.nanmax([diff[tpr], diff[fpr]])
        which = tpr if diff[tpr] >= diff[fpr] or np.isnan(diff[fpr]) else fpr
        if n_boot:  # the interval of whichever gap is larger
            ci = (float(diff_ci[0][which]), float(diff_ci[1][which]))
        else:
            base = (y_true == c) if which == tpr else (y_true != c)
            hits = np.array([int((base & (groups == g) & (y_pred == c)).sum()) for g in names])
            tot = np.array([int((base & (groups == g)).sum()) for g in names])
            ci = rate_gap_interval(hits, tot, alpha, seed)[0]
        out.append(Metric("eo_difference", "group", suite, attribute, None if np.isnan(value) else float(value),
                          len(y_true), ci, cls=labels[c], test="bootstrap" if n_boot else "binomial bootstrap"))
    out += _auc_metrics(suite, attribute, labels, y_true, probs, groups, present)
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
                                  stats.auc_interval(auc, n_pos, n_neg), group=g, cls=labels[c], test="Hanley-McNeil"))
    return out


def all_metrics(frame: pd.DataFrame, labels: list[str], attributes: list[str], n_boot: int = 0, alpha: float = 0.05,
                seed: int = 0, correction: str = "holm") -> list[Metric]:
    """Every metric for every suite x attribute present, with p-values adjusted across the whole run."""
    out: list[Metric] = []
    for suite, attribute in itertools.product(frame["suite"].unique(), attributes):
        out += counterfactual_metrics(frame, labels, suite, attribute, alpha)
        out += group_metrics(frame, labels, suite, attribute, n_boot, alpha, seed)
    tested = [m for m in out if m.p_value is not None]
    for m, p in zip(tested, stats.adjust([m.p_value for m in tested], correction)):
        m.p_adjusted = p
    return out
