"""The prediction cache: written as batches finish, and a cache hit never changes a result (issue 8, point 9).

A callable's key covers its whole module file and an optional ``version`` attribute; on top, a fixed sample of
its cached texts is scored again before the cache is trusted, which catches changes outside the module.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audit.__main__ import main
from audit.models import HFClassifier, load_model
from audit.predict import VERIFY_SAMPLE, PredictionCache, score
from badinput import write_fixtures

CONSTANT_MODEL = '''
import numpy as np
HAPPY = {happy}
def predict(texts):
    return np.tile([HAPPY, 0.9 - HAPPY, 0.1], (len(texts), 1))
predict.labels = ["happy", "sad", "neutral"]
'''

FILE_MODEL = '''
import json, pathlib
import numpy as np
SETTINGS = pathlib.Path(__file__).with_name("settings.json")
def predict(texts):
    happy = json.loads(SETTINGS.read_text())["happy"]
    return np.array([[happy, 1 - happy, 0.0] if "she" in t.lower() else [0.3, 0.3, 0.4] for t in texts])
predict.labels = ["happy", "sad", "neutral"]
'''


@pytest.fixture()
def fx(tmp_path):
    return {**write_fixtures(tmp_path), "root": tmp_path}


def audit(fx, model, out):
    args = ["run", "--model", model, "--templates", fx["suite"], "--suite", "mini", "--out", out, "--cache-dir",
            fx["root"] / "cache", "-q", "--no-fail"]
    assert main([str(a) for a in args]) == 0
    results = json.loads((out / "results.json").read_text())
    return results["run"]["scoring"], pd.read_parquet(out / "cases.parquet")


def test_changed_module_constant_is_scored_again(fx):
    model = fx["root"] / "constant.py"
    model.write_text(CONSTANT_MODEL.format(happy=0.3))
    first, _ = audit(fx, f"{model}:predict", fx["root"] / "a")
    again, _ = audit(fx, f"{model}:predict", fx["root"] / "b")
    assert first["scored"] == first["unique"] == 48 and again["scored"] == 0
    assert again["cache_verified"] == VERIFY_SAMPLE and again["cache_stale"] is False
    model.write_text(CONSTANT_MODEL.format(happy=0.6))
    changed, cases = audit(fx, f"{model}:predict", fx["root"] / "c")
    assert changed["scored"] == 48  # a new fingerprint: nothing cached under it
    assert np.allclose(cases["p_happy"], 0.6) and (cases["pred"] == "happy").all()


def test_behaviour_changed_outside_the_module_is_caught_by_the_sample(fx):
    model = fx["root"] / "filemodel.py"
    model.write_text(FILE_MODEL)
    settings = fx["root"] / "settings.json"
    settings.write_text(json.dumps({"happy": 0.6}))
    first, _ = audit(fx, f"{model}:predict", fx["root"] / "a")
    settings.write_text(json.dumps({"happy": 0.2}))  # same source, same fingerprint, other predictions
    second, cases = audit(fx, f"{model}:predict", fx["root"] / "b")
    assert second["cache_stale"] is True and second["scored"] == second["unique"] == first["unique"]
    she = cases["text"].str.lower().str.contains("she")
    assert np.allclose(cases.loc[she, "p_happy"], 0.2) and (cases.loc[she, "pred"] == "sad").all()
    third, _ = audit(fx, f"{model}:predict", fx["root"] / "c")  # the dropped entries were replaced: hits again
    assert third["scored"] == 0 and third["cache_stale"] is False


def test_declared_version_enters_the_key(fx):
    model = fx["root"] / "versioned.py"
    model.write_text(CONSTANT_MODEL.format(happy=0.3) + "predict.version = '1'\n")
    before = load_model(f"{model}:predict").cache_key
    model.write_text(CONSTANT_MODEL.format(happy=0.3) + "predict.version = '2'\n")
    assert load_model(f"{model}:predict").cache_key != before


def test_hf_cache_is_written_per_batch_and_keyed_by_precision(tiny_classifier, tmp_path):
    model = HFClassifier(str(tiny_classifier))
    assert HFClassifier(str(tiny_classifier), precision="bf16").cache_key != model.cache_key
    texts = [f"sentence number {i} " + "word " * (i % 7) for i in range(120)]
    cache = PredictionCache(tmp_path / "p.sqlite")
    forward, calls = model.model.forward, []

    def dies_on_third_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return forward(*args, **kwargs)

    model.model.forward = dies_on_third_batch
    with pytest.raises(KeyboardInterrupt):
        score(model, texts, cache, max_tokens=200, progress=False)
    saved = len(cache.get(model.cache_key, texts))
    assert 0 < saved < len(texts)  # the two finished batches survived
    model.model.forward = forward
    probs, stats = score(model, texts, cache, max_tokens=200, progress=False)
    assert stats["scored"] == len(texts) - saved and stats["cached"] == saved
    fresh, _ = score(model, texts, None, progress=False)
    assert np.allclose(probs, fresh, atol=1e-5)  # a cache hit does not change a result
    cache.close()
