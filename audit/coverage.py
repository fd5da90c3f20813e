"""Coverage study: do the 95% intervals cover the true value 95% of the time?

``python -m audit.coverage --runs 200`` audits a simulated model (audit/simulate.py) with planted bias on a
suite ``runs`` times with fresh family effects and noise, and prints, per metric, the share of intervals that
contain the true value. The truth of a metric that is a mean (shifts, rates, flip rates) is its average over
all runs (unbiased estimators; with 200 runs its own error is a fraction of an interval's width); the truth of
a between-groups gap is the gap between the true group rates. Families are the clusters that are redrawn:
the study checks the cluster-robust intervals, not only the binomial part.
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np

from core.cases import attributes_of, build_cases
from audit.metrics import all_metrics
from audit.simulate import LABELS, Effect, SimulatedModel
from core.suites import select_suites

MEANS = ("mean_shift", "label_shift", "flip_rate_difference", "flip_rate", "group_flip_rate", "selection_rate",
         "mean_prob", "ctf_gap")
GAPS = {"dp_difference": "selection_rate", "dp_ratio": "selection_rate"}
PLANTED = [Effect({"gender": "female"}, "sad", shift=0.04), Effect({"gender×race": "male×Asian"}, "angry", flip=0.1)]


def _one_run(r: int, suite: str, seed: int, effects: list[Effect], slices: bool) -> list[tuple]:
    suites = select_suites([suite])
    cases, attributes = build_cases(suites), attributes_of(suites)
    scored = SimulatedModel(effects).score(cases, seed + r)
    return [(m.id, m.value, m.ci[0], m.ci[1]) for m in all_metrics(scored, LABELS, attributes, seed=seed + r,
                                                                    slices=slices)
            if m.template is None and m.value is not None and m.ci and m.ci[0] is not None
            and (m.metric in MEANS or m.metric in GAPS)]


def study(runs: int = 200, suite: str = "names", seed: int = 0, effects: list[Effect] | None = None,
          slices: bool = True, jobs: int = 1) -> dict[str, dict]:
    """Coverage per metric: ``{metric: {"coverage": share, "intervals": count}}``."""
    work = partial(_one_run, suite=suite, seed=seed, effects=PLANTED if effects is None else effects, slices=slices)
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(work, range(runs)))
    else:
        results = [work(r) for r in range(runs)]
    seen: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for rows in results:
        for key, value, lo, hi in rows:
            seen[key].append((value, lo, hi))
    truth = {key: float(np.mean([v for v, _, _ in obs])) for key, obs in seen.items() if key.split("/")[0] in MEANS}
    for key in [k for k in seen if k.split("/")[0] in GAPS]:
        metric, suite_, attribute, cls = key.split("/")
        rates = [t for k, t in truth.items() if k.startswith(f"{GAPS[metric]}/{suite_}/{attribute}/")
                 and k.endswith(f"/{cls}")]
        truth[key] = max(rates) - min(rates) if metric == "dp_difference" else min(rates) / max(rates)
    out: dict[str, dict] = {}
    for metric in MEANS + tuple(GAPS):
        hits = [lo - 1e-12 <= truth[k] <= hi + 1e-12 for k, obs in seen.items() if k.split("/")[0] == metric
                for _, lo, hi in obs]
        if hits:
            out[metric] = {"coverage": float(np.mean(hits)), "intervals": len(hits)}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m audit.coverage", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--suite", default="names")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = study(args.runs, args.suite, args.seed, jobs=args.jobs)
    print(f"coverage of 95% intervals over {args.runs} simulated audits of suite {args.suite!r} "
          f"({time.perf_counter() - start:.0f} s); planted: " + "; ".join(
              f"{e.where} {e.cls} shift {e.shift} flip {e.flip}" for e in PLANTED))
    for metric, row in result.items():
        print(f"  {metric:22s} {100 * row['coverage']:5.1f}%  ({row['intervals']} intervals)")


if __name__ == "__main__":
    main()
