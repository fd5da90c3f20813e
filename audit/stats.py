"""The statistics behind every verdict: intervals, paired tests, AUC standard errors, multiplicity correction."""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint


def wilson(successes: int, n: int, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion (Wilson 1927); well-behaved at 0 and 1, unlike the Wald interval."""
    if n == 0:
        return None, None
    lo, hi = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def mean_interval(x: np.ndarray, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Student-t interval for the mean of ``x``; a zero-width interval when all values are equal."""
    n = len(x)
    if n == 0:
        return None, None
    m = float(np.mean(x))
    if n == 1:
        return None, None
    sd = float(np.std(x, ddof=1))
    half = stats.t.ppf(1 - alpha / 2, n - 1) * sd / math.sqrt(n)
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


def chi2_independence(table: np.ndarray) -> float | None:
    """p-value of the chi-square test that group and outcome are independent (rows: groups)."""
    table = np.asarray(table, dtype=float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


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
    """Holm (1979) family-wise or Benjamini-Hochberg (1995) false-discovery-rate adjustment of all p-values."""
    if not p_values:
        return []
    name = {"holm": "holm", "bh": "fdr_bh"}[method]
    return [float(p) for p in multipletests(p_values, method=name)[1]]
