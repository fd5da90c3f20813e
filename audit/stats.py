"""The statistics behind every verdict: intervals, paired tests, AUC standard errors, multiplicity correction."""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests


def wilson(successes: int, n: int, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion (Wilson 1927); well-behaved at 0 and 1, unlike the Wald interval."""
    if n == 0:
        return None, None
    return _wilson(successes / n, n, alpha)


def _wilson(r: float, n: float, alpha: float) -> tuple[float, float]:
    """The Wilson interval of a proportion r observed on n (possibly effective, non-integer) observations."""
    z = z_quantile(1 - alpha / 2)
    centre, half = r + z * z / (2 * n), z * math.sqrt(r * (1 - r) / n + z * z / (4 * n * n))
    lo, hi = (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)
    return float(max(0.0, min(lo, r))), float(min(1.0, max(hi, r)))


@functools.lru_cache(maxsize=4096)
def t_quantile(q: float, df: int) -> float:
    return float(stats.t.ppf(q, df))


@functools.lru_cache(maxsize=256)
def z_quantile(q: float) -> float:
    return float(stats.norm.ppf(q))


def mean_interval(x: np.ndarray, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Student-t interval for the mean of ``x``; a zero-width interval when all values are equal."""
    n = len(x)
    if n == 0:
        return None, None
    m = float(np.mean(x))
    if n == 1:
        return None, None
    sd = float(np.std(x, ddof=1))
    half = t_quantile(1 - alpha / 2, n - 1) * sd / math.sqrt(n)
    return m - half, m + half


def paired_tests(diffs: np.ndarray) -> tuple[float | None, float | None]:
    """p-values of the paired t-test and the Wilcoxon signed-rank test that the mean difference is zero.

    Kiritchenko & Mohammad (2018) test each system's group score differences over matched template sentences
    this way. With all differences equal the tests are degenerate: p = 1 if they are all zero, else p = 0.
    """
    diffs = np.asarray(diffs, dtype=float)
    if len(diffs) < 2:
        return None, None
    if np.allclose(diffs, diffs[0], rtol=0, atol=1e-12):
        p = 1.0 if abs(diffs[0]) < 1e-12 else 0.0
        return p, p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_p = float(stats.ttest_1samp(diffs, 0.0).pvalue)
        nonzero = diffs[np.abs(diffs) > 1e-12]
        # exact null distribution for small samples without ties; normal approximation otherwise (scipy's
        # default falls back to a permutation test with ties, which costs seconds per call)
        exact = len(nonzero) <= 20 and len(np.unique(np.abs(nonzero))) == len(nonzero)
        w_p = float(stats.wilcoxon(nonzero, method="exact" if exact else "asymptotic").pvalue) if len(nonzero) else 1.0
    return t_p, w_p


def paired_tests_columns(diffs: np.ndarray) -> tuple[list, list]:
    """:func:`paired_tests` for every column of ``diffs`` (families x records, NaN where absent), vectorised
    over the complete columns (the usual case: every family holds every group)."""
    complete = ~np.isnan(diffs).any(axis=0)
    p_t, p_w = [None] * diffs.shape[1], [None] * diffs.shape[1]
    full = diffs[:, complete]
    if complete.any() and len(diffs) > 20:  # smaller samples take the exact path below
        mean, sd = full.mean(axis=0), full.std(axis=0, ddof=1)
        flat = np.isclose(full, full[:1], rtol=0, atol=1e-12).all(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            t_p = 2 * stats.t.sf(np.abs(mean / (sd / math.sqrt(len(full)))), len(full) - 1)
            w_p = stats.wilcoxon(np.where(flat, 1.0, full), axis=0, method="asymptotic").pvalue
        degenerate = np.where(np.abs(full[0]) < 1e-12, 1.0, 0.0)
        t_p, w_p = np.where(flat, degenerate, t_p), np.where(flat, degenerate, w_p)
        for j, tp, wp in zip(np.flatnonzero(complete), t_p, w_p):
            p_t[j], p_w[j] = float(tp), float(wp)
    for j in range(diffs.shape[1]):
        if p_t[j] is None:
            col = diffs[:, j]
            p_t[j], p_w[j] = paired_tests(col[~np.isnan(col)])
    return p_t, p_w


def auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic: P(score of a positive > score of a negative), ties counted half."""
    ranks = stats.rankdata(score)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_interval(auc: float, n_pos: int, n_neg: int, alpha: float = 0.05) -> tuple[float, float]:
    """Hanley & McNeil (1982) standard error of the AUC, as a normal interval clipped to [0, 1]."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc ** 2) + (n_neg - 1) * (q2 - auc ** 2)) / (n_pos * n_neg)
    half = stats.norm.ppf(1 - alpha / 2) * math.sqrt(max(var, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)


def adjust(p_values: list[float], method: str = "holm") -> list[float]:
    """Holm (1979) family-wise or Benjamini-Hochberg (1995) false-discovery-rate adjustment of all p-values.

    Holm: with p sorted ascending, p_(i) * (m - i + 1), made non-decreasing and capped at 1. It is computed here
    because statsmodels' ``multipletests`` runs a full ``gc.collect()`` on every Holm call (about a second in an
    audit's process); tests/test_stats.py checks the two agree. BH comes from statsmodels.
    """
    if not p_values:
        return []
    if method == "holm":
        p = np.asarray(p_values, dtype=float)
        order = np.argsort(p, kind="stable")
        steps = np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1))
        out = np.empty_like(p)
        out[order] = np.minimum(steps, 1.0)
        return [float(x) for x in out]
    name = {"bh": "fdr_bh"}[method]
    return [float(p) for p in multipletests(p_values, method=name)[1]]


# ------------------------------------------------------------------ clustered rates (families are the clusters)
def _robust_var(hits: np.ndarray, totals: np.ndarray, strata: np.ndarray | None = None,
                small_sample: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Rates r_g = sum_f y_fg / sum_f n_fg and their cluster-robust covariance (ratio estimator).

    ``hits``/``totals``: (families, groups). z_fg = (y_fg - r_g n_fg) / N_g; V = sum_s F_s/(F_s-1) sum_{f in s}
    (z_f - zbar_s)(z_f - zbar_s)^T (Liang & Zeger 1986, stratified; CR1 factor with ``small_sample``).
    Members of one family are correlated (same frame and fill words): treating them as independent makes
    marginal rates look too precise and paired contrasts too noisy; V gets both right. ``strata`` (one code per
    family, e.g. its template) are the fixed design of a suite: differences between templates are not sampling
    noise; strata of a single family are pooled.
    """
    n = totals.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(n > 0, hits.sum(axis=0) / n, np.nan)
        z = np.where(n > 0, (hits - np.nan_to_num(r) * totals) / np.where(n > 0, n, 1), 0.0)
    used = totals.sum(axis=1) > 0
    z, codes = z[used], (np.zeros(int(used.sum()), dtype=int) if strata is None else np.asarray(strata)[used])
    sizes = np.bincount(codes)
    codes = np.where(sizes[codes] > 1, codes, len(sizes))  # single-family strata pooled into one
    sizes = np.bincount(codes)
    means = np.stack([np.bincount(codes, z[:, j], len(sizes)) for j in range(z.shape[1])], axis=1) / \
        np.maximum(sizes, 1)[:, None]
    z = z - means[codes] if strata is not None else z
    if small_sample:
        z = z * np.sqrt(np.where(sizes[codes] > 1, sizes[codes] / np.maximum(sizes[codes] - 1, 1), 1.0))[:, None]
    return r, z.T @ z


def cluster_wilson(hits: np.ndarray, totals: np.ndarray, alpha: float = 0.05,
                   strata: np.ndarray | None = None) -> tuple[float | None, float | None]:
    """Wilson interval of sum(hits)/sum(totals) at the effective sample size n / deff (Kish design effect).

    deff = cluster-robust variance / binomial variance; with no spread to measure it each family counts as one
    observation. Independent rows (one per family, no strata) give plain Wilson.
    """
    hits, totals = np.asarray(hits, float), np.asarray(totals, float)
    n, k = totals.sum(), hits.sum()
    if n == 0:
        return None, None
    r = k / n
    var = float(_robust_var(hits[:, None], totals[:, None], strata, small_sample=strata is not None)[1][0, 0])
    n_eff = n * r * (1 - r) / (n * var) if 0 < r < 1 and var > 0 else min(n, int((totals > 0).sum()))
    return _wilson(r, min(n_eff, n) if strata is None else n_eff, alpha)


def cluster_mean(sums: np.ndarray, counts: np.ndarray, alpha: float = 0.05,
                 strata: np.ndarray | None = None) -> tuple[float | None, float | None]:
    """t interval (F - 1 df) of sum(sums)/sum(counts) with the cluster-robust variance of a ratio estimator."""
    sums, counts = np.asarray(sums, float)[:, None], np.asarray(counts, float)[:, None]
    f = int((counts > 0).sum())
    if f < 2:
        return None, None
    r, v = _robust_var(sums, counts, strata)
    half = t_quantile(1 - alpha / 2, f - 1) * math.sqrt(max(float(v[0, 0]), 0.0))
    return float(r[0] - half), float(r[0] + half)


def rate_gap(hits: np.ndarray, totals: np.ndarray, alpha: float = 0.05, strata: np.ndarray | None = None) -> dict:
    """Between-groups gap of rates (max - min and min / max) with valid intervals and a cluster-aware test.

    ``hits``/``totals``: (families, groups). Each ordered pair (i, j) gets Newcombe's (1998) hybrid score
    interval of r_i - r_j from cluster Wilson intervals at level alpha / m (m = G(G-1)/2 pairs, Bonferroni, so
    all pairs hold at once), with the pairing correlation of the robust covariance (Newcombe's method 10); the
    gap D = max_ij (r_i - r_j) then lies in [max_ij L_ij, max_ij U_ij]. The ratio's interval comes from
    simultaneous group intervals (alpha / G). Test: Wald test of equal rates with the robust covariance,
    F-approximation with F - 1 denominator df (Hotelling); paired designs gain from it, unlike a chi-square.
    """
    keep = totals.sum(axis=0) > 0
    hits, totals = np.asarray(hits, float)[:, keep], np.asarray(totals, float)[:, keep]
    g = hits.shape[1]
    if g < 2:
        return {}
    r, v = _robust_var(hits, totals, strata)
    m = g * (g - 1) / 2
    wil = np.array([cluster_wilson(hits[:, i], totals[:, i], alpha / m, strata) for i in range(g)])
    sim = np.array([cluster_wilson(hits[:, i], totals[:, i], alpha / g, strata) for i in range(g)])
    sd = np.sqrt(np.diag(v))
    lows, highs = [], []
    for i in range(g):
        for j in range(g):
            if i == j:
                continue
            rho = v[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else 0.0
            li, ui, lj, uj = r[i] - wil[i, 0], wil[i, 1] - r[i], r[j] - wil[j, 0], wil[j, 1] - r[j]
            d = r[i] - r[j]
            lows.append(d - math.sqrt(max(li ** 2 + uj ** 2 - 2 * rho * li * uj, 0.0)))
            highs.append(d + math.sqrt(max(ui ** 2 + lj ** 2 - 2 * rho * ui * lj, 0.0)))
    gap = float(r.max() - r.min())
    ratio = float(r.min() / r.max()) if r.max() > 0 else 1.0
    ratio_ci = (float(sim[:, 0].min() / sim[:, 1].max()) if sim[:, 1].max() > 0 else 0.0,
                float(min(1.0, sim[:, 1].min() / sim[:, 0].max())) if sim[:, 0].max() > 0 else 1.0)
    return {"rates": r, "gap": gap, "gap_ci": (max(0.0, max(lows)), max(highs)), "ratio": ratio,
            "ratio_ci": (min(ratio_ci[0], ratio), max(ratio_ci[1], ratio)), "p_value": equal_rates_test(r, v, len(totals))}


def equal_rates_test(rates: np.ndarray, cov: np.ndarray, clusters: int) -> float:
    """p-value of the Wald test that all rates are equal, F(q, F - q) approximation (q = G - 1 contrasts)."""
    c = np.hstack([np.eye(len(rates) - 1), -np.ones((len(rates) - 1, 1))])
    diff, var = c @ rates, c @ cov @ c.T
    q = int(np.linalg.matrix_rank(var, tol=1e-14))
    if q == 0:
        return 1.0 if np.allclose(diff, 0, atol=1e-12) else 0.0
    w = float(diff @ np.linalg.pinv(var, rcond=1e-12) @ diff)
    if clusters - q < 1:
        return float(stats.chi2.sf(w, q))
    return float(stats.f.sf(w * (clusters - q) / ((clusters - 1) * q), q, clusters - q))
