"""Compare two audits (two model releases): what moved, and which gated disparities regressed.

The verdict is PASS only when gated records were measured in both runs and none regressed; runs with nothing
in common (other suites, attributes or labels) are inconclusive.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from audit import gate as gates
from audit.results import Results
from audit.run import load_results
from reports.files import write_text
from reports.render import render


def diff_metrics(old: Results, new: Results, gate: gates.Gate) -> list[dict]:
    """Gated metric records present in both runs, largest change first."""
    before = {m.id: m for m in old.metrics}
    rows = []
    for m, record in zip(new.metrics, new.record_dicts()):
        b = before.get(m.id)
        rule = next((r for r in gate.rules if r.selects(record)), None)
        if rule is None or b is None or m.value is None or b.value is None:
            continue
        rows.append({"id": m.id, "rule": rule.name, "old": b.value, "new": m.value,
                     "delta": m.value - b.value, "old_ci": b.ci, "new_ci": m.ci})
    return sorted(rows, key=lambda r: -abs(r["delta"]))


def comparable(result: dict, selected: list[dict], old: Results) -> dict:
    """A regression check without one record measured in both runs proves nothing: inconclusive, never pass."""
    before = {m.id for m in old.metrics if m.value is not None}
    if result["verdict"] == "pass" and not any(m["id"] in before and m.get("value") is not None for m in selected):
        result = {**result, "verdict": "inconclusive",
                  "reason": "no record of this rule was measured in both runs (other suites, attributes or labels?)"}
    return result


def compare(old_dir: str, new_dir: str, out: str | None = None, margin: float | None = None) -> str:
    old, new = load_results(old_dir), load_results(new_dir)
    gate, _ = gates.load_gate(new.run.gate_file)
    if margin is not None:
        gate.baseline_margin = margin
        for rule in gate.rules:
            rule.baseline_margin = None
    new_records, old_records = new.record_dicts(), old.record_dicts()  # the gate's rules judge plain records
    regressions = []
    for rule in gate.rules:
        selected = [m for m in new_records if rule.selects(m)]
        if selected:  # a rule that selects nothing in the new run is not this comparison's business
            regressions.append(comparable(gates.regression(rule, gate, selected, old_records), selected, old))
    rows = diff_metrics(old, new, gate)
    verdict = ("fail" if any(r["verdict"] == "fail" for r in regressions) else
               "inconclusive" if not rows or any(r["verdict"] == "inconclusive" for r in regressions) else "pass")
    context = {"old": old, "new": new, "old_dir": old_dir, "new_dir": new_dir, "rows": rows[:200],
               "regressions": regressions, "verdict": verdict,
               "fingerprint_changed": old.model.fingerprint != new.model.fingerprint}
    target = Path(out or new_dir)
    write_text(target / "compare.html", render("compare.html.j2", **context))
    write_text(target / "compare.md", render("compare.md.j2", **context))

    console = Console(highlight=False)
    table = Table(title=f"{old.model.name} -> {new.model.name}")
    for col in ("metric", "old", "new", "change"):
        table.add_column(col)
    for r in rows[:15]:
        table.add_row(r["id"], f"{r['old']:.4f}", f"{r['new']:.4f}", f"{r['delta']:+.4f}")
    console.print(table)
    for r in regressions:
        console.print(f"{r['verdict'].upper():<5} {r['name']}: {r['reason']}")
    console.print(f"compare: {verdict.upper()} · {target / 'compare.html'}")
    return verdict
