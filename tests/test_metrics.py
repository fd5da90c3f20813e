import hashlib

import numpy as np
import pandas as pd
import pytest

from audit import gate as gates
from audit import stats
from core.cases import attributes_of, build_cases
from audit.metrics import all_metrics, counterfactual_metrics
from core.suites import DEFAULT_SUITES, select_suites


def frame(rows):
    f = pd.DataFrame(rows, columns=["family", "gender", "p_a", "p_b"])
    f["suite"], f["template_id"] = "s", "t"
    f["pred"] = np.where(f["p_a"] >= f["p_b"], "a", "b")
    return f


def test_counterfactual_metrics_exact_values():
    f = frame([("f1", "female", 0.9, 0.1), ("f1", "male", 0.8, 0.2),
               ("f2", "female", 0.6, 0.4), ("f2", "male", 0.4, 0.6),
               ("f3", "female", 0.5, 0.5)])  # f3 has one group only: not a counterfactual family
    ms = {m.id: m for m in counterfactual_metrics(f, ["a", "b"], "s", "gender")}
    assert ms["flip_rate/s/gender"].value == 0.5 and ms["flip_rate/s/gender"].n == 2
    assert ms["flip_rate/s/gender/female vs male"].value == 0.5
    assert ms["mean_shift/s/gender/female/a"].value == pytest.approx(0.15)
    assert ms["mean_shift/s/gender/male/a"].value == pytest.approx(-0.15)
    assert ms["mean_shift/s/gender/female/b"].value == pytest.approx(-0.15)
    assert ms["ctf_gap/s/gender/a"].value == pytest.approx(0.15)
    assert ms["max_abs_delta/s/gender"].value == pytest.approx(0.2)
    # one pair of two flips: a symmetric instability, the same for both groups (issue 8: never blame one)
    assert ms["group_flip_rate/s/gender/female"].value == ms["group_flip_rate/s/gender/male"].value == 0.5
    assert ms["flip_rate_difference/s/gender/female"].value == 0.0
    assert ms["label_shift/s/gender/female/a"].value == pytest.approx(0.5)  # f2: female a, male b
    lo, hi = ms["flip_rate/s/gender"].ci
    assert (lo, hi) == pytest.approx(stats.wilson(1, 2))  # one pair per family: no design effect


def test_only_matched_members_are_compared():
    """A gender comparison sets names against names of the same race and noun phrases against their
    counterparts; a name-versus-noun-phrase difference must not show up as a gender effect."""
    rows = []
    for fam in ("f1", "f2", "f3"):
        rows += [(fam, "female", "AA", "name", None, 0.2), (fam, "male", "AA", "name", None, 0.2),
                 (fam, "female", None, "np", "np:0", 0.9), (fam, "male", None, "np", "np:0", 0.9),
                 (fam, "female", None, "np", "np:1", 0.8)]  # no counterpart: never compared
    f = pd.DataFrame(rows, columns=["family", "gender", "race", "surface", "pair", "p_a"])
    f["p_b"] = 1 - f["p_a"]
    f["suite"], f["template_id"] = "s", "t"
    f["pred"] = np.where(f["p_a"] >= 0.5, "a", "b")
    ms = {m.id: m for m in counterfactual_metrics(f, ["a", "b"], "s", "gender", attributes=["gender", "race"])}
    assert ms["mean_shift/s/gender/female/a"].value == pytest.approx(0.0)
    assert ms["flip_rate/s/gender"].value == 0.0 and ms["flip_rate/s/gender"].n == 6  # 2 matched pairs x 3
    assert ms["label_shift/s/gender/female/a"].value == pytest.approx(0.0)


def test_pair_counts_scale_linearly():
    """100,000 members in one family: counts and sorted sums, never the 10^10 pairs (issue 13)."""
    n = 100_000
    rng = np.random.default_rng(0)
    f = pd.DataFrame({"family": "f", "gender": np.where(np.arange(n) % 2, "female", "male"), "p_a": rng.random(n)})
    f["p_b"] = 1 - f["p_a"]
    f["suite"], f["template_id"] = "s", "t"
    f["pred"] = np.where(f["p_a"] >= 0.5, "a", "b")
    ms = {m.id: m for m in counterfactual_metrics(f, ["a", "b"], "s", "gender")}
    assert ms["flip_rate/s/gender"].n == (n // 2) ** 2
    assert ms["flip_rate/s/gender"].value == pytest.approx(0.5, abs=0.01)
    assert ms["ctf_gap/s/gender/a"].value == pytest.approx(1 / 3, abs=0.01)  # E|U - U'| for uniforms


def test_statistics_helpers():
    assert stats.wilson(0, 0) == (None, None)
    lo, hi = stats.wilson(0, 20)
    assert lo == pytest.approx(0.0, abs=1e-12) and 0.15 < hi < 0.17
    assert stats.paired_tests(np.zeros(5)) == (1.0, 1.0)
    assert stats.paired_tests(np.full(5, 0.05)) == (0.0, 0.0)
    t, w = stats.paired_tests(np.array([0.1, -0.1, 0.05, -0.05, 0.0, 0.02]))
    assert t > 0.5 and w > 0.5
    assert stats.adjust([0.01, 0.04, 0.03], "holm") == pytest.approx([0.03, 0.06, 0.06])
    assert stats.adjust([0.01, 0.04, 0.03], "bh") == pytest.approx([0.03, 0.04, 0.04])
    # the numpy Holm equals statsmodels' on ties, ones and a large random set
    from statsmodels.stats.multitest import multipletests
    for p in ([0.2, 0.2, 0.01, 1.0, 0.049], np.random.default_rng(3).uniform(0, 0.2, 500).tolist()):
        assert stats.adjust(p, "holm") == pytest.approx(multipletests(p, method="holm")[1].tolist(), abs=1e-15)
    assert stats.wilson(7, 20) == pytest.approx((0.1812, 0.5671), abs=1e-4)  # = statsmodels proportion_confint
    assert stats.equal_rates_test(np.array([0.5, 0.5]), np.eye(2) * 0.01, 30) == pytest.approx(1.0)
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y, score = rng.random(200) < 0.3, np.round(rng.random(200), 1)  # rounded: plenty of ties
    assert stats.auc(y, score) == pytest.approx(roc_auc_score(y, score))
    lo, hi = stats.auc_interval(0.8, 50, 50)
    assert lo < 0.8 < hi


def test_rate_gap_interval_covers_the_gap_and_contains_its_estimate():
    gap = stats.rate_gap(np.array([[30.0, 60.0]]), np.array([[100.0, 100.0]]))
    (lo, hi), (rlo, rhi) = gap["gap_ci"], gap["ratio_ci"]
    assert lo < 0.3 < hi and rlo < 0.5 < rhi and gap["p_value"] < 0.001
    # a tiny identity gap of 0.033 must lie inside its own interval (issue 8: [0.100, 0.400] did not)
    hits = np.array([[1.0, 0.0, 0.0]] * 10)
    gap = stats.rate_gap(hits, np.ones_like(hits) * 3)
    assert gap["gap_ci"][0] <= gap["gap"] <= gap["gap_ci"][1]


# ------------------------------------------------------------------ calibration on simulated models
LABELS = ["happy", "sad", "angry", "neutral"]
TO_CLASS = {"joy": "happy", "positive": "happy", "sadness": "sad", "fear": "sad", "anger": "angry",
            "negative": "angry", "neutral": "neutral"}


@pytest.fixture(scope="module")
def suites():
    return select_suites(DEFAULT_SUITES)


def simulate(cases: pd.DataFrame, seed: int, bias: float) -> pd.DataFrame:
    """A model that reads only the non-protected words, plus per-sentence noise; ``bias`` is added to p(happy)
    whenever the sentence has a female term (then renormalised). Labels never flip: the margin is 0.6."""
    out = cases.copy()
    probs = np.full((len(out), len(LABELS)), 0.1)
    target = out["expected_label"].map(lambda x: LABELS.index(TO_CLASS.get(x, "neutral")))
    probs[np.arange(len(out)), target.to_numpy()] = 0.7
    noise = np.array([np.random.default_rng(int(hashlib.sha1(f"{seed}{t}".encode()).hexdigest()[:8], 16))
                      .uniform(-0.02, 0.02, len(LABELS)) for t in out["text"]])
    probs = probs + noise
    probs[:, 0] += bias * (out["gender"] == "female").to_numpy()
    probs /= probs.sum(axis=1, keepdims=True)
    for i, label in enumerate(LABELS):
        out[f"p_{label}"] = probs[:, i]
    out["pred"] = [LABELS[i] for i in probs.argmax(axis=1)]
    out["y_true"] = out["expected_label"].map(lambda x: TO_CLASS.get(x) if x else None)
    return out


def audit_verdict(suites, seed: int, bias: float) -> tuple[str, int]:
    cases = build_cases(suites, max_cases=3000, seed=seed)
    scored = simulate(cases, seed, bias)
    gate, _ = gates.load_gate()
    metrics = [m.to_dict() for m in all_metrics(scored, LABELS, attributes_of(suites), alpha=gate.alpha, seed=seed,
                                                slices=False)]
    flips = sum(m["details"].get("flipped", 0) for m in metrics if m["metric"] == "flip_rate" and m["template"] is None)
    return gates.evaluate(gate, metrics)["verdict"], flips


def test_null_model_fails_at_most_five_percent_of_audits(suites):
    verdicts = [audit_verdict(suites, seed, bias=0.0)[0] for seed in range(20)]
    assert verdicts.count("fail") <= 1  # <= 5% of 20 audits at alpha 0.05


def test_planted_bias_is_caught_without_a_single_flip(suites):
    results = [audit_verdict(suites, seed, bias=0.05) for seed in range(20)]
    assert sum(v == "fail" for v, _ in results) >= 19  # >= 95% of audits
    assert all(flips == 0 for _, flips in results)


def test_fairlearn_bootstrap_option_gives_intervals_around_the_estimate():
    from audit.metrics import group_metrics

    rng = np.random.default_rng(0)
    n = 300
    f = pd.DataFrame({"suite": "d", "family": [f"r{i}" for i in range(n)], "g": rng.choice(["x", "y"], n),
                      "p_a": rng.random(n)})
    f["p_b"] = 1 - f["p_a"]
    f["pred"] = np.where(f["p_a"] >= 0.5, "a", "b")
    fast = {m.id: m for m in group_metrics(f, ["a", "b"], "d", "g", n_boot=0)}
    boot = {m.id: m for m in group_metrics(f, ["a", "b"], "d", "g", n_boot=30, seed=1)}
    assert fast.keys() == boot.keys()
    for key in ("dp_difference/d/g/a", "selection_rate/d/g/x/a"):
        assert fast[key].value == boot[key].value
        lo, hi = boot[key].ci
        assert lo <= boot[key].value + 0.05 and hi >= boot[key].value - 0.05 and lo < hi


def clustered_rates(rng, families: int, groups: int, size: int, base: float, gap: float):
    """Per-family counts with a shared family effect (members of a family are correlated, pairs too)."""
    effect = rng.normal(0, 0.8, (families, 1))
    logit = np.log(base / (1 - base)) + effect + np.r_[gap, np.zeros(groups - 1)][None, :]
    p = 1 / (1 + np.exp(-logit))
    return rng.binomial(size, p).astype(float), np.full((families, groups), float(size)), p


def test_group_rate_intervals_cover_95_percent_of_clustered_samples():
    """Cluster Wilson and the simultaneous Newcombe gap interval against the truth of clustered data (measured:
    94% and 94%; plain Wilson, which ignores the clustering, covers 88% here and fails the bound)."""
    rng = np.random.default_rng(1)
    truth_rng = np.random.default_rng(99)
    big = clustered_rates(truth_rng, 400_000, 2, 1, 0.3, 0.4)[2].mean(axis=0)  # true rates of both groups
    rate_hits, gap_hits, inside = [], [], []
    for _ in range(400):
        hits, totals, _ = clustered_rates(rng, 60, 2, 5, 0.3, 0.4)
        lo, hi = stats.cluster_wilson(hits[:, 0], totals[:, 0])
        rate_hits.append(lo <= big[0] <= hi)
        gap = stats.rate_gap(hits, totals)
        gap_hits.append(gap["gap_ci"][0] <= big[0] - big[1] <= gap["gap_ci"][1])
        inside.append(gap["gap_ci"][0] <= gap["gap"] <= gap["gap_ci"][1])
    assert 0.92 <= np.mean(rate_hits) <= 0.98, np.mean(rate_hits)
    assert 0.92 <= np.mean(gap_hits) <= 0.98, np.mean(gap_hits)
    assert all(inside)


def test_tiny_group_slice_reports_its_size():
    from audit.metrics import group_metrics

    rng = np.random.default_rng(0)
    f = pd.DataFrame({"suite": "d", "family": [f"r{i}" for i in range(206)], "g": ["big"] * 200 + ["tiny"] * 6,
                      "p_a": rng.random(206)})
    f["p_b"] = 1 - f["p_a"]
    f["pred"] = np.where(f["p_a"] >= 0.5, "a", "b")
    dp = next(m for m in group_metrics(f, ["a", "b"], "d", "g") if m.id == "dp_difference/d/g/a")
    assert dp.n == 206 and dp.n_min == 6 and dp.ci[0] <= dp.value <= dp.ci[1]
    gate, _ = gates.load_gate("strict")
    rule = next(r for r in gate.rules if r.metric == "dp_difference")
    assert gates.judge(dp.to_dict(), rule, gate)[0] == "insufficient"  # 6 families < min_n 20: decides nothing


def test_coverage_study_on_a_few_runs():
    """The study behind the README's coverage figures, on 25 runs of the names suite (counterfactual metrics)."""
    from audit.coverage import study

    result = study(runs=25, slices=False)
    for metric in ("mean_shift", "label_shift"):
        assert 0.88 <= result[metric]["coverage"] <= 0.995, (metric, result[metric])
