"""The rich console summary printed at the end of every run, and the one-line verdict."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}


def print_summary(results: dict, out: Path) -> None:
    console = Console(stderr=False, highlight=False)
    table = Table(title="fairaudit gate", show_lines=False)
    for col in ("rule", "bound", "worst case", "value", "result"):
        table.add_column(col)
    for rule in results["gate"]["rules"]:
        worst = rule.get("worst") or {}
        value = worst.get("value")
        table.add_row(rule["name"], ", ".join(f"{k} {v}" for k, v in rule["bound"].items()), str(worst.get("id", "—")),
                      "—" if value is None else f"{value:.4f}", f"[{STYLE[rule['verdict']]}]{rule['verdict']}[/]")
    console.print(table)
    run = results["run"]
    verdict = results["gate"]["verdict"]
    console.print(f"[{STYLE[verdict]}]{verdict.upper()}[/]: {results['run']['cases']} cases in {run['wall_seconds']:.1f} s "
                  f"({run['cases_per_s']:.0f} cases/s end to end) · report {out / 'report.html'}", markup=True)
