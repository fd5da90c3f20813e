"""The Ray engine against the local engine, on one local 2-CPU Ray cluster shared by the module's tests."""
import json
import sys

import numpy as np
import pandas as pd
import pytest

from audit.__main__ import main as audit_main
from core.cases import build_cases
from audit.models import CallableClassifier, HFClassifier
from audit.predict import score
from core.suites import load_suites
from core.errors import InputError

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
from audit.ray_engine import RayEngine  # noqa: E402

CALLABLE = '''
import numpy as np
def predict(texts):
    # depends on each text only: p(pos) grows with the number of vowels
    v = np.array([sum(c in "aeiou" for c in t) for t in texts], dtype=float)
    p = 1 / (1 + np.exp(-(v - 12) / 4))
    return np.stack([1 - p, p], axis=1)
predict.labels = ["neg", "pos"]
'''


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def texts():
    return build_cases([load_suites()["identity"]], max_cases=600, seed=3)["text"].tolist()


def test_every_probability_equals_the_local_engine(cluster, tiny_classifier, texts):
    model = HFClassifier(str(tiny_classifier))
    # a small token budget: many batches, several blocks per worker
    local, _ = score(model, texts, max_tokens=512, progress=False)
    ours, stats = score(model, texts, max_tokens=512, progress=False, engine=RayEngine(workers=2))
    assert stats["scored"] == len(set(texts)) and ours.shape == (len(texts), 3)
    np.testing.assert_array_equal(ours, local)


def test_audit_run_on_ray_writes_the_same_results(cluster, tmp_path):
    path = tmp_path / "vowels.py"
    path.write_text(CALLABLE)  # a file only the driver imports: shipped to the workers by value
    base = ["run", "--model", f"{path}:predict", "--suite", "identity", "--max-cases", "800", "-q", "--no-fail"]
    assert audit_main(base + ["--out", str(tmp_path / "local"), "--cache-dir", ""]) == 0
    cache = str(tmp_path / "cache")
    ray_args = base + ["--engine", "ray", "--workers", "2", "--cache-dir", cache]
    assert audit_main(ray_args + ["--out", str(tmp_path / "ray")]) == 0

    def load(name):
        results = json.loads((tmp_path / name / "results.json").read_text())
        for key in ("started_at", "wall_seconds", "cases_per_s", "sentences_per_s", "timings"):
            results["run"].pop(key, None)
        results.pop("production")  # latency, throughput and memory are measurements, not results
        for scoring in (results["run"]["scoring"], results["robustness"]["scoring"]):  # timings
            for key in ("seconds", "sentences_per_s"):
                scoring.pop(key)
        results["model"].pop("latency_ms_per_sentence")
        return results

    assert load("ray") == load("local")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ray" / "cases.parquet"),
                                  pd.read_parquet(tmp_path / "local" / "cases.parquet"))
    # the cache lives on the driver: a second run finds every sentence there and dispatches nothing
    assert audit_main(ray_args + ["--out", str(tmp_path / "again")]) == 0
    scoring = json.loads((tmp_path / "again" / "results.json").read_text())["run"]["scoring"]
    assert scoring["scored"] == 0 and scoring["cached"] == scoring["unique"] > 0


def test_callable_not_importable_on_workers_is_a_clear_error(cluster, tmp_path, monkeypatch):
    (tmp_path / "driver_only_model.py").write_text(CALLABLE)
    monkeypatch.syspath_prepend(str(tmp_path))  # the driver imports it; the workers' sys.path lacks the folder
    fn = CallableClassifier("driver_only_model:predict")
    with pytest.raises(InputError, match=r"driver_only_model:predict: .*driver_only_model.*importable on every Ray worker"):
        score(fn, ["some text", "more text"], progress=False, engine=RayEngine(workers=1))


def test_more_workers_than_the_cluster_holds(cluster, tiny_classifier):
    with pytest.raises(InputError, match="only 2 CPUs"):
        RayEngine(workers=3)(HFClassifier(str(tiny_classifier)), ["a text"], progress=False)


def test_without_ray_the_engine_exits_2_with_the_install_command(tiny_classifier, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    out = tmp_path / "out"
    assert audit_main(["run", "--model", str(tiny_classifier), "--suite", "identity", "--engine", "ray",
                       "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "pip install 'fairaudit[ray]'" in err[0]
    assert not out.exists()
