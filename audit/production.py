"""What a team deploying the model asks, measured in the audit's own process: the latency of one request, the
throughput at the audit's batch plan, peak memory, size, device and precision (``results.json`` ``production``).

Latency: ``LATENCY_SAMPLES`` texts drawn with a fixed seed from the audited sentences, each scored alone
(batch 1, ``predict_proba([text])``) after ``WARMUP`` untimed calls; p50 and p95 are numpy's linear-interpolated
percentiles of those times. Throughput: the audit's scoring rate (sentences/s of everything scored fresh, at
its token-budget batches); when every sentence came from the cache there is none to report. Peak resident
memory: the process's high-water mark (``getrusage`` ``ru_maxrss``), everything the audit held, model included.
"""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import numpy as np

LATENCY_SAMPLES = 40
WARMUP = 3


def latency_ms(model, texts: list[str], n: int = LATENCY_SAMPLES, seed: int = 0) -> dict:
    """p50 / p95 / mean milliseconds of one single-text request over a seeded sample of ``texts``."""
    unique = list(dict.fromkeys(texts))
    if not unique:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "mean_ms": None}
    sample = random.Random(seed).sample(unique, min(n, len(unique)))
    for text in sample[:WARMUP]:
        model.predict_proba([text])
    times = []
    for text in sample:
        start = time.perf_counter()
        model.predict_proba([text])
        times.append((time.perf_counter() - start) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    return {"n": len(times), "p50_ms": float(p50), "p95_ms": float(p95), "mean_ms": float(np.mean(times))}


def peak_rss_mb() -> float | None:
    """The process's peak resident memory in MiB (Linux reports KiB, macOS bytes); None without ``resource``."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def folder_mb(path: str | Path | None) -> float | None:
    """Size of a model folder's files in MiB (what is shipped); None when the model is not a local folder."""
    if not path or not Path(path).is_dir():
        return None
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2 ** 20


def production_facts(model, texts: list[str], scoring: dict | None, precision: str, seed: int = 0) -> dict:
    """The ``production`` section: latency at batch 1, throughput at the batch plan, memory, size, device.
    The exact mode's counts are those of the audit's scoring, taken before the latency calls add to them."""
    exact = getattr(model, "exactness", None)
    exact = dict(exact) if exact else None
    facts = {"latency_batch1": latency_ms(model, texts, seed=seed),
             "throughput_sentences_per_s": (scoring or {}).get("sentences_per_s"),
             "peak_rss_mb": peak_rss_mb(), "parameters": model.n_parameters,
             "size_on_disk_mb": folder_mb(getattr(model, "folder", None)),
             "device": str(model.device), "precision": getattr(model, "precision", None) or precision}
    cuda_peak = getattr(model, "cuda_peak_mb", None)
    if cuda_peak is not None:
        facts["peak_gpu_memory_mb"] = cuda_peak()
    if exact:
        facts["exactness"] = exact
    return facts
