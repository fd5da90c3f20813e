"""How well a mitigation worked: a mitigated model against its unmitigated control (same data, seed and
schedule; ``make mitigate`` trains both), on the figures of the mitigation issue's targets.

Per run: SMILE validation weighted and macro F1 (``metrics.json``), the largest |mean_shift| on held-out
terms and the gate verdicts (the audit's ``results.json``). Over seeds: the mean, sample standard deviation
and range of the differences mitigated - control. SMILE's validation split has 1 ``disgust``, 5 ``sad`` and
5 ``surprise`` tweets, so one tweet moves macro F1 by about 0.05: a single seed's difference is mostly noise,
and the targets are judged on the mean over seeds.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import mean, stdev

from core.errors import InputError


def outcome(model_dir: str | Path, audit_dir: str | Path) -> dict:
    """The figures the issue's targets are about: SMILE validation F1 (from ``metrics.json``), the largest
    |mean_shift| of the audit, the gate verdicts of its rules, and the training settings."""
    metrics = json.loads((Path(model_dir) / "metrics.json").read_text())
    results = json.loads((Path(audit_dir) / "results.json").read_text())
    shifts = [m for m in results["metrics"] if m["metric"] == "mean_shift" and m["template"] is None]
    if not shifts:
        raise InputError(f"{audit_dir}/results.json: no mean_shift record (audit it with counterfactual suites)")
    worst = max(shifts, key=lambda m: abs(m["value"]))
    val = metrics["final"]["val"]
    return {"f1_weighted": val["f1_weighted"], "f1_macro": val["f1_macro"], "accuracy": val["accuracy"],
            "max_abs_mean_shift": abs(worst["value"]), "worst_shift": worst["id"],
            "gate": {r["name"]: r["verdict"] for r in results["gate"]["rules"]},
            "shift_rule": next((r["verdict"] for r in results["gate"]["rules"] if r.get("metric") == "mean_shift"),
                               None),
            "config": metrics.get("config", {})}


NOT_SCHEDULE = {"out", "mitigate", "clp_weight", "clp_pairs", "heldout_seed"}  # config keys a control may differ in


def schedule_differences(before: dict, after: dict) -> list[str]:
    """Training settings, other than the output folder and the mitigation itself, in which two runs' configs
    differ: a fair control has none (same data, seed, epochs, learning rate, ...)."""
    keys = sorted((set(before) | set(after)) - NOT_SCHEDULE)
    return [f"{k} {before.get(k)} vs {after.get(k)}" for k in keys if before.get(k) != after.get(k)]


def print_outcome(before: dict, after: dict) -> None:
    """A before/after Markdown table (what the README's "Mitigation" section shows); a warning on stderr when
    the two models were not trained with the same settings apart from mitigation."""
    differences = schedule_differences(before.get("config", {}), after.get("config", {}))
    if differences:
        print(f"warning: before and after differ in more than mitigation ({'; '.join(differences)}): "
              "not a controlled comparison", file=sys.stderr)
    print("| | before | after |\n| --- | ---: | ---: |")
    for key in ("f1_weighted", "f1_macro", "accuracy", "max_abs_mean_shift"):
        print(f"| {key} | {before[key]:.4f} | {after[key]:.4f} |")
    print(f"| worst mean_shift | {before['worst_shift']} | {after['worst_shift']} |")
    for rule, verdict in before["gate"].items():
        print(f"| gate: {rule} | {verdict} | {after['gate'].get(rule)} |")
    change = 1 - after["max_abs_mean_shift"] / before["max_abs_mean_shift"]
    print(f"\nlargest |mean_shift| {'fell' if change >= 0 else 'rose'} by {abs(change):.0%}; "
          f"weighted F1 {after['f1_weighted'] - before['f1_weighted']:+.4f}, "
          f"macro F1 {after['f1_macro'] - before['f1_macro']:+.4f}")


# The targets, each "at least": weighted F1 within 0.02 and macro F1 within 0.05 of the control, the
# largest held-out |mean_shift| down by at least half; and the probability-shift rule passing on held-out terms.
TARGETS = {"d_f1_weighted": -0.02, "d_f1_macro": -0.05, "shift_reduction": 0.5}


def seed_rows(runs: list[str | Path]) -> list[dict]:
    """One row per run folder of ``make mitigate`` (``<run>/control``, ``<run>/mitigated`` and their held-out
    audits ``<run>/control-heldout``, ``<run>/mitigated-heldout``): the mitigated model minus its control."""
    rows = []
    for run in map(Path, runs):
        control, mitigated = outcome(run / "control", run / "control-heldout"), \
            outcome(run / "mitigated", run / "mitigated-heldout")
        differences = schedule_differences(control["config"], mitigated["config"])
        if differences:
            raise InputError(f"{run}: control and mitigated model differ in more than mitigation "
                             f"({'; '.join(differences)})")
        rows.append({"run": run.name, "seed": control["config"].get("seed"), "control": control,
                     "mitigated": mitigated,
                     "d_f1_weighted": mitigated["f1_weighted"] - control["f1_weighted"],
                     "d_f1_macro": mitigated["f1_macro"] - control["f1_macro"],
                     "shift_reduction": 1 - mitigated["max_abs_mean_shift"] / control["max_abs_mean_shift"]})
    return rows


def summarise(rows: list[dict]) -> dict:
    """Mean, sample standard deviation (``None`` for one run) and range of each difference over the runs, and
    whether each target holds on the mean (the shift rule: in every run)."""
    out = {}
    for key, limit in TARGETS.items():
        values = [r[key] for r in rows]
        out[key] = {"mean": mean(values), "sd": stdev(values) if len(values) > 1 else None,
                    "min": min(values), "max": max(values), "met": mean(values) >= limit}
    out["shift_rule"] = {"passing": sum(r["mitigated"]["shift_rule"] == "pass" for r in rows), "runs": len(rows),
                         "met": all(r["mitigated"]["shift_rule"] == "pass" for r in rows)}
    return out


def print_seeds(rows: list[dict]) -> None:
    """The per-seed Markdown table (control -> mitigated, held-out terms) and the mean +- sd of the differences."""
    print("| seed | weighted F1 | macro F1 | largest held-out \\|mean_shift\\| | probability-shift rule |\n"
          "| ---: | --- | --- | --- | --- |")
    for r in rows:
        c, m = r["control"], r["mitigated"]
        print(f"| {r['seed']} | {c['f1_weighted']:.4f} -> {m['f1_weighted']:.4f} ({r['d_f1_weighted']:+.4f}) "
              f"| {c['f1_macro']:.4f} -> {m['f1_macro']:.4f} ({r['d_f1_macro']:+.4f}) "
              f"| {c['max_abs_mean_shift']:.3f} -> {m['max_abs_mean_shift']:.3f} ({-r['shift_reduction']:+.0%}) "
              f"| {c['shift_rule']} -> {m['shift_rule']} |")
    summary = summarise(rows)
    print()
    for key, label in (("d_f1_weighted", "weighted F1"), ("d_f1_macro", "macro F1"),
                       ("shift_reduction", "reduction of the largest held-out |mean_shift|")):
        s, f = summary[key], "{:.0%}" if key == "shift_reduction" else "{:+.4f}"
        sd = "n/a" if s["sd"] is None else f.format(s["sd"]).lstrip("+")
        print(f"{label}: mean {f.format(s['mean'])}, sd {sd}, range {f.format(s['min'])} .. {f.format(s['max'])} "
              f"over {len(rows)} seed(s); target >= {f.format(TARGETS[key])}: {'met' if s['met'] else 'MISSED'}")
    s = summary["shift_rule"]
    print(f"probability-shift rule on held-out terms passes for {s['passing']} of {s['runs']} mitigated model(s): "
          f"{'met' if s['met'] else 'MISSED'}")
