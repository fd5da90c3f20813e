"""The rich console summary printed at the end of every run, and the one-line verdict.

It must stay legible in an 80-column CI log: each rule has three lines, the rule with its bound, its worst
case spelled out (suite, attribute, group, class), and that case's value, 95% interval, n and adjusted p.
Pieces are separated by spaces, so a long line wraps between words instead of losing them to an ellipsis.
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}


def describe_case(record: dict) -> str:
    """``identity · religion: atheist · class neutral`` from a metric record (empty parts left out)."""
    parts = [record.get("suite")]
    if record.get("attribute"):
        parts.append(f"{record['attribute']}: {record['group']}" if record.get("group") else record["attribute"])
    if record.get("class"):
        parts.append(f"class {record['class']}")
    if record.get("template"):
        parts.append(f"template {record['template']}")
    return " · ".join(str(p) for p in parts if p)


def describe_value(worst: dict) -> str:
    """``+0.0612 [0.0410, 0.0815] n 30 p_adj 0.001``."""
    if worst.get("value") is None:
        return "no value"
    text = f"{worst['value']:+.4f}"
    if worst.get("ci") and None not in worst["ci"]:
        text += f" [{worst['ci'][0]:.4f}, {worst['ci'][1]:.4f}]"
    if worst.get("n") is not None:
        text += f" n {worst['n']}"
    if worst.get("p_adjusted") is not None:
        text += f" p_adj {worst['p_adjusted']:.3g}"
    return text


def gate_table(results: dict) -> Table:
    records = {m["id"]: m for m in results.get("metrics", [])}
    table = Table(title="fairaudit gate", show_lines=True, expand=False)
    table.add_column("result", no_wrap=True)
    table.add_column("rule (metric bound) / worst case / value [95% interval] n p_adj", overflow="fold")
    for rule in results["gate"]["rules"]:
        worst = rule.get("worst") or {}
        bound = ", ".join(f"{k} {v}" for k, v in rule["bound"].items())
        case = describe_case(records[worst["id"]]) if worst.get("id") in records else str(worst.get("id", "no records"))
        table.add_row(f"[{STYLE[rule['verdict']]}]{rule['verdict']}[/]",
                      f"{escape(rule['name'])} [dim]({rule['metric']} {bound})[/]\n{escape(case)}\n"
                      f"= {describe_value(worst)}")
    return table


def print_summary(results: dict, out: Path, console: Console | None = None) -> None:
    console = console or Console(stderr=False, highlight=False)
    console.print(gate_table(results))
    run = results["run"]
    verdict = results["gate"]["verdict"]
    console.print(f"[{STYLE[verdict]}]{verdict.upper()}[/]: {run['cases']} cases in {run['wall_seconds']:.1f} s "
                  f"({run['cases_per_s']:.0f} cases/s end to end) · report {escape(str(out / 'report.html'))}",
                  markup=True)
