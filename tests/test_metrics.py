import hashlib

import numpy as np
import pandas as pd
import pytest

from audit import gate as gates
from audit import stats
from audit.cases import attributes_of, build_cases
from audit.metrics import all_metrics, counterfactual_metrics, rate_gap_interval
from audit.suites import DEFAULT_SUITES, select_suites


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
    assert ms["group_flip_rate/s/gender/female"].value == 0.0
    assert ms["group_flip_rate/s/gender/male"].value == 0.5  # f2's modal label is a (tie -> first class)
    lo, hi = ms["flip_rate/s/gender"].ci
    assert (lo, hi) == pytest.approx(stats.wilson(1, 2))


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
    assert stats.chi2_independence(np.array([[50, 50], [50, 50]])) == pytest.approx(1.0)
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y, score = rng.random(200) < 0.3, np.round(rng.random(200), 1)  # rounded: plenty of ties
    assert stats.auc(y, score) == pytest.approx(roc_auc_score(y, score))
    lo, hi = stats.auc_interval(0.8, 50, 50)
    assert lo < 0.8 < hi


def test_rate_gap_interval_covers_the_gap():
    (lo, hi), (rlo, rhi) = rate_gap_interval(np.array([30, 60]), np.array([100, 100]), 0.05, seed=0)
    assert lo < 0.3 < hi and rlo < 0.5 < rhi


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
    metrics = [m.to_dict() for m in all_metrics(scored, LABELS, attributes_of(suites), alpha=gate.alpha, seed=seed)]
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
