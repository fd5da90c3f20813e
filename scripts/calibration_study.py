"""Measured false-alarm and detection rates of the default gate on simulated models (audit/calibration.py).

    python scripts/calibration_study.py [--seeds 20] [--noise 0.3 0.45] [--suite identity names eec]

Prints, per suite and sentence-noise level: how often a fair model passes, how often a +0.05 shift of one
group or of one term fails naming that record, how a shift exactly at the bound is judged, and how a +0.08
shift of a group that appears in 6 of 40 families is judged. The README and the report quote these figures.
"""
from __future__ import annotations

import argparse
import time

from audit import calibration as cal
from audit.simulate import Effect, SimulatedModel


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--noise", type=float, nargs="+", default=[0.3, cal.NOISY])
    p.add_argument("--suite", nargs="+", default=["identity", "names", "eec"])
    args = p.parse_args()
    seeds = range(args.seeds)
    print(f"{'suite':<9} {'noise':>5}  {'scenario':<22} {'pass':>6} {'inconcl.':>8} {'fail':>6} {'named':>6}  s/audit")
    for suite in args.suite:
        cases, attributes = cal.suite_table([suite])
        for noise in args.noise:
            for sc in cal.scenarios(suite, noise):
                t = time.perf_counter()
                tally = cal.run(cases, attributes, sc, seeds)
                named = f"{tally.named}/{args.seeds}" if sc.expect else "-"
                print(f"{suite:<9} {noise:>5}  {sc.name:<22} {tally.rate('pass'):>6} {tally.rate('inconclusive'):>8} "
                      f"{tally.rate('fail'):>6} {named:>6}  {(time.perf_counter() - t) / args.seeds:.1f}", flush=True)
    tiny = cal.tiny_group_table()
    for shift in (0.0, 0.08):
        sc = cal.Scenario(f"tiny group z +{shift}", SimulatedModel([Effect({"g": "z"}, "sad", shift=shift)]))
        tally = cal.run(tiny, ["g"], sc, seeds)
        print(f"{'6 of 40':<9} {0.3:>5}  {sc.name:<22} {tally.rate('pass'):>6} {tally.rate('inconclusive'):>8} "
              f"{tally.rate('fail'):>6}", flush=True)


if __name__ == "__main__":
    main()
