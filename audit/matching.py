"""Matched counterfactuals: which sentences may be compared for an attribute, and the contrasts between them.

A comparison for attribute A only uses sentences that differ in A alone. Each case gets a *stratum* per
attribute: its family (same frame and fill words), its ``surface`` (name, noun phrase ...), its counterpart
key ``pair`` (my mother / my father) and its values of every other protected attribute (a gender comparison of
names holds race fixed). Strata with fewer than two groups of A compare nothing and are dropped.

Everything here is linear in the number of cases: pair counts come from per-stratum label counts, absolute
differences over all cross-group pairs from sorted prefix sums, never from enumerating pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.suites import INTERSECTION


def components(attribute: str) -> list[str]:
    return attribute.split(INTERSECTION)


def _codes(frame: pd.DataFrame, cols: list[str]) -> np.ndarray:
    return frame.groupby(cols, dropna=False, sort=False).ngroup().to_numpy()


@dataclass
class Matched:
    """The comparable cases of one suite x attribute, as integer codes (all arrays have one entry per case)."""
    rows: np.ndarray       # positions in the frame given to :func:`match`
    family: np.ndarray     # family code, 0..F-1
    stratum: np.ndarray    # stratum code, 0..S-1
    group: np.ndarray      # group code, 0..G-1
    groups: list[str]
    families: list[str]
    fam_of_stratum: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.families), len(self.fam_of_stratum), len(self.groups)

    def per_stratum(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sums (S, G, k) of ``values`` (n, k) and counts (S, G) per stratum and group."""
        _, s, g = self.shape
        idx = self.stratum * g + self.group
        sums = np.stack([np.bincount(idx, values[:, j], s * g) for j in range(values.shape[1])], axis=-1)
        return sums.reshape(s, g, -1), np.bincount(idx, minlength=s * g).reshape(s, g).astype(float)

    def per_family(self, per_stratum: np.ndarray) -> np.ndarray:
        """Sum an (S, ...) array over the strata of each family: (F, ...)."""
        out = np.zeros((self.shape[0],) + per_stratum.shape[1:])
        np.add.at(out, self.fam_of_stratum, per_stratum)
        return out


def match(frame: pd.DataFrame, attribute: str, attributes: list[str]) -> Matched | None:
    """Strata of the cases of ``frame`` that have a value for ``attribute``; None when nothing is comparable."""
    has = frame[attribute].notna().to_numpy()
    sub = frame[has]
    if sub.empty:
        return None
    others = [a for a in attributes if INTERSECTION not in a and a not in components(attribute) and a in sub]
    keys = ["family"] + [c for c in ("surface", "pair") if c in sub] + others
    stratum = _codes(sub, keys)
    group_codes, groups = pd.factorize(sub[attribute].astype(str), sort=True)
    n_groups = pd.Series(group_codes).groupby(stratum).nunique().to_numpy()
    keep = n_groups[stratum] >= 2
    if not keep.any():
        return None
    stratum, group_codes = pd.factorize(stratum[keep])[0], group_codes[keep]
    fam_codes, families = pd.factorize(sub["family"].to_numpy()[keep])
    fam_of_stratum = np.zeros(stratum.max() + 1, dtype=int)
    fam_of_stratum[stratum] = fam_codes
    used = np.unique(group_codes)
    remap = np.full(len(groups), -1)
    remap[used] = np.arange(len(used))
    return Matched(np.flatnonzero(has)[keep], fam_codes, stratum, remap[group_codes], [str(groups[u]) for u in used],
                   list(families), fam_of_stratum)


def contrast(m: Matched, values: np.ndarray) -> np.ndarray:
    """Family-level contrasts (F, G, k): group g's mean of ``values`` minus the mean of the other groups' means
    in the same stratum, averaged over the family's strata; NaN where g is absent from the family.

    With ``values`` = p_c this is Kiritchenko & Mohammad's (2018) score difference on matched sentences;
    with 1[pred = c] the same for predicted labels.
    """
    sums, counts = m.per_stratum(values)
    present = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[..., None]
        k = present.sum(axis=1)[:, None, None]
        rest = (np.nansum(means, axis=1, keepdims=True) - means) / (k - 1)
        diff = np.where(present[..., None], means - rest, 0.0)
        n_strata = m.per_family(present.astype(float))
        return m.per_family(diff) / n_strata[..., None]


def label_counts(m: Matched, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(S, G, k): how many members of group g in stratum s got label c."""
    return m.per_stratum(np.eye(n_classes)[pred])[0]


def cross_pairs(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per stratum and group (S, G): cross-group pairs involving g, and those whose labels differ."""
    n_sg = counts.sum(axis=2)
    n_s, n_sc = n_sg.sum(axis=1, keepdims=True), counts.sum(axis=1, keepdims=True)
    pairs = n_sg * (n_s - n_sg)
    discordant = (counts * ((n_s - n_sg)[..., None] - (n_sc - counts))).sum(axis=2)
    return pairs, discordant


def member_flip_share(m: Matched, counts: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per case: the share of its matched counterparts (other groups, same stratum) with a different label."""
    s, g = m.stratum, m.group
    others = counts[s].sum(axis=(1, 2)) - counts[s, g].sum(axis=1)
    agree = counts[s, :, pred].sum(axis=1) - counts[s, g, pred]
    return 1.0 - agree / others


def abs_diff_sums(m: Matched, values: np.ndarray) -> np.ndarray:
    """(S, k): sum over cross-group pairs of |v(x) - v(x')| per stratum, in O(n log n) (sorted prefix sums:
    the pairs within a set of sorted values sum to sum_i v_(i) (2i - m + 1); cross = all - within groups)."""
    s_count, g_count = m.shape[1], m.shape[2]

    def within(key: np.ndarray, size: int) -> np.ndarray:
        out = np.zeros((size, values.shape[1]))
        for j in range(values.shape[1]):
            order = np.lexsort((values[:, j], key))
            k, v = key[order], values[order, j]
            start = np.searchsorted(k, k, side="left")
            n = np.bincount(k, minlength=size)[k]
            rank = np.arange(len(k)) - start
            out[:, j] = np.bincount(k, v * (2 * rank - n + 1), minlength=size)
        return out

    per_group = within(m.stratum * g_count + m.group, s_count * g_count).reshape(s_count, g_count, -1)
    return within(m.stratum, s_count) - per_group.sum(axis=1)


def max_cross_diff(m: Matched, values: np.ndarray) -> float:
    """The largest |v(x) - v(x')| over cross-group pairs of any stratum and class."""
    s_count, g_count = m.shape[1], m.shape[2]
    idx = m.stratum * g_count + m.group
    hi = np.full((s_count * g_count, values.shape[1]), -np.inf)
    lo = np.full_like(hi, np.inf)
    np.maximum.at(hi, idx, values)
    np.minimum.at(lo, idx, values)
    hi, lo = hi.reshape(s_count, g_count, 1, -1), lo.reshape(s_count, 1, g_count, -1)
    gap = hi - lo  # (S, G, G, k): max of g minus min of h
    off = ~np.eye(g_count, dtype=bool)[None, :, :, None] & np.isfinite(gap)
    return float(np.abs(np.where(off, gap, 0.0)).max(initial=0.0)) if off.any() else 0.0


def term_contrast(m: Matched, terms: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Family-level contrasts of single terms (F, T, k): the mean of ``values`` over the sentences with term t
    minus the mean of the *other groups'* means in the same stratum (the baseline of t's group in
    :func:`contrast`), averaged over the family's strata; NaN where t is absent from the family.

    A group's contrast averages its terms; this is the same comparison for one term, so that one name or one
    identity word a model reacts to is seen even when its group's mean hides it. ``terms``: one label per case
    of ``m``. Returns the contrasts, the term names and each term's group code.
    """
    codes, names = pd.factorize(terms, sort=True)
    t_count, (_, s_count, g_count) = len(names), m.shape
    group_of = np.zeros(t_count, dtype=int)
    group_of[codes] = m.group
    sums, counts = m.per_stratum(values)
    idx = m.stratum * t_count + codes
    t_sums = np.stack([np.bincount(idx, values[:, j], s_count * t_count) for j in range(values.shape[1])], axis=-1)
    t_sums = t_sums.reshape(s_count, t_count, -1)
    t_counts = np.bincount(idx, minlength=s_count * t_count).reshape(s_count, t_count).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[..., None]
        k = (counts > 0).sum(axis=1)[:, None, None]
        rest = (np.nansum(means, axis=1, keepdims=True) - np.nan_to_num(means)) / (k - 1)  # (S, G, k)
        present = t_counts > 0
        diff = np.where(present[..., None], t_sums / t_counts[..., None] - rest[:, group_of], 0.0)
        n_strata = m.per_family(present.astype(float))
        return m.per_family(diff) / n_strata[..., None], [str(n) for n in names], group_of
