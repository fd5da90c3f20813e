"""One audit, end to end: cases -> predictions -> metrics -> verdicts -> ``results.json`` and the reports."""
from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from audit import gate as gates
from audit.cases import attributes_of, build_cases, finalize
from audit.metrics import all_metrics
from audit.models import load_model
from audit.perturb import perturb_texts
from audit.predict import PredictionCache, score
from audit.suites import DEFAULT_SUITES, load_suites, select_suites
from finetune.data import BUILTIN, load_data, read_table, require_columns
from finetune.errors import InputError
from reports.files import write_json, write_parquet

SCHEMA = "fairaudit.results/1"


@dataclass
class AuditOptions:
    model: str
    out: str
    suites: list[str] = field(default_factory=lambda: list(DEFAULT_SUITES))
    templates: list[str] = field(default_factory=list)
    data: str | None = None
    data_dir: str | None = None
    text_col: str = "text"
    label_col: str | None = None
    group_col: str | None = None
    split: str | None = None
    label_map: dict[str, str] = field(default_factory=dict)
    labels: list[str] | None = None
    max_cases: int | None = None
    seed: int = 0
    n_boot: int = 0
    gate: str | None = None
    baseline: str | None = None
    allow_inconclusive: bool = False
    cache_dir: str | None = ".fairaudit-cache"
    device: str = "auto"
    precision: str = "auto"
    max_tokens: int = 8192
    allow_pickle: bool = False
    trust_remote_code: bool = False
    progress: bool = True


def parse_label_map(text: str | None) -> dict[str, str]:
    """``joy=happy,anger=angry``: expected labels of the suites -> the model's labels."""
    out = {}
    for part in filter(None, (text or "").split(",")):
        if "=" not in part:
            raise InputError(f"--label-map: {part!r} is not source=target")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def data_cases(opts: AuditOptions, all_suites: dict) -> tuple[pd.DataFrame, dict, dict]:
    """Perturbation families of a data set's texts, plus its rows as a group slice when ``--group-col``."""
    if opts.data in BUILTIN:
        data = load_data(opts.data, opts.data_dir)
        split = opts.split or ("test" if "test" in data.splits else "val")
        s = data.split(split)
        texts, labels, groups = s.texts, [data.labels[i] for i in s.labels], None
        source = {"name": opts.data, "split": split, "rows": len(texts)}
    else:
        path = Path(opts.data)
        frame = read_table(path)
        require_columns(frame, [opts.text_col, opts.label_col or "", opts.group_col or ""], str(path))
        bad = frame[opts.text_col].isna()
        if bad.any():
            raise InputError(f"{path}: row {int(bad.to_numpy().nonzero()[0][0]) + 1}: column {opts.text_col!r} is empty or NaN")
        texts = frame[opts.text_col].astype(str).tolist()
        labels = frame[opts.label_col].astype(str).tolist() if opts.label_col else None
        groups = frame[opts.group_col] if opts.group_col else None
        if groups is not None and groups.isna().all():
            raise InputError(f"{path}: column {opts.group_col!r} is empty: no group to compare")
        source = {"name": path.name, "path": str(path), "rows": len(texts)}
    if not texts:
        raise InputError(f"data set {opts.data}: no rows")
    perturbed, coverage = perturb_texts(texts, all_suites, labels, source=source["name"], seed=opts.seed)
    parts = [perturbed]
    if groups is not None:
        attr = opts.group_col
        rows = pd.DataFrame({"case_id": [f"data:{i}" for i in range(len(texts))], "suite": "data",
                             "template": "(data set row)", "template_id": "data", "family": [f"data:{i}" for i in range(len(texts))],
                             "text": texts, "expectation": "label" if labels else "none",
                             "expected_label": labels, "source_row": range(len(texts)), attr: groups.astype("object")})
        parts.append(rows)
        if groups.dropna().nunique() < 2:
            raise InputError(f"{opts.data}: column {attr!r} has fewer than two groups: nothing to compare")
    parts = [p for p in parts if not p.empty] or [perturbed]
    return pd.concat(parts, ignore_index=True), coverage, source


def run_audit(opts: AuditOptions) -> dict:
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    gate, gate_source = gates.load_gate(opts.gate)
    baseline = load_results(opts.baseline)["metrics"] if opts.baseline else None
    all_suites = load_suites(opts.templates)
    suites = select_suites(opts.suites, available=all_suites) if opts.suites else []
    cases = build_cases(suites, opts.max_cases, opts.seed)
    coverage, source = {}, None
    if opts.data:
        extra, coverage, source = data_cases(opts, all_suites)
        cases = pd.concat([cases, extra], ignore_index=True) if not cases.empty else extra
    if cases.empty:
        raise InputError("no cases to score: choose a --suite or give --data with something to swap")
    attributes = [a for a in dict.fromkeys(attributes_of(list(all_suites.values())) + ["gender"] +
                                           ([opts.group_col] if opts.group_col else [])) if a in cases.columns]
    cases = finalize(cases, attributes, unique=["family", "text"])  # each part is de-duplicated already

    model = load_model(opts.model, opts.labels, device=opts.device, precision=opts.precision,
                       allow_pickle=opts.allow_pickle, trust_remote_code=opts.trust_remote_code)
    gates.check_selectors(gate, gate_source, gates.names_in_run(cases, attributes, model.labels))
    cache = PredictionCache(Path(opts.cache_dir) / "predictions.sqlite") if opts.cache_dir else None
    try:
        probs, timing = score(model, cases["text"].tolist(), cache, opts.max_tokens, opts.progress)
    finally:
        if cache:
            cache.close()
    labels = model.labels
    cases["pred"] = [labels[i] for i in probs.argmax(axis=1)]
    for i, label in enumerate(labels):
        cases[f"p_{label}"] = probs[:, i]
    mapped = cases["expected_label"].map(lambda x: None if x is None else opts.label_map.get(x, x))
    cases["y_true"] = mapped.where(mapped.isin(labels), None)

    metrics = [m.to_dict() for m in all_metrics(cases, labels, attributes, opts.n_boot, gate.alpha, opts.seed,
                                                gate.correction)]
    verdicts = gates.evaluate(gate, metrics, baseline)
    verdicts["allow_inconclusive"] = opts.allow_inconclusive
    wall = time.perf_counter() - started
    results = {
        "schema": SCHEMA,
        "run": {"started_at": started_at, "wall_seconds": round(wall, 3), "seed": opts.seed,
                "cases": len(cases), "cases_per_s": len(cases) / wall if wall else None,
                "sentences_per_s": timing["sentences_per_s"], "scoring": timing, "n_boot": opts.n_boot,
                "label_map": opts.label_map, "gate_file": gate_source, "baseline": opts.baseline,
                "python": platform.python_version(), "platform": platform.platform(),
                "versions": _versions()},
        "model": {"name": opts.model, "kind": model.kind, "fingerprint": model.fingerprint, "labels": labels,
                  "parameters": model.n_parameters,
                  "device": str(getattr(model, "device", "cpu")), "latency_ms_per_sentence":
                      (1000 / timing["sentences_per_s"]) if timing["sentences_per_s"] else None},
        "suites": [{"name": s.name, "version": s.spec.version, "sha256": s.sha256, "path": str(s.path),
                    "description": s.spec.description, "source": s.spec.source,
                    "cases": int((cases["suite"] == s.name).sum())} for s in suites],
        "data": source,
        "attributes": attributes,
        "coverage": {"cases_by_suite": _counts(cases, ["suite"]),
                     "cases_by_attribute": {a: _counts(cases[cases[a].notna()], ["suite", a]) for a in attributes},
                     "perturbation": coverage},
        "metrics": metrics,
        "gate": verdicts,
    }
    write_outputs(Path(opts.out), results, cases)
    return results


def write_outputs(out: Path, results: dict, cases: pd.DataFrame) -> None:
    """Every output is written atomically; the reports are rendered from what was just written."""
    from reports.audit import write_reports

    out.mkdir(parents=True, exist_ok=True)
    write_parquet(out / "cases.parquet", cases)
    write_json(out / "results.json", _clean(results))
    write_reports(out, _clean(results), cases)


def load_results(path: str | Path) -> dict:
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"{path}: no results.json there (run `python -m audit run` first)")
    try:
        results = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    if results.get("schema") != SCHEMA:
        raise InputError(f"{file}: schema {results.get('schema')!r} is not {SCHEMA!r}")
    return results


def _counts(frame: pd.DataFrame, cols: list[str]) -> dict:
    if frame.empty:
        return {}
    counts = frame.groupby(cols, dropna=True).size()
    return {("/".join(map(str, k)) if isinstance(k, tuple) else str(k)): int(v) for k, v in counts.items()}


def _versions() -> dict:
    out = {}
    for pkg in ("fairaudit", "torch", "transformers", "fairlearn", "scipy", "statsmodels", "pandas", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _clean(obj):
    """JSON has no NaN or tuples: NaN -> null, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
