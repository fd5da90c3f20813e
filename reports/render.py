"""The jinja2 environment: autoescaping on for every template, so user and model text can never become markup."""
from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports import charts


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(line_chart=charts.line_chart, bar_chart=charts.bar_chart, heat_map=charts.heat_map,
                       forest_plot=charts.forest_plot)
    env.filters["num"] = lambda v, d=3: "—" if v is None else (f"{v:.{d}f}" if isinstance(v, float) else str(v))
    env.filters["pval"] = lambda v: "—" if v is None else ("<0.001" if v < 0.001 else f"{v:.3f}")
    env.filters["pct"] = lambda v, d=1: "—" if v is None else f"{100 * v:.{d}f}%"
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
