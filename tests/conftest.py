"""Shared fixtures: tiny randomly initialised BERTs built here (fast), the data folder, small data files; and,
at the end of the session, every results.json the tests wrote validated against audit/results.schema.json."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("FAIRAUDIT_DATA", ROOT.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))


def tiny_config(**kw):
    from transformers import BertConfig

    return BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=512, **kw)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert (DATA_DIR / "README.md").exists(), f"data sets expected in {DATA_DIR}"
    return DATA_DIR


@pytest.fixture(scope="session")
def tokenizer():
    from core.model import DEFAULT_BASE_MODEL, load_tokenizer

    return load_tokenizer(DEFAULT_BASE_MODEL)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, tokenizer) -> Path:
    """A tiny random BERT encoder (no head) in save_pretrained form: a stand-in base model for fine-tuning."""
    from transformers import BertModel

    path = tmp_path_factory.mktemp("tiny-base")
    torch.manual_seed(0)
    BertModel(tiny_config()).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory, tokenizer) -> Path:
    """A tiny random 3-class sentiment classifier: something real for the audit engine to score."""
    from transformers import BertForSequenceClassification

    path = tmp_path_factory.mktemp("tiny-clf")
    torch.manual_seed(1)
    labels = ["negative", "neutral", "positive"]
    model = BertForSequenceClassification(tiny_config(num_labels=3, id2label=dict(enumerate(labels)),
                                                      label2id={l: i for i, l in enumerate(labels)}))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory) -> Path:
    """120 labelled rows in 3 balanced classes, words that make the classes learnable."""
    words = {"joy": "great lovely wonderful happy", "anger": "awful furious terrible angry", "calm": "table chair window door"}
    rows = []
    for i in range(120):
        label = list(words)[i % 3]
        w = words[label].split()
        rows.append({"text": f"{w[i % 4]} {w[(i + 1) % 4]} day number {i}", "label": label})
    path = tmp_path_factory.mktemp("data") / "small.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------ every results.json against the schema
BROKEN_ON_PURPOSE = ".broken-on-purpose"  # a marker file beside a results.json a test corrupts deliberately


@functools.cache
def _schema_validator():
    import json

    import jsonschema

    return jsonschema.Draft202012Validator(json.loads((ROOT / "audit" / "results.schema.json").read_text("utf-8")))


def schema_errors(doc) -> list[str]:
    """``path: message`` for every way ``doc`` breaks the published audit/results.schema.json."""
    return [f"{e.json_path}: {e.message}" for e in _schema_validator().iter_errors(doc)]


def pytest_sessionfinish(session, exitstatus):
    """Validate every results.json the session's tests wrote (in-process or in subprocesses) against the
    published JSON Schema; one that fails it fails the session, naming the file and the field."""
    import json

    if not hasattr(session.config, "_tmp_path_factory") or hasattr(session.config, "workerinput"):
        return
    base = session.config._tmp_path_factory.getbasetemp()
    bad, checked = [], 0
    for path in sorted(base.rglob("results.json")):
        if (path.parent / BROKEN_ON_PURPOSE).exists():
            continue
        checked += 1
        try:
            errors = schema_errors(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as exc:
            errors = [f"not JSON: {exc}"]
        bad += [f"{path}: {e}" for e in errors[:3]]
    if checked:
        session.config.get_terminal_writer().line(f"\nschema check: {checked} results.json files against "
                                                 f"audit/results.schema.json, {len(bad)} problems")
    if bad:
        session.config.get_terminal_writer().line("results.json files that break audit/results.schema.json:\n"
                                                 + "\n".join(bad), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
