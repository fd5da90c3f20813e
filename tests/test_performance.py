"""Issue 19: exact bf16 on CPU, the timing breakdown, the production facts, and an audit at scale (behaviour,
not speed: the figures come from `make bench` and scripts/scale_check.py)."""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from audit.models import load_model
from audit.run import AuditOptions, run_audit
from core import forward as fwd
from core.batching import token_budget_batches
from core.cases import build_cases
from core.suites import load_suites

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sharp_classifier(tokenizer, tmp_path_factory):
    """A tiny random BERT drawn with large weights (initializer_range 0.5; at the default 0.02 every text gets
    the same label with the same margin): labels over all classes, margins from 0 to 1, bf16 differences up
    to a few percent, so that many texts are sure in bf16 and many must be re-scored."""
    from transformers import BertForSequenceClassification

    from conftest import tiny_config

    torch.manual_seed(1)
    labels = ["negative", "neutral", "positive"]
    model = BertForSequenceClassification(tiny_config(num_labels=3, initializer_range=0.5,
                                                      id2label=dict(enumerate(labels)),
                                                      label2id={l: i for i, l in enumerate(labels)}))
    path = tmp_path_factory.mktemp("sharp")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def suite_texts():
    suites = load_suites()
    return {name: build_cases([suites[name]])["text"].tolist() for name in ("eec", "identity")}


@pytest.mark.parametrize("suite", ["eec", "identity"])
def test_bf16_labels_equal_fp32_labels(sharp_classifier, suite_texts, suite):
    texts = suite_texts[suite]
    fp32 = load_model(str(sharp_classifier), precision="fp32", device="cpu")
    bf16 = load_model(str(sharp_classifier), precision="bf16", device="cpu")
    assert (fp32.exact, bf16.exact, bf16.precision) == (False, True, "bf16")
    p32, plow = fp32.predict_proba(texts), bf16.predict_proba(texts)
    assert np.array_equal(p32.argmax(axis=1), plow.argmax(axis=1))
    report = bf16.exactness
    assert report["texts"] == len(texts) and report["sample"] == fwd.EXACT_SAMPLE
    assert 0 < report["rescored"] < len(texts) - report["sample"]  # the bound matters both ways here
    assert report["bound"] == max(2 * fwd.EXACT_SAFETY * report["eps"], fwd.EXACT_MIN_BOUND)
    # rows kept in bf16 are bf16's own (not silently fp32): some differ from fp32, all within the bound / 2
    diff = np.abs(p32 - plow).max(axis=1)
    assert diff.max() > 0 and diff.max() < report["bound"] / 2


def test_forward_exact_rescores_exactly_the_texts_under_the_bound(sharp_classifier, suite_texts):
    model = load_model(str(sharp_classifier), precision="bf16", device="cpu")
    ids = model.encode(suite_texts["identity"][:300])
    args = (model.model, ids, 0, torch.device("cpu"), torch.bfloat16, 8192)
    everything, report = fwd.forward_exact(*args, bound=2.0)  # every margin is below 2: all fp32
    assert report["rescored"] == 300 and report["eps"] is None
    fp32 = load_model(str(sharp_classifier), precision="fp32", device="cpu").predict_proba(suite_texts["identity"][:300])
    assert np.allclose(everything.numpy(), fp32, atol=1e-6)
    nothing, report = fwd.forward_exact(*args, bound=0.0)  # none: plain bf16
    assert report["rescored"] == 0
    plan = token_budget_batches([len(x) for x in ids], 8192)  # the engine's batches: the same arithmetic
    plain = fwd.forward(model.model, ids, plan, 0, torch.device("cpu"), torch.bfloat16, softmax=True)
    assert torch.equal(nothing, plain) and not np.allclose(plain.numpy(), fp32, atol=1e-4)
    top2 = plain.topk(2, dim=1).values
    seen = []
    mixed, report = fwd.forward_exact(*args, bound=0.5, on_batch=lambda idx, rows: seen.extend(idx))
    assert sorted(seen) == list(range(300))  # every text reported once, re-scored ones after the check
    assert report["rescored"] == int((top2[:, 0] - top2[:, 1] < 0.5).sum())


def test_cache_key_covers_precision_and_auto_is_fp32_without_native_bf16(tiny_classifier, monkeypatch):
    keys = {p: load_model(str(tiny_classifier), precision=p, device="cpu").cache_key for p in ("fp32", "bf16")}
    assert keys["fp32"] != keys["bf16"]
    monkeypatch.setattr(fwd, "native_bf16", lambda: False)
    assert load_model(str(tiny_classifier), precision="auto", device="cpu").precision == "fp32"
    monkeypatch.setattr(fwd, "native_bf16", lambda: True)
    for pays, expected in ((False, "fp32"), (True, "bf16")):  # measured on native-bf16 CPUs; the choice follows
        monkeypatch.setattr(fwd, "bf16_pays", lambda model, device, pays=pays: pays)
        assert load_model(str(tiny_classifier), precision="auto", device="cpu").precision == expected


def test_timing_breakdown_adds_up_and_production_facts(tiny_classifier, tmp_path):
    opts = AuditOptions(model=str(tiny_classifier), out=str(tmp_path / "a"), suites=["identity"], max_cases=600,
                        cache_dir="", progress=False, precision="bf16", robustness_sample=20)
    start = time.perf_counter()
    run_audit(opts)
    outside = time.perf_counter() - start
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    timings = results["run"]["timings"]
    assert list(timings["phases"]) == ["cases", "model_load", "scoring", "robustness", "metrics", "gate",
                                       "production", "writing"]
    assert timings["process"] is False  # in-process: no interpreter start-up to book
    assert sum(timings["phases"].values()) == pytest.approx(timings["total_seconds"], abs=1e-3)
    assert timings["total_seconds"] == pytest.approx(results["run"]["wall_seconds"], abs=0.01)
    assert outside - 0.5 < timings["total_seconds"] <= outside  # only results.json's own write is outside
    prod = results["production"]
    lat = prod["latency_batch1"]
    assert lat["n"] == 40 and 0 < lat["p50_ms"] <= lat["p95_ms"]
    assert prod["precision"] == "bf16" and prod["device"] == "cpu" and prod["parameters"] > 1_000_000
    assert prod["peak_rss_mb"] > 100
    on_disk = sum(f.stat().st_size for f in tiny_classifier.rglob("*") if f.is_file()) / 2 ** 20
    assert prod["size_on_disk_mb"] == pytest.approx(on_disk)
    exact = prod["exactness"]
    assert exact["texts"] == results["run"]["scoring"]["scored"] + results["robustness"]["scoring"]["scored"]
    assert 0 <= exact["rescored_share"] <= 1 and exact["eps"] is not None


def test_process_startup_is_booked(tmp_path):
    code = "import time; time.sleep(0.4); from audit.timing import process_age; print(process_age())"
    age = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 0.4 <= age < 30


def test_a_callable_audit_never_imports_torch(tmp_path):
    """Lazy imports: only a Hugging Face model pays for torch and transformers (seconds of start-up)."""
    script = ROOT / "scripts" / "scale_check.py"
    code = (f"import sys; from audit.__main__ import main; main(['run', '--model', {str(script) + ':predict'!r}, "
            f"'--suite', 'identity', '--max-cases', '300', '--robustness-sample', '10', '--out', {str(tmp_path)!r}, "
            "'--cache-dir', '', '-q', '--no-fail']); print(sorted({'torch', 'transformers'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert json.loads((tmp_path / "results.json").read_text())["production"]["parameters"] is None


def test_scale_check_audit_shape(tmp_path):
    """The scale check's audit (scripts/scale_check.py) at a small size: every row becomes a case, each gendered
    row a family of two, and the group slice and gender metrics come out (its speed is the script's figure)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import scale_check

    n = 1200
    scale_check.write_data(tmp_path / "d.csv", n)
    opts = AuditOptions(model=f"{ROOT / 'scripts' / 'scale_check.py'}:predict", out=str(tmp_path / "a"),
                        suites=[], data=str(tmp_path / "d.csv"), label_col="label", group_col="group",
                        robustness="none", cache_dir="", progress=False)
    results = run_audit(opts)
    by_suite = results["coverage"]["cases_by_suite"]
    assert sum(by_suite.values()) == results["run"]["cases"] == 2 * n  # n//2 families of 2, n//2 originals, n rows
    ids = {m["id"].split("/")[0] + "/" + m["attribute"] for m in results["metrics"]}
    assert {"dp_difference/group", "flip_rate/gender"} <= ids
