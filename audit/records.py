"""Metric records and the registry of metric families: every metric with its scale, formula and reference.

A *metric family* is a function over the scored case table (:class:`Scored`) that returns :class:`Metric`
records; it is registered with :func:`metric_family`, which names the metrics it produces with their
formula and reference (:class:`MetricInfo`). That registration is the one place the rest reads from: the
report's methodology section, the README's metric table (``python -m audit.records --markdown``), the gate's
metric names and the model card's words. The built-in families live in audit/metrics.py (matched
counterfactuals) and audit/slices.py (group slices); :data:`FAMILY_MODULES` lists the modules that register
families, and installed packages add theirs through the ``fairaudit.metrics`` entry-point group.

One :class:`Metric` travels from the metrics to the gate and the reports; ``to_dict`` is its results.json form
(typed in audit/results.py).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

FAMILY_MODULES = ["audit.metrics", "audit.slices", "audit.functional", "audit.robustness"]  # a new family: one module here (or an entry point)
ENTRY_POINTS = "fairaudit.metrics"


@dataclass(frozen=True)
class MetricInfo:
    kind: str     # counterfactual | group | auc | functional | robustness (the record's ``kind``)
    scale: str    # rate (0..1) | gap (>= 0) | signed (-1..1) | ratio (0..1)
    formula: str
    reference: str = ""
    words: str = ""   # what it means in plain words (model cards)
    role: str = ""    # contrast (matched group vs the others) | term (one term of a group vs the others) | gap
                      # (between-group gap) | "" (descriptive)
    family: str = ""  # filled in by the registration


@dataclass(frozen=True)
class Scored:
    """The scored case table a family computes over: one row per case with ``suite``, ``family``,
    ``template_id``, the attribute columns, ``pred``, ``y_true`` and one ``p_<label>`` column per class."""
    frame: pd.DataFrame
    labels: list[str]
    attributes: list[str]
    alpha: float = 0.05
    n_boot: int = 0
    seed: int = 0

    def slices(self) -> Iterator[tuple[str, str]]:
        """Every (suite, attribute) present in the table, in table order."""
        for suite in self.frame["suite"].unique():
            for attribute in self.attributes:
                if attribute in self.frame:
                    yield suite, attribute


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    about: str  # the method in words: units, intervals, tests (the report's methodology section)
    compute: Callable[..., list]  # (Scored, suite, attribute) -> [Metric] per slice, or (Scored) -> [Metric]
    metrics: tuple[str, ...]
    per_slice: bool = True


REGISTRY: dict[str, MetricInfo] = {}
FAMILIES: dict[str, Family] = {}
_imported: set[str] = set()  # family modules and entry points already loaded


def register_metric(name: str, info: MetricInfo) -> None:
    """One metric name with its formula; a name cannot mean two things."""
    if name in REGISTRY and REGISTRY[name] != info:
        raise ValueError(f"metric {name!r} is registered twice ({REGISTRY[name].family or 'REGISTRY'} and "
                         f"{info.family or 'REGISTRY'})")
    REGISTRY[name] = info


def metric_family(name: str, title: str, about: str, metrics: dict[str, MetricInfo],
                  per_slice: bool = True) -> Callable:
    """Decorator: register ``fn`` as the metric family ``name`` producing ``metrics``.

    ``per_slice=True``: ``fn(scored, suite, attribute)`` is called for every suite x attribute of the table;
    ``False``: ``fn(scored)`` once. Either returns :class:`Metric` records named in ``metrics``.
    """
    def register(fn: Callable) -> Callable:
        old = FAMILIES.get(name)
        if old and (old.compute.__module__, old.compute.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"metric family {name!r} is registered twice ({old.compute.__module__} and "
                             f"{fn.__module__})")
        infos = {m: replace(info, family=name) for m, info in metrics.items()}
        for m, info in infos.items():
            if old and m in REGISTRY and REGISTRY[m].family == name:
                del REGISTRY[m]  # a reloaded module re-registers its own names
            register_metric(m, info)
        FAMILIES[name] = Family(name, title, about, fn, tuple(metrics), per_slice)
        return fn
    return register


def unregister_family(name: str) -> None:
    """Remove a family and its metric names (tests that register a toy family clean up with this)."""
    family = FAMILIES.pop(name)
    for m in family.metrics:
        REGISTRY.pop(m, None)
    _imported.discard(family.compute.__module__)


def load_families() -> dict[str, Family]:
    """Import the modules that register families (:data:`FAMILY_MODULES`, then installed entry points), each once."""
    for module in FAMILY_MODULES:
        if module not in _imported:
            importlib.import_module(module)
            _imported.add(module)
    if ENTRY_POINTS not in _imported:
        for ep in md.entry_points(group=ENTRY_POINTS):
            ep.load()
        _imported.add(ENTRY_POINTS)
    return FAMILIES


def registry() -> dict[str, MetricInfo]:
    """Every registered metric name (loading the families first)."""
    load_families()
    return REGISTRY


def names(role: str) -> tuple[str, ...]:
    """Metric names of one role: ``contrast`` (the matched disparities) or ``gap`` (between-group gaps)."""
    return tuple(m for m, info in registry().items() if info.role == role)


def run_families(scored: Scored, families: list[str] | None = None) -> list:
    """Every record of the chosen families (default: all): per suite x attribute slice, then table-wide."""
    chosen = [f for f in load_families().values() if families is None or f.name in families]
    out = [m for suite, attribute in scored.slices() for f in chosen if f.per_slice
           for m in _checked(f, f.compute(scored, suite, attribute))]
    return out + [m for f in chosen if not f.per_slice for m in _checked(f, f.compute(scored))]


def _checked(family: Family, records: list) -> list:
    """A family may only produce the metrics it registered (else the gate and the reports would not know them)."""
    stray = next((m.metric for m in records if m.metric not in family.metrics), None)
    if stray is not None:
        raise ValueError(f"metric family {family.name!r} returned a {stray!r} record, which it did not register "
                         f"(it registered {', '.join(family.metrics)})")
    return records


def methodology(present: set[str] | None = None) -> list[dict]:
    """The registered families (those with a record among ``present`` metric names, if given) with their
    metrics' formulas and references: the report's methodology section."""
    out = []
    for f in load_families().values():
        if present is not None and not present & set(f.metrics):
            continue
        out.append({"name": f.name, "title": f.title, "about": f.about,
                    "metrics": [{"name": m, **asdict(REGISTRY[m])} for m in f.metrics if m in REGISTRY]})
    loose = [m for m, info in REGISTRY.items() if not info.family and (present is None or m in present)]
    if loose:  # registered by name alone (``REGISTRY[name] = MetricInfo(...)``), computed elsewhere
        out.append({"name": "other", "title": "Other registered metrics", "about": "",
                    "metrics": [{"name": m, **asdict(REGISTRY[m])} for m in loose]})
    return out


def markdown_table() -> str:
    """The README's metric table, generated from the registry."""
    rows = ["| metric | family | scale | formula | reference |", "| --- | --- | --- | --- | --- |"]
    kinds = ("counterfactual", "group", "auc", "functional", "robustness")  # a stable order, whatever was imported first
    ordered = sorted(registry().items(), key=lambda item: kinds.index(item[1].kind) if item[1].kind in kinds else 9)
    for name, info in ordered:
        cells = [f"`{name}`", info.family or info.kind, info.scale, info.formula, info.reference or "—"]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


@dataclass
class Metric:
    metric: str
    kind: str  # counterfactual | group | auc
    suite: str
    attribute: str
    value: float | None
    n: int
    ci: tuple[float | None, float | None] | None = None
    group: str | None = None
    cls: str | None = None
    template: str | None = None
    test: str | None = None
    p_value: float | None = None
    p_wilcoxon: float | None = None
    p_adjusted: float | None = None
    n_min: int | None = None  # observations in the smallest group compared (min_n applies to it)
    details: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        parts = [self.metric, self.suite, self.attribute, self.group, self.cls, self.template]
        return "/".join(p for p in parts if p)

    @property
    def description(self) -> str:
        """"female vs male: p(sad) +0.060": who is compared with whom, on what, in which direction."""
        if self.value is None:
            return self.id
        what = {"mean_shift": f"p({self.cls})", "label_shift": f"rate of label {self.cls}",
                "flip_rate_difference": "label flips", "term_shift": f"p({self.cls})"}.get(self.metric)
        if what and self.group and "term_of" in self.details:
            return f"{self.group} ({self.details['term_of']}) vs {self.details.get('vs')}: {what} {self.value:+.3f}"
        if what and self.group:
            return f"{self.group} vs {self.details.get('vs', 'the others')}: {what} {self.value:+.3f}"
        if self.metric in names("gap") and "highest" in self.details:
            return (f"{self.metric} {self.cls or ''}: {self.details['highest']} vs {self.details['lowest']} "
                    f"{self.value:.3f}").replace("  ", " ")
        return f"{self.metric} {' '.join(filter(None, [self.group, self.cls]))} {self.value:.3f}".replace("  ", " ")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["id"] = self.id
        d["description"] = self.description
        d["class"] = d.pop("cls")
        d["ci"] = list(self.ci) if self.ci else None
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in d.items()}


def prob_matrix(frame: pd.DataFrame, labels: list[str]) -> np.ndarray:
    return frame[[f"p_{label}" for label in labels]].to_numpy(dtype=float)


def clip_interval(ci: tuple, value: float, lowest: float = 0.0) -> tuple:
    """The interval clipped to the metric's range [lowest, 1], containing its estimate (guards rounding)."""
    lo, hi = ci
    if lo is None:
        return None, None
    return float(max(lowest, min(lo, value))), float(min(1.0, max(hi, value)))


README_TABLE = re.compile(r"(<!-- metrics:begin.*?-->\n)(.*?)(<!-- metrics:end -->)", re.S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.records", description="The registered metrics.")
    parser.add_argument("--markdown", action="store_true", help="print the README's metric table")
    parser.add_argument("--readme", metavar="README.md", help="replace the table between the file's metrics markers")
    args = parser.parse_args(argv)
    if args.readme:
        path = Path(args.readme)
        text = path.read_text(encoding="utf-8")
        if not README_TABLE.search(text):
            print(f"error: {path}: no <!-- metrics:begin --> ... <!-- metrics:end --> markers", file=sys.stderr)
            return 2
        path.write_text(README_TABLE.sub(lambda m: m[1] + markdown_table() + m[3], text, count=1), encoding="utf-8")
        print(f"updated the metric table in {path}")
    elif args.markdown:
        print(markdown_table(), end="")
    else:
        for name, info in registry().items():
            print(f"{name:<22} {info.family or info.kind:<16} {info.scale:<8} {info.formula}")
    return 0


if __name__ == "__main__":  # the families register into the imported module, not into this __main__ copy
    from audit.records import main as _main

    raise SystemExit(_main())
