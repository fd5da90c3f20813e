"""Disparity metrics over scored cases. Every metric is multiclass (per class, one-vs-rest) and carries n,
the size of its smallest group ``n_min``, a point estimate, a 95% interval that contains it and, where it is a
test, a p-value. :data:`REGISTRY` lists every metric with its formula and reference; the gate checks rule
names against it.

Counterfactual metrics compare *matched* cases only (audit/matching.py: same family, surface form, counterpart
and other protected attributes). Families are the independent units: intervals and tests are over families.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from audit import matching, stats
from audit.suites import INTERSECTION


@dataclass(frozen=True)
class MetricInfo:
    kind: str     # counterfactual | group | auc
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
}
CONTRASTS = ("mean_shift", "label_shift", "flip_rate_difference")


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


def _ordered(ci: tuple, value: float, lowest: float = 0.0) -> tuple:
    """The interval clipped to the metric's range [lowest, 1], containing its estimate (guards rounding)."""
    lo, hi = ci
    if lo is None:
        return None, None
    return float(max(lowest, min(lo, value))), float(min(1.0, max(hi, value)))


# ------------------------------------------------------------------ counterfactual
def counterfactual_metrics(frame: pd.DataFrame, labels: list[str], suite: str, attribute: str,
                           alpha: float = 0.05, attributes: list[str] | None = None) -> list[Metric]:
    sub = frame[frame["suite"] == suite]
    m = matching.match(sub, attribute, attributes or [attribute]) if attribute in sub else None
    if m is None:
        return []
    sub = sub.iloc[m.rows]
    probs = prob_matrix(sub, labels)
    pred = sub["pred"].map({l: i for i, l in enumerate(labels)}).to_numpy()
    k = len(labels)
    counts = matching.label_counts(m, pred, k)
    out = _flip_metrics(m, counts, sub["template_id"].astype(str).to_numpy(), suite, attribute, alpha)
    flip_share = matching.member_flip_share(m, counts, pred)
    expected = sub["y_true"].map({l: i for i, l in enumerate(labels)}).fillna(-1).to_numpy(dtype=int) \
        if "y_true" in sub else np.full(len(sub), -1)
    for name, values in (("mean_shift", probs), ("label_shift", np.eye(k)[pred])):
        on_label = values * (expected[:, None] == np.arange(k))
        out += _contrast_metrics(m, name, values, suite, attribute, labels, alpha, on_label)
    out += _contrast_metrics(m, "flip_rate_difference", flip_share[:, None], suite, attribute, [None], alpha)
    # counterfactual token fairness: per family, mean |delta| over its matched cross-group pairs
    pairs = m.per_family(matching.cross_pairs(counts)[0].sum(axis=1)) / 2
    ctf = m.per_family(matching.abs_diff_sums(m, probs)) / pairs[:, None]
    for c, label in enumerate(labels):
        out.append(Metric("ctf_gap", "counterfactual", suite, attribute, float(ctf[:, c].mean()), len(ctf),
                          _ordered(stats.mean_interval(ctf[:, c], alpha), float(ctf[:, c].mean())), cls=label,
                          test="t interval"))
    per_family = ctf.mean(axis=1)
    out.append(Metric("mean_abs_delta", "counterfactual", suite, attribute, float(per_family.mean()), len(ctf),
                      _ordered(stats.mean_interval(per_family, alpha), float(per_family.mean())), test="t interval"))
    out.append(Metric("max_abs_delta", "counterfactual", suite, attribute, matching.max_cross_diff(m, probs), len(ctf),
                      None, details={"note": "a maximum has no interval"}))
    return out


def _flip_metrics(m: matching.Matched, counts: np.ndarray, templates: np.ndarray, suite: str, attribute: str,
                  alpha: float) -> list[Metric]:
    """INV instability over matched pairs: overall, per template, per group pair and per group (symmetric)."""
    pairs, disc = matching.cross_pairs(counts)  # (S, G), each cross pair counted once per side
    tpl_of_stratum = np.empty(m.shape[1], dtype=object)
    tpl_of_stratum[m.stratum] = templates
    sizes = counts.sum(axis=2)
    n_min = int(min(sizes[:, g].sum() for g in range(m.shape[2])))

    def rate(p: np.ndarray, d: np.ndarray, **kw) -> Metric | None:
        pf, df = m.per_family(p), m.per_family(d)
        if pf.sum() == 0:
            return None
        value = float(df.sum() / pf.sum())
        name = "group_flip_rate" if kw.get("group") and " vs " not in kw["group"] else "flip_rate"
        return Metric(name, "counterfactual", suite, attribute, value, int(round(pf.sum())),
                      _ordered(stats.cluster_wilson(df, pf, alpha), value), test="wilson (families' design effect)",
                      n_min=kw.pop("n_min", n_min), details={"flipped": int(round(df.sum())), "unit": "matched pairs"},
                      **kw)

    out = [rate(pairs.sum(axis=1) / 2, disc.sum(axis=1) / 2)]
    for tid in sorted(set(templates)):
        sel = (tpl_of_stratum == tid)[:, None]
        out.append(rate(np.where(sel, pairs, 0).sum(axis=1) / 2, np.where(sel, disc, 0).sum(axis=1) / 2, template=tid))
    for (i, gi), (j, gj) in itertools.combinations(enumerate(m.groups), 2):
        p = sizes[:, i] * sizes[:, j]
        d = p - (counts[:, i] * counts[:, j]).sum(axis=1)
        out.append(rate(p, d, group=f"{gi} vs {gj}", n_min=int(min(sizes[:, i].sum(), sizes[:, j].sum()))))
    for i, g in enumerate(m.groups):
        out.append(rate(pairs[:, i], disc[:, i], group=g, n_min=int(sizes[:, i].sum())))
        for tid in sorted(set(templates)):
            sel = tpl_of_stratum == tid
            out.append(rate(np.where(sel, pairs[:, i], 0), np.where(sel, disc[:, i], 0), group=g, template=tid,
                            n_min=int(sizes[sel, i].sum())))
    return [x for x in out if x is not None]


def _contrast_metrics(m: matching.Matched, name: str, values: np.ndarray, suite: str, attribute: str,
                      classes: list, alpha: float, on_label: np.ndarray | None = None) -> list[Metric]:
    """One record per group and class of :func:`matching.contrast`, tested over families.

    ``details.harm``: the part of the contrast that moves g away from the expected labels (gaining class c where
    another label is expected, losing it where c is expected). With two groups every record has a mirror
    image; the gate names the one whose group is harmed (audit/gate.py ``evidence``).
    """
    diffs = matching.contrast(m, values)  # (F, G, k)
    harm = diffs - 2 * matching.contrast(m, on_label) if on_label is not None else diffs
    sums, counts = m.per_stratum(values)
    in_stratum = counts > 0
    p_t, p_w = stats.paired_tests_columns(diffs.reshape(len(diffs), -1))
    out = []
    for g, group in enumerate(m.groups):
        vs = m.groups[1 - g] if len(m.groups) == 2 else f"other {attribute} groups"
        n_g = int(counts[:, g].sum())
        n_rest = int(counts[in_stratum[:, g]].sum() - n_g)
        for c, label in enumerate(classes):
            d = diffs[:, g, c]
            d = d[~np.isnan(d)]
            if len(d) == 0:
                continue
            value, j = float(d.mean()), g * len(classes) + c
            out.append(Metric(name, "counterfactual", suite, attribute, value, len(d),
                              _ordered(stats.mean_interval(d, alpha), value, -1.0), group=group, cls=label,
                              test="paired t-test over families", p_value=p_t[j], p_wilcoxon=p_w[j],
                              n_min=min(n_g, n_rest),
                              details={"vs": vs, "base_rate": float(sums[..., c].sum() / counts.sum()),
                                       "harm": float(np.nanmean(harm[:, g, c]))}))
    return out


# ------------------------------------------------------------------ group slices
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
    ctx = _Slices(fam, groups, sensitive, alpha, n_boot, seed)
    y_pred = sub["pred"].map(index).to_numpy()
    y_true = sub["y_true"].map(index).to_numpy() if "y_true" in sub else np.full(len(sub), np.nan)
    has_truth = ~pd.isna(y_true)
    out = _selection_metrics(ctx, suite, attribute, labels, y_pred, prob_matrix(sub, labels))
    if has_truth.sum() and len(set(groups[has_truth])) >= 2:
        lab = _Slices(fam[has_truth], groups[has_truth], sensitive[has_truth], alpha, n_boot, seed)
        out += _labelled_metrics(lab, suite, attribute, labels, y_true[has_truth].astype(int), y_pred[has_truth],
                                 prob_matrix(sub, labels)[has_truth])
    return out


@dataclass
class _Slices:
    family: np.ndarray
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
        gap = stats.rate_gap(hits, totals, self.alpha)
        if not gap:
            return []
        present = [g for g, t in zip(self.names, totals.sum(axis=0)) if t > 0]
        details = {"highest": present[int(np.argmax(gap["rates"]))], "lowest": present[int(np.argmin(gap["rates"]))],
                   "interval": "simultaneous Newcombe (families as clusters)"}
        n_min = int(totals.sum(axis=0)[totals.sum(axis=0) > 0].min())
        out = [Metric(metric, "group", suite, attribute, value, int(totals.sum()), _ordered(gap["gap_ci"], value),
                      cls=cls, test="cluster-robust Wald test", p_value=gap["p_value"], n_min=n_min, details=details)]
        if ratio_value is not None:
            out.append(Metric("dp_ratio", "group", suite, attribute, ratio_value, int(totals.sum()),
                              _ordered(gap["ratio_ci"], ratio_value), cls=cls, test="simultaneous group intervals",
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
            ci_sel = boot[0][g] if boot else stats.cluster_wilson(hits[:, i], totals[:, i], ctx.alpha)
            ci_prob = boot[1][g] if boot else stats.cluster_mean(psum[:, i], totals[:, i], ctx.alpha)
            n = int(totals[:, i].sum())
            out.append(Metric("selection_rate", "group", suite, attribute, sel_v[g], n, _ordered(ci_sel, sel_v[g]),
                              group=g, cls=label, test="bootstrap" if boot else "wilson (design effect)", n_min=n))
            out.append(Metric("mean_prob", "group", suite, attribute, prob_v[g], n, _ordered(ci_prob, prob_v[g]),
                              group=g, cls=label, test="bootstrap" if boot else "cluster t interval", n_min=n))
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
        ci = boot[g] if boot else stats.cluster_wilson(correct[:, i], sizes[:, i], ctx.alpha)
        out.append(Metric("accuracy", "group", suite, attribute, acc[g], int(sizes[:, i].sum()), _ordered(ci, acc[g]),
                          group=g, test="wilson (design effect)", n_min=int(sizes[:, i].sum())))
        for c in present:
            hit, n_c = ctx.table(y_true == c, (y_pred == c).astype(float))
            if n_c[:, i].sum():
                rec = ctx.by_group(mf, f"tpr:{labels[c]}")[g]
                out.append(Metric("recall", "group", suite, attribute, rec, int(n_c[:, i].sum()),
                                  _ordered(stats.cluster_wilson(hit[:, i], n_c[:, i], ctx.alpha), rec), group=g,
                                  cls=labels[c], test="wilson (design effect)", n_min=int(n_c[:, i].sum())))
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


def all_metrics(frame: pd.DataFrame, labels: list[str], attributes: list[str], n_boot: int = 0, alpha: float = 0.05,
                seed: int = 0, correction: str = "holm", slices: bool = True) -> list[Metric]:
    """Every metric for every suite x attribute present (``slices=False``: counterfactual ones only, which is
    all the default gate reads). p-values are adjusted here across all tests (the descriptive view);
    :func:`audit.gate.evaluate` re-adjusts the tests its rules use among themselves."""
    out: list[Metric] = []
    for suite, attribute in itertools.product(frame["suite"].unique(), attributes):
        if attribute not in frame:
            continue
        out += counterfactual_metrics(frame, labels, suite, attribute, alpha, attributes)
        if slices:
            out += group_metrics(frame, labels, suite, attribute, n_boot, alpha, seed)
    tested = [m for m in out if m.p_value is not None]
    for m, p in zip(tested, stats.adjust([m.p_value for m in tested], correction)):
        m.p_adjusted = p
    return out
