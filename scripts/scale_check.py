"""An audit at scale with a trivial model: wall time, peak memory and where the time goes (issue 19). Figures.

    python scripts/scale_check.py --sizes 10000,100000,1000000 [--out runs/scale]

For each size N: a CSV of N distinct real-text rows (half of them with a gendered word, so the gender swap makes
a counterfactual family of them; a label column and a group column), audited by ``predict`` below (a
callable: p(pos) from the text's length, no model) with ``--data``, ``--label-col``, ``--group-col`` and
``--robustness none``, in a fresh process. Prints the cases, wall seconds, seconds per 1,000 cases (flat
when the audit is linear), the child's peak resident memory and the phases of ``run.timings``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
labels = ["neg", "pos"]
WORDS = ["she", "he", "her", "his", "the woman", "the man", "my sister", "my brother"]


def predict(texts: list[str]) -> np.ndarray:
    """A trivial model: p(pos) from the text's length (so that the scores differ between texts)."""
    p = np.fromiter((0.2 + 0.6 * ((len(t) * 7919) % 97) / 96 for t in texts), dtype=float, count=len(texts))
    return np.stack([1 - p, p], axis=1)


predict.labels = labels


def write_data(path: Path, n: int) -> None:
    import pandas as pd

    i = np.arange(n)
    subject = np.where(i % 2 == 0, np.array(WORDS)[i % len(WORDS)], "the visitor")
    text = pd.Series(subject).str.cat([f"wrote review number {k} of the museum" for k in i], sep=" ")
    pd.DataFrame({"text": text, "label": np.where(i % 3 == 0, "pos", "neg"),
                  "group": np.where(i % 5 < 2, "a", "b")}).to_csv(path, index=False)


def audit(n: int, out: Path) -> dict:
    data = out / f"data-{n}.csv"
    if not data.exists():
        write_data(data, n)
    cmd = [sys.executable, "-m", "audit", "run", "--model", f"{Path(__file__).resolve()}:predict", "--data",
           str(data), "--label-col", "label", "--group-col", "group", "--robustness", "none", "--cache-dir", "",
           "--out", str(out / f"audit-{n}"), "-q", "--no-fail"]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far, MiB
    r = json.loads((out / f"audit-{n}" / "results.json").read_text())
    return {"rows": n, "cases": r["run"]["cases"], "wall": wall, "peak_mb": peak, "load": load,
            "phases": r["run"]["timings"]["phases"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--out", default=str(ROOT / "runs" / "scale"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for n in (int(s) for s in args.sizes.split(",")):
        f = audit(n, out)
        print(f"{f['rows']:>9} rows {f['cases']:>9} cases  {f['wall']:8.1f} s  {1000 * f['wall'] / f['cases']:6.2f} s/1k cases"
              f"  peak {f['peak_mb']:7.0f} MiB  load {f['load']:.1f}  | "
              + ", ".join(f"{k} {v:.1f}" for k, v in f["phases"].items()), flush=True)


if __name__ == "__main__":
    main()
