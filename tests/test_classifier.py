"""The Classifier contract, the registry of model kinds, and the one shared forward loop (core/forward.py)."""
from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
import torch

import core.classifier as registry
from audit.__main__ import main as audit_main
from audit.models import CallableClassifier, HFClassifier, VaderClassifier, load_model
from audit.predict import score
from audit.production import WARMUP
from audit.run import AuditOptions, run_audit
from core.batching import collate, encode, sorted_batches, token_budget_batches
from core.classifier import Adapter, Classifier, LoadOptions, register, resolve
from core.errors import InputError
from core.forward import forward

CALLABLE = '''
import numpy as np
def predict(texts):
    p = np.array([min(len(t), 50) / 100 for t in texts])
    return np.stack([p, 1 - p], axis=1)
predict.labels = ["short", "long"]
'''


@pytest.fixture()
def callable_file(tmp_path):
    path = tmp_path / "lengthy.py"
    path.write_text(CALLABLE)
    return path


def adapters(tiny_classifier, callable_file):
    out = [HFClassifier(str(tiny_classifier)), CallableClassifier(f"{callable_file}:predict")]
    with contextlib.suppress(InputError):  # VADER when its extra is installed
        out.append(VaderClassifier())
    return out


def test_every_adapter_keeps_the_contract(tiny_classifier, callable_file):
    texts = ["She was happy.", "He was furious about the late train and the rain.", "ok"]
    kinds = set()
    for model in adapters(tiny_classifier, callable_file):
        kinds.add(model.kind)
        assert isinstance(model, Classifier) and isinstance(model, Adapter)
        assert len(model.fingerprint) == 64 and isinstance(model.cache_key, str)
        probs = model.predict_proba(texts)
        assert probs.shape == (3, len(model.labels))
        np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
        assert ((probs >= 0) & (probs <= 1)).all()
        batches = model.plan_batches(texts, max_tokens=64)
        assert sorted(i for b in batches for i in b) == [0, 1, 2]  # every text once
        seen = {}
        model.predict_batches(texts, 64, lambda idx, p: seen.update(zip(idx, np.asarray(p))))
        np.testing.assert_allclose(np.stack([seen[i] for i in range(3)]), probs, rtol=0, atol=1e-6)
    assert {"huggingface", "callable"} <= kinds


def test_an_object_without_predict_proba_is_not_a_classifier():
    class Half:
        labels = ["a"]
        fingerprint = "x"

    assert not isinstance(Half(), Classifier)


@pytest.mark.parametrize("spec, kind, target", [
    ("hf:runs/demo/model", "huggingface", "runs/demo/model"),
    ("huggingface:org/name", "huggingface", "org/name"),
    ("runs/demo/model", "huggingface", "runs/demo/model"),        # un-prefixed: as before
    ("org/name", "huggingface", "org/name"),
    ("bundled:all-MiniLM-L6-v2", "huggingface", "bundled:all-MiniLM-L6-v2"),
    ("my.module:predict", "callable", "my.module:predict"),
    ("nosuchmodule:fn", "callable", "nosuchmodule:fn"),
    ("path/to/file.py:predict", "callable", "path/to/file.py:predict"),
    ("callable:my.module:predict", "callable", "my.module:predict"),
    ("callable:hf:predict", "callable", "hf:predict"),             # a module named like a kind
    ("vader", "vader", "vader"),
    ("hf:vader", "huggingface", "vader"),                          # a folder named like a kind
])
def test_resolution(spec, kind, target):
    adapter, rest = resolve(spec)
    assert (adapter.kind, rest) == (kind, target)


@pytest.mark.parametrize("spec, message", [
    ("hugginface:runs/demo/model", "unknown model kind 'hugginface' (known kinds: callable, vader, huggingface (hf)"),
    ("hf:", "nothing after 'hf:'"),
    ("vader:extra", "the vader kind takes no argument"),
])
def test_a_wrong_kind_is_one_error_line(spec, message, tmp_path, capsys):
    out = tmp_path / "out"
    assert audit_main(["run", "--model", spec, "--suite", "identity", "--out", str(out), "--cache-dir", ""]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert spec in lines[0] and not out.exists()


def test_a_spec_no_kind_accepts(monkeypatch):
    monkeypatch.setattr(registry, "KINDS", {})
    register(VaderClassifier)
    with pytest.raises(InputError, match=r"--model 'runs/x': no model kind accepts it \(known kinds: vader\)"):
        resolve("runs/x")


def test_a_kind_name_is_taken_once(monkeypatch):
    monkeypatch.setattr(registry, "KINDS", dict(registry.KINDS))

    class Other(Adapter):
        kind = "vader"

    with pytest.raises(ValueError, match="registered already"):
        register(Other)
    Other.kind = "Not A Word"
    with pytest.raises(ValueError, match="lower-case word"):
        register(Other)


# ------------------------------------------------------------------ a new kind: one class + one register line

class ToyClassifier(Adapter):
    """``toy:WORD``: p(pos) = 0.9 for texts that contain WORD, else 0.2; batches of 5."""
    kind = "toy"
    batch_size = 5
    calls: list[int] = []

    def __init__(self, word: str):
        self.name, self.word, self.labels = f"toy:{word}", word, ["neg", "pos"]
        self.fingerprint = f"toy-{word}-v1"

    @classmethod
    def load(cls, target: str, options: LoadOptions) -> ToyClassifier:
        return cls(target)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        ToyClassifier.calls.append(len(texts))
        p = np.array([0.9 if self.word in t.lower() else 0.2 for t in texts])
        return np.stack([1 - p, p], axis=1)


@pytest.fixture()
def toy_kind(monkeypatch):
    monkeypatch.setattr(registry, "KINDS", dict(registry.KINDS))  # the registration ends with the test
    register(ToyClassifier)
    ToyClassifier.calls = []
    yield ToyClassifier


def test_a_new_kind_audits_end_to_end(toy_kind, tmp_path):
    opts = dict(suites=["identity"], max_cases=200, cache_dir=str(tmp_path / "cache"), progress=False)
    results = run_audit(AuditOptions(model="toy:female", out=str(tmp_path / "a"), **opts))
    assert results["model"]["kind"] == "toy" and results["model"]["fingerprint"] == "toy-female-v1"
    assert results["model"]["labels"] == ["neg", "pos"] and results["model"]["device"] == "cpu"
    scoring = results["run"]["scoring"]
    assert scoring["scored"] == scoring["unique"] > 0
    robust = results["robustness"]["scoring"]  # the robustness variants are a second call of the same engine
    latency = results["production"]["latency_batch1"]["n"] + WARMUP  # single-text requests (audit/production.py)
    assert max(toy_kind.calls) == 5 and sum(toy_kind.calls) == scoring["unique"] + robust["unique"] + latency
    # p(pos) depends on one gender term: the counterfactual shift of that attribute is the largest there is
    shifts = [m for m in results["metrics"]
              if m["id"].startswith("mean_shift/identity/gender/") and m["id"].endswith("/pos")]
    assert shifts and max(abs(m["value"]) for m in shifts) > 0.1
    # the default capabilities: cache key = fingerprint, cached entries re-checked before use
    again = run_audit(AuditOptions(model="toy:female", out=str(tmp_path / "b"), **opts))["run"]["scoring"]
    assert again["scored"] == 0 and again["cache_verified"] == 32 and again["cache_stale"] is False
    assert (tmp_path / "b" / "report.html").is_file()


def test_the_engine_checks_every_kind_against_the_contract(toy_kind, monkeypatch):
    monkeypatch.setattr(ToyClassifier, "predict_proba", lambda self, texts: np.full((len(texts), 2), 0.7))
    with pytest.raises(InputError, match="toy:x: row 0 sums to 1.4"):
        score(load_model("toy:x"), ["a", "b"], progress=False)


# ------------------------------------------------------------------ the shared forward loop, bit for bit

def old_audit_loop(model: HFClassifier, texts: list[str], max_tokens: int) -> np.ndarray:
    """audit/predict.py score_hf before the shared loop (commit 16ff8ac), cache and progress left out."""
    ids = model.tokenizer(texts, truncation=True, max_length=model.max_length)["input_ids"]
    probs = np.empty((len(texts), len(model.labels)), dtype=np.float32)
    pad = model.tokenizer.pad_token_id or 0
    ctx = torch.autocast(model.device.type, dtype=model.dtype) if model.dtype else contextlib.nullcontext()
    with torch.inference_mode(), ctx:
        for batch in token_budget_batches([len(x) for x in ids], max_tokens):
            inputs = collate([ids[i] for i in batch], pad)
            if bool(inputs["attention_mask"].all()):
                del inputs["attention_mask"]
            logits = model.model(**{k: v.to(model.device) for k, v in inputs.items()}).logits
            probs[batch] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    return probs


def old_eval_loop(model, ids: list[list[int]], pad_id: int, batch_size: int = 64) -> torch.Tensor:
    """finetune/training.py predict before the shared loop: the attention mask always passed."""
    model.eval()
    logits = torch.empty((len(ids), model.config.num_labels))
    with torch.inference_mode():
        for batch in sorted_batches([len(x) for x in ids], batch_size):
            out = model(**collate([ids[i] for i in batch], pad_id)).logits
            logits[batch] = out.float().cpu()
    return logits


@pytest.fixture(scope="module")
def sentences():
    words = "she he they my sister brother was happy sad furious at the party yesterday and today".split()
    rng = np.random.default_rng(0)
    return list(dict.fromkeys(" ".join(rng.choice(words, size=rng.integers(2, 14))) for _ in range(300)))


def test_audit_probabilities_are_the_same_as_before(tiny_classifier, sentences):
    model = HFClassifier(str(tiny_classifier))
    expected = old_audit_loop(model, sentences, max_tokens=512)
    ours = model.predict_batches(sentences, 512)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, expected)
    scored, _ = score(model, sentences, max_tokens=512, progress=False)
    np.testing.assert_array_equal(scored, expected.astype(np.float64))


def test_evaluation_logits_are_the_same_as_before(tiny_classifier, tokenizer, sentences):
    model = HFClassifier(str(tiny_classifier)).model
    ids = encode(tokenizer, sentences, 128)
    expected = old_eval_loop(model, ids, tokenizer.pad_token_id)
    ours = forward(model, ids, sorted_batches([len(x) for x in ids], 64), tokenizer.pad_token_id, torch.device("cpu"))
    assert torch.equal(ours, expected)  # dropping an all-ones mask changes nothing
    probs = forward(model, ids, sorted_batches([len(x) for x in ids], 64), tokenizer.pad_token_id,
                    torch.device("cpu"), softmax=True)
    assert torch.equal(probs, torch.softmax(expected, dim=-1))


def test_vader_kind_scores_as_the_callable_does(tmp_path):
    pytest.importorskip("vaderSentiment")
    from audit.adapters import vader

    model = load_model("vader")
    texts = ["I love this.", "I hate this.", "A table."]
    np.testing.assert_array_equal(model.predict_proba(texts), vader.predict(texts))
    assert model.kind == "vader" and not model.verify_cache
    assert load_model("audit.adapters.vader:predict").kind == "callable"
    results = run_audit(AuditOptions(model="vader", out=str(tmp_path / "v"), suites=["identity"], max_cases=60,
                                     cache_dir="", progress=False))
    assert results["model"]["kind"] == "vader" and json.loads((tmp_path / "v" / "results.json").read_text())
