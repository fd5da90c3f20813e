"""``audit compare OLD NEW``: the release report of two saved audits (audit/release.py).

Every gated record of the new run is compared with the old run's: new - old, paired over families when both
runs scored the same sentences (their ``cases.parquet``), else unpaired, with its interval and adjusted p,
worst first; plus the matched sentences whose prediction changed most. The verdict is the worst "no
regression" check; runs with nothing in common (other suites, attributes or labels) are inconclusive, never a
pass.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from audit import gate as gates, release
from audit.run import load_cases, load_results, saved_baseline
from reports.files import mark, write_text
from reports.render import render


def compare(old_dir: str, new_dir: str, out: str | None = None, margin: float | None = None) -> str:
    old, new = load_results(old_dir), load_results(new_dir)
    gate, _ = gates.load_gate(new.run.gate_file)
    if margin is not None:
        gate.baseline_margin = margin
        for rule in gate.rules:
            rule.baseline_margin = None
    new_cases = load_cases(new_dir, new.model.labels) if (Path(new_dir) / "cases.parquet").is_file() else None
    baseline = saved_baseline(old_dir, old, new_cases, new.model.labels, new.attributes) if new_cases is not None \
        else release.Baseline(old.record_dicts(), {}, old_dir, "unpaired: the new run has no cases.parquet")
    records = new.record_dicts()
    checks = [r for rule, r in zip(gate.rules, gates.regression(gate, records, baseline))
              if any(rule.selects(m) for m in records)]  # a rule that selects nothing here is not this comparison's
    verdict = ("fail" if any(r["verdict"] == "fail" for r in checks) else
               "inconclusive" if not baseline.comparisons or any(r["verdict"] == "inconclusive" for r in checks)
               else "pass")
    context = {"old": old, "new": new, "old_dir": old_dir, "new_dir": new_dir, "regressions": checks,
               "verdict": verdict, "rel": release.section(baseline),
               "fingerprint_changed": old.model.fingerprint != new.model.fingerprint}
    target = Path(out or new_dir)
    write_text(target / "compare.html", render("compare.html.j2", **context))
    write_text(target / "compare.md", render("compare.md.j2", **context))
    mark(target)
    _print(old.model.name, new.model.name, baseline, checks, verdict, target)
    return verdict


def _print(old_name: str, new_name: str, baseline: release.Baseline, checks: list[dict], verdict: str,
           target: Path) -> None:
    console = Console(highlight=False)
    table = Table(title=f"{old_name} -> {new_name} ({baseline.note})")
    for col in ("record", "old", "new", "new - old [interval]", "adj. p", "result"):
        table.add_column(col, overflow="fold")
    for c in baseline.comparisons[:15]:
        ci = f" [{c['ci'][0]:+.4f}, {c['ci'][1]:+.4f}]" if c.get("ci") else ""
        p = "—" if c.get("p_adjusted") is None else f"{c['p_adjusted']:.2g}"
        table.add_row(c["id"], f"{c['old']:.4f}", f"{c['new']:.4f}", f"{c['delta']:+.4f}{ci}", p, c["verdict"])
    console.print(table)
    for r in checks:
        console.print(f"{r['verdict'].upper():<5} {r['name']}: {r['reason']}")
    console.print(f"compare: {verdict.upper()} · {target / 'compare.html'}")
