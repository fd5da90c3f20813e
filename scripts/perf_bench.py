"""The audit's own overhead, side by side with inference (issue 19; `make bench` runs it). Figures, not tests.

    python scripts/perf_bench.py --model runs/demo/model [--data-dir ../shared/data] [--runs 3] [--suite eec]

Per run: (1) the whole ``python -m audit run --suite eec --cache-dir ''`` process, timed from outside, and its
``run.timings`` breakdown; non-inference = process wall - model scoring (cases and robustness variants)
- the latency measurement; (2) ``transformers.pipeline`` (batch 32) classifying the same texts, inference
alone, after an untimed warm-up on 256 of them; (3) this engine in fp32 against the FLOP bound
(``audit.bench``: 2 x non-embedding parameters x tokens per sentence at a measured matmul peak);
(4) this engine in exact bf16 against fp32 (speed, label agreement, share re-scored). Every figure is
printed with the 1-minute load average before and after, because a shared machine moves them.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load() -> float:
    return os.getloadavg()[0]


def audit_process(model: str, suite: str, data_dir: str, out: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "audit", "run", "--model", model, "--suite", suite, "--cache-dir", "", "--out",
           str(out), "-q", "--no-fail", "--data-dir", data_dir, *extra]
    before = load()
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    r = json.loads((out / "results.json").read_text())
    phases = r["run"]["timings"]["phases"]
    inference = r["run"]["scoring"]["seconds"] + ((r.get("robustness") or {}).get("scoring") or {}).get("seconds", 0)
    return {"wall": wall, "phases": phases, "inference": inference, "latency_phase": phases.get("production", 0.0),
            "non_inference": wall - inference - phases.get("production", 0.0), "load": (before, load()),
            "sentences": r["run"]["scoring"]["scored"], "production": r.get("production")}


def pipeline_rate(model, texts: list[str]) -> float:
    from transformers import pipeline

    pipe = pipeline("text-classification", model=model.model, tokenizer=model.tokenizer, device=model.device,
                    batch_size=32, top_k=None)
    pipe(texts[:256])
    start = time.perf_counter()
    pipe(texts)
    return time.perf_counter() - start


def engine_figures(spec: str, texts: list[str], bf16_limit: int | None) -> dict:
    import numpy as np
    import torch

    from audit.bench import matmul_peak
    from audit.models import load_model
    from audit.predict import score

    fp32 = load_model(spec, precision="fp32")
    pipe_seconds = pipeline_rate(fp32, texts)
    score(fp32, texts[:256], progress=False)
    p32, s32 = score(fp32, texts, progress=False)
    rate = s32["sentences_per_s"]
    tokens = sum(len(x) for x in fp32.encode(texts)) / len(texts)
    bound = matmul_peak(fp32.device) / (2 * fp32.n_non_embedding_parameters * tokens)
    bf16 = load_model(spec, precision="bf16")
    plow, slow = score(bf16, texts[:bf16_limit], progress=False)
    p32 = p32[:bf16_limit]
    if bf16_limit:  # the same texts in fp32
        s32["sentences_per_s"] = score(fp32, texts[:bf16_limit], progress=False)[1]["sentences_per_s"]
    return {"pipeline_seconds": pipe_seconds, "fp32_rate": rate, "bound": bound, "fp32_subset_rate": s32["sentences_per_s"],
            "bf16_rate": slow["sentences_per_s"], "agreement": float((p32.argmax(1) == plow.argmax(1)).mean()),
            "exactness": bf16.exactness, "threads": torch.get_num_threads(), "mean_tokens": tokens,
            "max_diff": float(np.abs(p32 - plow).max())}


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f}, {len(values)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--suite", default="eec")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bf16-limit", type=int, default=None, help="bf16 vs fp32 on the first N texts only")
    parser.add_argument("--extra", default="", help="more `audit run` options, e.g. '--allow-random-head'")
    args = parser.parse_args()
    import pandas as pd

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            audit = audit_process(args.model, args.suite, args.data_dir, Path(tmp) / f"a{i}", args.extra.split())
            texts = pd.read_parquet(Path(tmp) / f"a{i}" / "cases.parquet")["text"].tolist()
            before = load()
            eng = engine_figures(args.model, texts, args.bf16_limit)
            eng["load"] = (before, load())
            rows.append((audit, eng))
            ph = audit["phases"]
            print(f"run {i + 1}: load {audit['load'][0]:.1f}->{audit['load'][1]:.1f} (audit), "
                  f"{eng['load'][0]:.1f}->{eng['load'][1]:.1f} (engine); {len(texts)} texts, {eng['threads']} threads")
            print("  audit phases: " + ", ".join(f"{k} {v:.2f}" for k, v in ph.items()))
            print(f"  whole audit process {audit['wall']:.1f} s | pipeline inference alone {eng['pipeline_seconds']:.1f} s"
                  f" -> {eng['pipeline_seconds'] / audit['wall']:.2f}x | non-inference {audit['non_inference']:.1f} s")
            print(f"  engine fp32 {eng['fp32_rate']:.1f}/s = {eng['fp32_rate'] / eng['bound']:.1%} of the FLOP bound "
                  f"({eng['bound']:.1f}/s, {eng['mean_tokens']:.1f} tokens) | bf16 exact {eng['bf16_rate']:.1f}/s = "
                  f"{eng['bf16_rate'] / eng['fp32_subset_rate']:.2f}x fp32, labels agree {eng['agreement']:.4%}, "
                  f"re-scored {eng['exactness']['rescored_share']:.1%} (bound {eng['exactness']['bound']:.4f})")
    print("summary (median, min, max):")
    print("  whole audit vs pipeline inference alone:", spread([e["pipeline_seconds"] / a["wall"] for a, e in rows]), "x")
    print("  non-inference seconds:", spread([a["non_inference"] for a, _ in rows]))
    print("  engine share of the FLOP bound:", spread([e["fp32_rate"] / e["bound"] for _, e in rows]))
    print("  bf16 exact / fp32:", spread([e["bf16_rate"] / e["fp32_subset_rate"] for _, e in rows]), "x; label agreement",
          spread([e["agreement"] for _, e in rows]))


if __name__ == "__main__":
    main()
