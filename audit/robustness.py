"""Robustness: does the prediction survive edits that keep the meaning (typos, case, punctuation, emoji and
hashtags, contractions)? CheckList's invariance test (INV, Ribeiro et al. 2020) applied to surface noise; typos
as in Belinkov & Bisk (2018).

Texts (each *source* apart): one base sentence per template family (its first member) of each audited suite,
so that a default run has robustness too, and the ``--data`` texts when given (source ``data``); each source is
capped at ``sample`` texts by a seeded sample (``random.Random(seed)``, kept in table order), so a suite's
sample does not depend on the other suites of the run. Every registered robustness plug-in
(``core/perturbations/``) makes a *family* of each text: the original plus its variants. Families are scored
apart from the case table (the same model, cache and engine) and kept out of the bias metrics.

Per source x plug-in (metric records: ``suite`` = the source, a suite name or ``data``; ``attribute`` =
``robustness``; ``group`` = the plug-in):

* ``robustness_flip_rate`` = share of (original, variant) pairs whose predicted labels differ; the invariance
  rate is 1 minus it. Interval: Wilson at the design effect of the families (the original text is the
  cluster: its variants share everything but the edit), :func:`audit.stats.cluster_wilson`;
* ``robustness_delta_p`` = mean over pairs of |p_ŷ(x') - p_ŷ(x)|, ŷ the original's predicted class: how far an
  edit moves the model's confidence in its own answer; cluster-robust t interval over families,
  :func:`audit.stats.cluster_mean`.

``n`` counts pairs, ``n_min`` families (the independent units the gate's ``min_n`` applies to).
"""
from __future__ import annotations

import random

import numpy as np
import pandas as pd

from audit import stats
from audit.records import Metric, MetricInfo, clip_interval, prob_matrix, register_metric
from core.perturb import robustness_texts
from core.perturbations import ORIGINAL, REGISTRY, ROBUSTNESS

# Registered by name: run.py computes these on the robustness cases, apart from the suite x attribute slices.
register_metric("robustness_flip_rate", MetricInfo(
    "robustness", "rate", "share of (original, variant) pairs of a robustness plug-in whose labels differ (1 - "
    "invariance rate); Wilson at the design effect of the original texts",
    "CheckList INV, Ribeiro et al. 2020; typos: Belinkov & Bisk 2018", words="changed its label under a harmless edit"))
register_metric("robustness_delta_p", MetricInfo(
    "robustness", "gap", "mean |p_y(x') - p_y(x)| over (original x, variant x') pairs, y the original's predicted "
    "class; cluster-robust t interval over original texts", "CheckList INV, Ribeiro et al. 2020",
    words="moved p(predicted class) under a harmless edit"))

def sample_texts(texts: list[str], labels: list | None, limit: int, seed: int) -> tuple[list[str], list | None]:
    """At most ``limit`` of ``texts`` (seeded sample, original order kept)."""
    keep = sorted(random.Random(seed).sample(range(len(texts)), limit)) if len(texts) > limit else range(len(texts))
    return [texts[i] for i in keep], None if labels is None else [labels[i] for i in keep]


def template_sentences(cases: pd.DataFrame, suite: str) -> tuple[list[str], list]:
    """One base sentence per family of ``suite`` in the case table: its first member, with its expected label."""
    first = cases[cases["suite"] == suite].drop_duplicates("family", keep="first")
    return first["text"].tolist(), first["expected_label"].tolist()


def robustness_cases(names: list[str], sources: dict[str, tuple[list[str], list | None]], limit: int,
                     seed: int) -> tuple[pd.DataFrame, dict]:
    """The robustness families of every source (``{source: (texts, labels)}``), sampled, and their coverage."""
    parts, coverage = [], {}
    for source, (texts, labels) in sources.items():
        if not names or not texts:
            continue
        texts, labels = sample_texts(texts, labels, limit, seed)
        frame, cov = robustness_texts(texts, names, labels, source=source, seed=seed)
        parts.append(frame)
        coverage[source] = cov
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["text", "origin", "family"])
    return table, coverage


def selector_names(table: pd.DataFrame) -> dict[str, set[str]]:
    """What gate rules may select among the robustness records of this run."""
    if table.empty:
        return {}
    return {"suite": set(table["origin"]), "attribute": {ROBUSTNESS}, "group": set(table["slot"])}


def _pairs(table: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """One row per (original, variant) pair: the flip, |Δp| of the original's class, and both sides."""
    probs = prob_matrix(table, labels)
    pred = table["pred"].map({l: i for i, l in enumerate(labels)}).to_numpy()
    is_orig = (table[ROBUSTNESS] == ORIGINAL).to_numpy()
    orig_at = pd.Series(np.flatnonzero(is_orig), index=table["family"].to_numpy()[is_orig])
    var = np.flatnonzero(~is_orig)
    o = orig_at.loc[table["family"].to_numpy()[var]].to_numpy()
    cls = pred[o]
    return pd.DataFrame({
        "origin": table["origin"].to_numpy()[var], "perturbation": table["slot"].to_numpy()[var],
        "family": table["family"].to_numpy()[var], "variant_kind": table[ROBUSTNESS].to_numpy()[var],
        "original": table["text"].to_numpy()[o], "variant": table["text"].to_numpy()[var],
        "pred_original": table["pred"].to_numpy()[o], "pred_variant": table["pred"].to_numpy()[var],
        "cls": np.array(labels)[cls], "p_original": probs[o, cls], "p_variant": probs[var, cls],
        "flip": pred[var] != cls, "delta": np.abs(probs[var, cls] - probs[o, cls])})


def robustness_metrics(table: pd.DataFrame, labels: list[str], alpha: float = 0.05) -> list[Metric]:
    """``robustness_flip_rate`` and ``robustness_delta_p`` per source x plug-in of a scored robustness table."""
    if table.empty:
        return []
    out = []
    for (origin, name), pairs in _pairs(table, labels).groupby(["origin", "perturbation"], sort=False):
        per_family = pairs.groupby("family", sort=False).agg(flips=("flip", "sum"), n=("flip", "size"),
                                                             delta=("delta", "sum"))
        flips, n = per_family["flips"].to_numpy(float), per_family["n"].to_numpy(float)
        rate = float(flips.sum() / n.sum())
        lo, hi = stats.cluster_wilson(flips, n, alpha)
        by_kind = {k: {"pairs": int(len(g)), "flip_rate": float(g["flip"].mean()), "delta_p": float(g["delta"].mean())}
                   for k, g in pairs.groupby("variant_kind", sort=False)}
        details = {"texts": int(len(per_family)), "by_variant": by_kind, "invariance": 1 - rate,
                   "invariance_ci": [1 - hi, 1 - lo] if lo is not None else None}
        common = dict(kind=ROBUSTNESS, suite=origin, attribute=ROBUSTNESS, group=name, n=int(n.sum()),
                      n_min=int(len(per_family)))
        out.append(Metric("robustness_flip_rate", value=rate, ci=(lo, hi), details=details, **common))
        delta = float(per_family["delta"].sum() / n.sum())
        ci = clip_interval(stats.cluster_mean(per_family["delta"].to_numpy(float), n, alpha), delta)
        out.append(Metric("robustness_delta_p", value=delta, ci=ci, details={"texts": int(len(per_family))}, **common))
    return out


def worst_examples(table: pd.DataFrame, labels: list[str], limit: int = 5) -> dict[str, list[dict]]:
    """Per plug-in, the pairs whose labels flip (then whose p of the original's class moves) the most."""
    if table.empty:
        return {}
    pairs = _pairs(table, labels).sort_values(["flip", "delta"], ascending=False, kind="stable")
    cols = ["origin", "variant_kind", "original", "variant", "pred_original", "pred_variant", "cls", "p_original",
            "p_variant", "flip"]
    return {name: [{k: (bool(v) if k == "flip" else v) for k, v in row.items()} for row in g[cols].head(limit)
                   .to_dict("records")] for name, g in pairs.groupby("perturbation", sort=False)}


def section(table: pd.DataFrame, labels: list[str], names: list[str], coverage: dict, limit: int,
            timing: dict | None) -> dict:
    """The ``robustness`` part of results.json (plain JSON; the metric records travel with the others)."""
    return {"perturbations": [{"name": n, "description": REGISTRY[n].description} for n in names],
            "sample": limit, "texts": {} if table.empty else
            {s: int(g["source_row"].nunique()) for s, g in table.groupby("origin", sort=False)},
            "coverage": coverage, "scoring": timing, "worst": worst_examples(table, labels)}


def unique_texts(texts: list[str], labels: list | None) -> tuple[list[str], list | None]:
    """Each distinct text once (its first row's label): a repeated text is one original, not several."""
    first = pd.Series(texts).drop_duplicates().index.tolist()
    return [texts[i] for i in first], None if labels is None else [labels[i] for i in first]
