"""Compare two audits (two model releases): what moved, and which gated disparities regressed."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from audit import gate as gates
from audit.run import load_results
from reports.files import write_text
from reports.render import render


def diff_metrics(old: dict, new: dict, gate: gates.Gate) -> list[dict]:
    """Gated metric records present in both runs, largest change first."""
    before = {m["id"]: m for m in old["metrics"]}
    rows = []
    for m in new["metrics"]:
        b = before.get(m["id"])
        rule = next((r for r in gate.rules if r.selects(m)), None)
        if rule is None or b is None or m.get("value") is None or b.get("value") is None:
            continue
        rows.append({"id": m["id"], "rule": rule.name, "old": b["value"], "new": m["value"],
                     "delta": m["value"] - b["value"], "old_ci": b.get("ci"), "new_ci": m.get("ci")})
    return sorted(rows, key=lambda r: -abs(r["delta"]))


def compare(old_dir: str, new_dir: str, out: str | None = None, margin: float | None = None) -> str:
    old, new = load_results(old_dir), load_results(new_dir)
    gate, _ = gates.load_gate(new["run"].get("gate_file"))
    if margin is not None:
        gate.baseline_margin = margin
        for rule in gate.rules:
            rule.baseline_margin = None
    regressions = [gates.regression(rule, gate, [m for m in new["metrics"] if rule.selects(m)], old["metrics"])
                   for rule in gate.rules]
    verdict = "fail" if any(r["verdict"] == "fail" for r in regressions) else "pass"
    rows = diff_metrics(old, new, gate)
    context = {"old": old, "new": new, "old_dir": old_dir, "new_dir": new_dir, "rows": rows[:200],
               "regressions": regressions, "verdict": verdict,
               "fingerprint_changed": old["model"]["fingerprint"] != new["model"]["fingerprint"]}
    target = Path(out or new_dir)
    write_text(target / "compare.html", render("compare.html.j2", **context))
    write_text(target / "compare.md", render("compare.md.j2", **context))

    console = Console(highlight=False)
    table = Table(title=f"{old['model']['name']} -> {new['model']['name']}")
    for col in ("metric", "old", "new", "change"):
        table.add_column(col)
    for r in rows[:15]:
        table.add_row(r["id"], f"{r['old']:.4f}", f"{r['new']:.4f}", f"{r['delta']:+.4f}")
    console.print(table)
    for r in regressions:
        console.print(f"{r['verdict'].upper():<5} {r['name']}: {r['reason']}")
    console.print(f"compare: {verdict.upper()} · {target / 'compare.html'}")
    return verdict
