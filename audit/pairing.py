"""Per-family units of the gated records in two releases scored on the same case table (audit/release.py).

For every record that is a mean over families or a ratio of per-family sums, the old and the new release's
per-family sums (and the weights, which the releases share) keyed by the record's id:

* counterfactual contrasts (``mean_shift``, ``label_shift``, ``flip_rate_difference``, ``term_shift``): the
  family contrast of :func:`audit.matching.contrast` (``term_contrast``), weight 1 (the record is the mean over
  families);
* ``flip_rate`` and ``group_flip_rate`` (whole suite, per group, per pair of groups): discordant matched
  pairs over matched pairs;
* ``mft_failure_rate`` (suite, template, class, group: the slices of audit/functional.py): failures over cases;
* ``accuracy`` per group where labels exist: correct over labelled cases;
* ``robustness_flip_rate`` per source and perturbation, when both robustness tables are given.

The two tables must hold the same rows in the same order (:func:`align`). Everything else a rule may
select (gaps, DIR rates, maxima) is compared unpaired by audit/release.py.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from audit import matching
from audit.functional import _slices as functional_slices
from audit.records import Metric, prob_matrix
from audit.robustness import ROBUSTNESS, _pairs as robustness_pairs

KEY = ["suite", "family", "text"]
Units = tuple[np.ndarray, np.ndarray, np.ndarray]  # per-family new sums, old sums, weights


def align(old: pd.DataFrame, new: pd.DataFrame, labels: list[str]) -> pd.DataFrame | None:
    """The old run's scored cases in the order of ``new``'s rows, or None when they are not the same sentences."""
    cols = ["pred", *(f"p_{l}" for l in labels)]
    if len(old) != len(new) or any(c not in old for c in cols + KEY):
        return None
    old = old.drop_duplicates(KEY).set_index(KEY)
    keys = pd.MultiIndex.from_frame(new[KEY])
    if len(old) != len(new) or not keys.isin(old.index).all():
        return None
    out = new.copy()
    for c in cols:
        out[c] = old.loc[keys, c].to_numpy()
    return out


def units(old: pd.DataFrame, new: pd.DataFrame, labels: list[str], attributes: list[str],
          robust_old: pd.DataFrame | None = None, robust_new: pd.DataFrame | None = None,
          only: list[str] | None = None) -> dict[str, Units]:
    """Record id -> (new per-family sums, old per-family sums, weights) for the records listed above
    (``only``: the contrasts and accuracy of these attributes alone; ``attributes`` still define the strata)."""
    out: dict[str, Units] = {}
    for suite in new["suite"].unique():
        sub = new["suite"].to_numpy() == suite
        for attribute in only or attributes:
            if attribute in new:
                out.update(_counterfactual(old[sub], new[sub], labels, suite, attribute, attributes))
                out.update(_accuracy(old[sub], new[sub], suite, attribute))
    out.update(_mft(old, new, attributes))
    if robust_old is not None and robust_new is not None and not robust_new.empty:
        out.update(_robustness(robust_old, robust_new, labels))
    return out


def _rid(metric: str, suite: str, attribute: str = "", **sel) -> str:
    return Metric(metric, "", suite, attribute, None, 0, **sel).id


def _counterfactual(old, new, labels, suite, attribute, attributes) -> dict[str, Units]:
    m = matching.match(new, attribute, attributes)
    if m is None:
        return {}
    k, out = len(labels), {}
    index = {l: i for i, l in enumerate(labels)}
    tables = []
    for frame in (new, old):
        rows = frame.iloc[m.rows]
        pred = rows["pred"].map(index).to_numpy()
        counts = matching.label_counts(m, pred, k)
        flips = matching.member_flip_share(m, counts, pred)[:, None]
        tables.append((prob_matrix(rows, labels), np.eye(k)[pred], flips, counts))
    for j, (name, classes) in enumerate((("mean_shift", labels), ("label_shift", labels),
                                         ("flip_rate_difference", [None]))):
        d_new, d_old = matching.contrast(m, tables[0][j]), matching.contrast(m, tables[1][j])
        for (g, group), (c, cls) in itertools.product(enumerate(m.groups), enumerate(classes)):
            has = ~np.isnan(d_new[:, g, c])
            if has.any():
                key = _rid(name, suite, attribute, group=group, cls=cls)
                out[key] = (d_new[has, g, c], d_old[has, g, c], np.ones(int(has.sum())))
    out.update(_terms(m, new, tables[0][0], tables[1][0], labels, suite, attribute))
    (pairs, disc_new), (_, disc_old) = (matching.cross_pairs(t[3]) for t in tables)
    sizes = tables[0][3].sum(axis=2)
    fam = m.per_family
    out[_rid("flip_rate", suite, attribute)] = (fam(disc_new.sum(1) / 2), fam(disc_old.sum(1) / 2),
                                                fam(pairs.sum(1) / 2))
    for g, group in enumerate(m.groups):
        out[_rid("group_flip_rate", suite, attribute, group=group)] = (fam(disc_new[:, g]), fam(disc_old[:, g]),
                                                                       fam(pairs[:, g]))
    for (i, gi), (j, gj) in itertools.combinations(enumerate(m.groups), 2):
        p = sizes[:, i] * sizes[:, j]
        same_new, same_old = ((t[3][:, i] * t[3][:, j]).sum(axis=1) for t in tables)
        out[_rid("flip_rate", suite, attribute, group=f"{gi} vs {gj}")] = (fam(p - same_new), fam(p - same_old), fam(p))
    return out


def _terms(m: matching.Matched, new: pd.DataFrame, p_new: np.ndarray, p_old: np.ndarray, labels: list[str],
           suite: str, attribute: str) -> dict[str, Units]:
    """``term_shift``: the family contrasts of single terms (:func:`audit.matching.term_contrast`), as above."""
    if "term" not in new:
        return {}
    terms = new.iloc[m.rows]["term"].fillna("").astype(str).to_numpy()
    (d_new, names, _), (d_old, _, _) = (matching.term_contrast(m, terms, p) for p in (p_new, p_old))
    out = {}
    for (t, term), (c, cls) in itertools.product(enumerate(names), enumerate(labels)):
        has = ~np.isnan(d_new[:, t, c])
        if has.any():
            out[_rid("term_shift", suite, attribute, group=term, cls=cls)] = (d_new[has, t, c], d_old[has, t, c],
                                                                             np.ones(int(has.sum())))
    return out


def _per_family(family: pd.Series, hit_new: np.ndarray, hit_old: np.ndarray) -> Units:
    codes = pd.factorize(family)[0]
    return (np.bincount(codes, hit_new.astype(float)), np.bincount(codes, hit_old.astype(float)),
            np.bincount(codes).astype(float))


def _accuracy(old, new, suite, attribute) -> dict[str, Units]:
    if "y_true" not in new:
        return {}
    keep = (new[attribute].notna() & new["y_true"].notna()).to_numpy()
    rows_new, rows_old = new[keep], old[keep]
    if rows_new[attribute].nunique() < 2:
        return {}
    out = {}
    for group in sorted(rows_new[attribute].astype(str).unique()):
        sel = (rows_new[attribute].astype(str) == group).to_numpy()
        a, b = rows_new[sel], rows_old[sel]
        out[_rid("accuracy", suite, attribute, group=group)] = _per_family(
            a["family"], (a["pred"] == a["y_true"]).to_numpy(), (b["pred"] == a["y_true"]).to_numpy())
    return out


def _mft(old, new, attributes) -> dict[str, Units]:
    """The slices of audit/functional.py's MFT records (template sentences that expect a label the model has)."""
    if "expectation" not in new or "y_true" not in new:
        return {}
    keep = (new["expectation"] == "label").to_numpy() & new["y_true"].notna().to_numpy()
    if "source_row" in new:
        keep &= new["source_row"].isna().to_numpy()
    ran = new[keep].assign(expected=new.loc[keep, "y_true"], failed_new=(new["pred"] != new["y_true"])[keep],
                           failed_old=(old["pred"].to_numpy() != new["y_true"].to_numpy())[keep])
    out = {}
    for sel, rows in functional_slices(ran, [a for a in attributes if a in ran], "expected") if len(ran) else ():
        sel = dict(sel)
        attribute = sel.pop("attribute", "")
        out[_rid("mft_failure_rate", rows["suite"].iloc[0], attribute, **sel)] = _per_family(
            rows["family"], rows["failed_new"].to_numpy(), rows["failed_old"].to_numpy())
    return out


def _robustness(old: pd.DataFrame, new: pd.DataFrame, labels: list[str]) -> dict[str, Units]:
    pn, po = robustness_pairs(new, labels), robustness_pairs(old, labels)
    pn = pn.assign(flip_old=po["flip"].to_numpy())
    out = {}
    for (origin, name), pairs in pn.groupby(["origin", "perturbation"], sort=False):
        out[_rid("robustness_flip_rate", origin, ROBUSTNESS, group=name)] = _per_family(
            pairs["family"], pairs["flip"].to_numpy(), pairs["flip_old"].to_numpy())
    return out


def changed_examples(old: pd.DataFrame, new: pd.DataFrame, labels: list[str], limit: int = 10) -> list[dict]:
    """The matched sentences whose prediction changed most between the releases: label changes first, then by
    the largest move of any class probability (the aligned tables of :func:`align`)."""
    p_new, p_old = prob_matrix(new, labels), prob_matrix(old, labels)
    move = np.abs(p_new - p_old)
    cls = move.argmax(axis=1)
    changed = (new["pred"].to_numpy() != old["pred"].to_numpy())
    order = np.lexsort((-move.max(axis=1), ~changed))[:limit]
    return [{"suite": str(new["suite"].iat[i]), "family": str(new["family"].iat[i]), "text": str(new["text"].iat[i]),
             "old_pred": str(old["pred"].iat[i]), "new_pred": str(new["pred"].iat[i]), "class": labels[cls[i]],
             "p_old": float(p_old[i, cls[i]]), "p_new": float(p_new[i, cls[i]])}
            for i in order if move[i].max() > 0]
