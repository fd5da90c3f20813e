"""Disparity metrics over scored cases. Every metric is multiclass (per class, one-vs-rest) and carries n,
the size of its smallest group ``n_min``, a point estimate, a 95% interval that contains it and, where it is a
test, a p-value. Each family is registered (:func:`audit.records.metric_family`) with its metrics' formulas
and references: the report's methodology, the README's table and the gate's metric names come from there.

Counterfactual metrics (here) compare *matched* cases only (audit/matching.py: same family, surface form,
counterpart and other protected attributes); families are the independent units of their intervals and tests.
Group-slice metrics are in audit/slices.py; :func:`all_metrics` runs every registered family.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from audit import matching, stats
from core.perturb import ORIGINAL_TERM
from core.suites import INTERSECTION
from audit.records import REGISTRY, MetricInfo, Metric, Scored, clip_interval, metric_family, prob_matrix, \
    run_families  # noqa: F401 (REGISTRY: public API)

_CONTRAST = ("mean over families of [mean over the family's matched strata of (mean_{x in g} v(x) - mean_{h != g}"
             " mean_{x in h} v(x))]; t interval, paired t-test (p) and Wilcoxon signed-rank over families")
_WILSON = "Wilson interval at the families' design effect (Kish deff from the cluster-robust variance)"


# ------------------------------------------------------------------ counterfactual
@metric_family("counterfactual", "Matched counterfactuals", (
    "Matched members of each family (above) are compared. With two groups every contrast has a mirror image; the "
    "gate and the report name the group that is harmed (moved away from the expected labels, else the one "
    "that receives more of the class). Pair sums come from per-group label counts and sorted prefix sums: "
    "memory grows linearly with family size."), {
    "mean_shift": MetricInfo("counterfactual", "signed", f"v = p_c: {_CONTRAST}", "Kiritchenko & Mohammad 2018",
                             "the mean change in p(class) for one group against the others on otherwise identical "
                             "sentences", role="contrast"),
    "label_shift": MetricInfo("counterfactual", "signed", "as mean_shift with v = 1[pred = c]: a selection-rate "
                              "difference on matched sentences", words="the change in the rate of predicting the class for "
                              "one group against the others on otherwise identical sentences", role="contrast"),
    "term_shift": MetricInfo("counterfactual", "signed", "v = p_c for the sentences with term t (groups with "
                             "several terms), against the mean of the other groups' means in the same stratum; "
                             "mean over families; t interval, paired t-test over families",
                             words="the change in p(class) for one name, word or rewrite rule against the other "
                             "groups on otherwise identical sentences", role="term"),
    "flip_rate_difference": MetricInfo("counterfactual", "signed", "as mean_shift with v = share of x's matched "
                                       "counterparts with another label: g flips more than the others",
                                       words="how much more often one group's label differs from its matched "
                                       "counterparts' than the other groups'", role="contrast"),
    "flip_rate": MetricInfo("counterfactual", "rate", "share of matched cross-group pairs whose labels differ "
                            f"(symmetric instability; also per template and per pair of groups); {_WILSON}",
                            "CheckList INV, Ribeiro et al. 2020",
                            "the share of sentence families whose predicted label changes with the protected term"),
    "group_flip_rate": MetricInfo("counterfactual", "rate", "share of matched pairs involving group g whose labels "
                                  "differ (symmetric: a flip counts for both sides; it blames no group); as flip_rate",
                                  words="the share of one group's sentences whose predicted label differs from the "
                                  "rest of the family"),
    "ctf_gap": MetricInfo("counterfactual", "gap", "mean |p_c(x) - p_c(x')| over matched cross-group pairs, per "
                          "family then over families (counterfactual token fairness); t interval", "Garg et al. 2019"),
    "mean_abs_delta": MetricInfo("counterfactual", "gap", "ctf_gap averaged over classes; t interval"),
    "max_abs_delta": MetricInfo("counterfactual", "gap", "max |p_c(x) - p_c(x')| over matched pairs and classes "
                                "(a maximum: no interval)"),
})
def counterfactual_family(scored: Scored, suite: str, attribute: str) -> list[Metric]:
    return counterfactual_metrics(scored.frame, scored.labels, suite, attribute, scored.alpha, scored.attributes)


def counterfactual_metrics(frame: pd.DataFrame, labels: list[str], suite: str, attribute: str,
                           alpha: float = 0.05, attributes: list[str] | None = None,
                           per_template: bool = True) -> list[Metric]:
    """The family's records for one suite x attribute (``per_template=False``: without the per-template flip
    rates, which no default rule reads; the calibration study skips them)."""
    sub = frame[frame["suite"] == suite]
    m = matching.match(sub, attribute, attributes or [attribute]) if attribute in sub else None
    if m is None:
        return []
    sub = sub.iloc[m.rows]
    probs = prob_matrix(sub, labels)
    pred = sub["pred"].map({l: i for i, l in enumerate(labels)}).to_numpy()
    k = len(labels)
    counts = matching.label_counts(m, pred, k)
    out = _flip_metrics(m, counts, sub["template_id"].astype(str).to_numpy(), suite, attribute, alpha, per_template)
    flip_share = matching.member_flip_share(m, counts, pred)
    expected = sub["y_true"].map({l: i for i, l in enumerate(labels)}).fillna(-1).to_numpy(dtype=int) \
        if "y_true" in sub else np.full(len(sub), -1)
    for name, values in (("mean_shift", probs), ("label_shift", np.eye(k)[pred])):
        on_label = values * (expected[:, None] == np.arange(k))
        out += _contrast_metrics(m, name, values, suite, attribute, labels, alpha, on_label)
    out += _contrast_metrics(m, "flip_rate_difference", flip_share[:, None], suite, attribute, [None], alpha)
    if "term" in sub and INTERSECTION not in attribute:  # a term lies in one cell of an intersection: no news there
        out += _term_metrics(m, sub["term"].fillna("").astype(str).to_numpy(), probs, probs * (
            expected[:, None] == np.arange(k)), suite, attribute, labels, alpha)
    # counterfactual token fairness: per family, mean |delta| over its matched cross-group pairs
    pairs = m.per_family(matching.cross_pairs(counts)[0].sum(axis=1)) / 2
    ctf = m.per_family(matching.abs_diff_sums(m, probs)) / pairs[:, None]
    for c, label in enumerate(labels):
        out.append(Metric("ctf_gap", "counterfactual", suite, attribute, float(ctf[:, c].mean()), len(ctf),
                          clip_interval(stats.mean_interval(ctf[:, c], alpha), float(ctf[:, c].mean())), cls=label,
                          test="t interval"))
    per_family = ctf.mean(axis=1)
    out.append(Metric("mean_abs_delta", "counterfactual", suite, attribute, float(per_family.mean()), len(ctf),
                      clip_interval(stats.mean_interval(per_family, alpha), float(per_family.mean())), test="t interval"))
    out.append(Metric("max_abs_delta", "counterfactual", suite, attribute, matching.max_cross_diff(m, probs), len(ctf),
                      None, details={"note": "a maximum has no interval"}))
    return out


def _flip_metrics(m: matching.Matched, counts: np.ndarray, templates: np.ndarray, suite: str, attribute: str,
                  alpha: float, per_template: bool = True) -> list[Metric]:
    """INV instability over matched pairs: overall, per template, per group pair and per group (symmetric)."""
    pairs, disc = matching.cross_pairs(counts)  # (S, G), each cross pair counted once per side
    tpl_of_stratum = np.empty(m.shape[1], dtype=object)
    tpl_of_stratum[m.stratum] = templates
    sizes = counts.sum(axis=2)
    # n_min counts families (the gate's unit for min_n): the families in which a group has a member
    in_family = m.per_family((sizes > 0).astype(float)) > 0  # (F, G)
    fams = in_family.sum(axis=0)
    n_min = int(fams.min())

    def rate(p: np.ndarray, d: np.ndarray, **kw) -> Metric | None:
        pf, df = m.per_family(p), m.per_family(d)
        if pf.sum() == 0:
            return None
        value = float(df.sum() / pf.sum())
        name = "group_flip_rate" if kw.get("group") and " vs " not in kw["group"] else "flip_rate"
        return Metric(name, "counterfactual", suite, attribute, value, int(round(pf.sum())),
                      clip_interval(stats.cluster_wilson(df, pf, alpha), value), test="wilson (families' design effect)",
                      n_min=kw.pop("n_min", n_min), details={"flipped": int(round(df.sum())), "unit": "matched pairs"},
                      **kw)

    out = [rate(pairs.sum(axis=1) / 2, disc.sum(axis=1) / 2)]
    templates_shown = sorted(set(templates)) if per_template else []
    for tid in templates_shown:
        sel = (tpl_of_stratum == tid)[:, None]
        out.append(rate(np.where(sel, pairs, 0).sum(axis=1) / 2, np.where(sel, disc, 0).sum(axis=1) / 2, template=tid))
    for (i, gi), (j, gj) in itertools.combinations(enumerate(m.groups), 2):
        p = sizes[:, i] * sizes[:, j]
        d = p - (counts[:, i] * counts[:, j]).sum(axis=1)
        out.append(rate(p, d, group=f"{gi} vs {gj}", n_min=int(min(fams[i], fams[j]))))
    for i, g in enumerate(m.groups):
        out.append(rate(pairs[:, i], disc[:, i], group=g, n_min=int(fams[i])))
        for tid in templates_shown:
            sel = tpl_of_stratum == tid
            out.append(rate(np.where(sel, pairs[:, i], 0), np.where(sel, disc[:, i], 0), group=g, template=tid,
                            n_min=int(len(np.unique(m.fam_of_stratum[sel & (sizes[:, i] > 0)])))))
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
    vs = [m.groups[1 - g] if len(m.groups) == 2 else f"other {attribute} groups" for g in range(len(m.groups))]
    return tested_contrasts(name, diffs, harm, m.groups, vs, classes, suite, attribute, alpha,
                            _base_rates(m, values))


def _term_metrics(m: matching.Matched, terms: np.ndarray, probs: np.ndarray, on_label: np.ndarray, suite: str,
                  attribute: str, labels: list[str], alpha: float) -> list[Metric]:
    """``term_shift``: every term of a group that has several (names, identity words, dialect rules) against the
    matched sentences of the other groups, so that one term a model reacts to is named even when its group's
    mean hides it. Single-term groups are left out (their record would repeat the group's ``mean_shift``), and
    so are the originals of perturbed real text (their terms are unknown)."""
    diffs, names, group_of = matching.term_contrast(m, terms, probs)
    n_terms = np.bincount(group_of, minlength=len(m.groups))
    keep = [t for t, name in enumerate(names) if n_terms[group_of[t]] > 1 and name not in ("", ORIGINAL_TERM)]
    if not keep:
        return []
    harm = diffs - 2 * matching.term_contrast(m, terms, on_label)[0]
    groups = [m.groups[group_of[t]] for t in keep]
    vs = [m.groups[1 - group_of[t]] if len(m.groups) == 2 else f"other {attribute} groups" for t in keep]
    return tested_contrasts("term_shift", diffs[:, keep], harm[:, keep], [names[t] for t in keep], vs, labels,
                            suite, attribute, alpha, _base_rates(m, probs), [{"term_of": g} for g in groups])


def _base_rates(m: matching.Matched, values: np.ndarray) -> np.ndarray:
    sums, counts = m.per_stratum(values)
    return sums.sum(axis=(0, 1)) / counts.sum()


def tested_contrasts(name: str, diffs: np.ndarray, harm: np.ndarray, units: list[str], vs: list[str],
                     classes: list, suite: str, attribute: str, alpha: float, base_rates: np.ndarray,
                     details: list[dict] | None = None) -> list[Metric]:
    """Records of family-level contrasts ``diffs`` (F, units, k): mean over the families holding the unit, t
    interval, paired t-test and Wilcoxon over families. ``n`` and ``n_min`` count families (the independent
    units of the test and of the gate's ``min_n``); ``details.se`` and ``details.df`` are the standard error and
    degrees of freedom the gate's power check uses."""
    p_t, p_w = stats.paired_tests_columns(diffs.reshape(len(diffs), -1))
    out = []
    for u, unit in enumerate(units):
        for c, label in enumerate(classes):
            d = diffs[:, u, c]
            d = d[~np.isnan(d)]
            if len(d) == 0:
                continue
            value, j = float(d.mean()), u * len(classes) + c
            se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None
            out.append(Metric(name, "counterfactual", suite, attribute, value, len(d),
                              clip_interval(stats.mean_interval(d, alpha), value, -1.0), group=unit, cls=label,
                              test="paired t-test over families", p_value=p_t[j], p_wilcoxon=p_w[j], n_min=len(d),
                              details={"vs": vs[u], "base_rate": float(base_rates[c]), "se": se, "df": len(d) - 1,
                                       "harm": float(np.nanmean(harm[:, u, c])), **(details[u] if details else {})}))
    return out


def all_metrics(frame: pd.DataFrame, labels: list[str], attributes: list[str], n_boot: int = 0, alpha: float = 0.05,
                seed: int = 0, correction: str = "holm", slices: bool = True) -> list[Metric]:
    """Every registered family's records for every suite x attribute present (``slices=False``: the
    counterfactual family only, which is all the default gate reads). p-values are adjusted here across all
    tests (the descriptive view); :func:`audit.gate.evaluate` re-adjusts the tests its rules use among
    themselves."""
    scored = Scored(frame, labels, attributes, alpha, n_boot, seed)
    out: list[Metric] = run_families(scored, None if slices else ["counterfactual"])
    tested = [m for m in out if m.p_value is not None]
    for m, p in zip(tested, stats.adjust([m.p_value for m in tested], correction)):
        m.p_adjusted = p
    return out


# re-exported (public API); imported last so that the counterfactual family registers, and runs, first
from audit.slices import group_metrics  # noqa: E402,F401
