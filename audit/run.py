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

from audit import gate as gates, release
from core.cases import build_cases, finalize
from audit.functional import functional_tests
from audit.metrics import all_metrics
from audit.models import load_model
from audit import robustness as robust_
from core.perturb import case_attributes, parse_robustness, perturb_texts, swap_summary
from audit.predict import PredictionCache, score
from audit.production import production_facts
from audit.results import SCHEMA, Results, validate
from audit.timing import PhaseClock
from core.suites import DEFAULT_SUITES, load_suites, select_suites
from core.data import BUILTIN, load_data, read_table, require_columns, resolve_data_dir
from core.errors import InputError, check_number
from reports.files import check_outputs, check_writable, published_folder, write_json, write_parquet

OUTPUTS = ("cases.parquet", "report.html", "summary.md", "junit.xml", "results.json")  # results.json: written last
STALE = ("compare.html", "compare.md")  # a compare of the previous run in this folder would describe another run


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
    baseline_model: str | None = None  # the old release, scored in this run on the same cases (audit/release.py)
    allow_inconclusive: bool = False
    cache_dir: str | None = ".fairaudit-cache"
    device: str = "auto"
    precision: str = "auto"
    max_tokens: int = 8192
    allow_pickle: bool = False
    trust_remote_code: bool = False
    allow_random_head: bool = False
    progress: bool = True
    engine: str = "local"            # local | ray (audit/ray_engine.py)
    ray_address: str | None = None   # None: $RAY_ADDRESS, else a local cluster for this run
    workers: int | None = None       # Ray model replicas (default: one per GPU, else per CPU)
    robustness: str = "all"          # robustness plug-ins: all | none | typos,case,... (audit/robustness.py)
    robustness_sample: int = 50      # at most this many texts per robustness source (seeded sample)
    startup_seconds: float | None = None  # process start to run_audit: the command line's (audit/timing.py)


def check_options(opts: AuditOptions) -> None:
    """Everything that can be checked before any work: numbers, devices, option combinations, writable paths."""
    check_number("--n-boot", opts.n_boot, 0)
    check_number("--max-tokens", opts.max_tokens, 0, low_open=True)
    check_number("--max-cases", opts.max_cases, 0, low_open=True)
    check_number("--robustness-sample", opts.robustness_sample, 0, low_open=True)
    parse_robustness(opts.robustness)
    if opts.device != "auto":  # auto is always valid; checking another device needs torch
        from core.model import pick_device

        pick_device(opts.device)
    for option, value in (("--label-col", opts.label_col), ("--group-col", opts.group_col)):
        if value and not opts.data:
            raise InputError(f"{option} {value}: needs --data (a column of which data set?)")
    if opts.labels is not None:
        if not opts.labels or not all(label.strip() for label in opts.labels):
            raise InputError(f"--labels {','.join(opts.labels)}: give non-empty class names: a,b,c")
        if len(set(opts.labels)) < len(opts.labels):
            raise InputError(f"--labels {','.join(opts.labels)}: class names must be unique")
    if opts.baseline and opts.baseline_model:
        raise InputError(f"--baseline {opts.baseline} and --baseline-model {opts.baseline_model}: give one old "
                         "release (a saved run or a model), not both")
    check_outputs(opts.out, "--out", OUTPUTS + STALE, protected_folders(opts))  # a dangling link: say so first
    check_writable(opts.out, "--out")
    if opts.cache_dir:
        check_writable(opts.cache_dir, "--cache-dir")
        if (Path(opts.cache_dir) / "predictions.sqlite").is_dir():
            raise InputError(f"--cache-dir {opts.cache_dir}: predictions.sqlite there is a folder")


def protected_folders(opts: AuditOptions) -> dict[str, tuple[str, bool]]:
    """Folders a run never writes into (reports/files.py ``check_outputs``): a model folder and anything inside
    it (it travels whole to a hub), the data sets' folder and anything inside it, the folder of a --data file."""
    out: dict[str, tuple[str, bool]] = {}
    for option, spec in (("--model", opts.model), ("--baseline-model", opts.baseline_model)):
        target = (spec or "").split(":", 1)[1] if (spec or "").startswith(("hf:", "huggingface:")) else spec
        if target and Path(target).is_dir():
            out[f"the {option} folder"] = (target, True)
    if opts.data and opts.data not in BUILTIN:
        out[f"the folder of --data {opts.data}"] = (str(Path(opts.data).parent), False)
    if opts.data_dir or (opts.data in BUILTIN):
        out["the data sets' folder"] = (str(resolve_data_dir(opts.data_dir)), True)
    return out


def parse_label_map(text: str | None) -> dict[str, str]:
    """``joy=happy,anger=angry``: expected labels of the suites -> the model's labels."""
    out: dict[str, str] = {}
    for part in (text or "").split(",") if text else []:
        k, eq, v = (x.strip() for x in part.partition("="))
        if not (eq and k and v):
            raise InputError(f"--label-map {text}: {part!r} is not source=target (example: joy=happy,anger=angry)")
        if k in out:
            raise InputError(f"--label-map {text}: {k!r} is mapped twice")
        out[k] = v
    return out


def check_labels(opts: AuditOptions, cases: pd.DataFrame, labels: list[str], all_suites: dict) -> None:
    """Expected labels must reach the model's classes: a typo would silently drop every accuracy metric."""
    known = {t.label for s in all_suites.values() for t in s.spec.templates if t.label} | \
            {g.label for s in all_suites.values() for f in s.spec.fills.values() for g in f.groups if g.label} | \
            {t.direction.label for s in all_suites.values() for t in s.spec.templates if t.direction} | \
            set(cases["expected_label"].dropna())
    for source, target in opts.label_map.items():
        if target not in labels:
            raise InputError(f"--label-map {source}={target}: {target!r} is not a label of the model "
                             f"({', '.join(labels)})")
        if source not in known:
            raise InputError(f"--label-map {source}={target}: no suite or data row expects {source!r}")
    if opts.label_col:
        values = set(cases.loc[cases["suite"] == "data", "expected_label"].dropna()) if (cases["suite"] == "data").any() \
            else set(cases.loc[cases["suite"].str.startswith("perturb-"), "expected_label"].dropna())
        unknown = sorted(v for v in values if opts.label_map.get(v, v) not in labels)
        if unknown:
            raise InputError(f"{opts.data}: column {opts.label_col!r} has label {unknown[0]!r} that the model lacks "
                             f"({len(unknown)} such; model labels: {', '.join(labels)}); map them with --label-map")


def read_data(opts: AuditOptions) -> tuple[list[str], list | None, pd.Series | None, dict]:
    """The texts of ``--data``, their labels (``--label-col``) and groups (``--group-col``), and where from."""
    if opts.data in BUILTIN:
        data = load_data(opts.data, opts.data_dir)
        split = opts.split or ("test" if "test" in data.splits else "val")
        s = data.split(split)
        texts, labels, groups = s.texts, [data.labels[i] for i in s.labels], None
        source = {"name": opts.data, "split": split, "rows": len(texts)}
    else:
        path = Path(opts.data)
        frame = read_table(path)
        require_columns(frame, [opts.text_col, opts.label_col or "", opts.group_col or ""], str(path),
                        filled=(opts.text_col, opts.label_col or ""))
        texts = frame[opts.text_col].astype(str).tolist()
        labels = frame[opts.label_col].astype(str).tolist() if opts.label_col else None
        groups = frame[opts.group_col] if opts.group_col else None
        if groups is not None and groups.isna().all():
            raise InputError(f"{path}: column {opts.group_col!r} is empty: no group to compare")
        source = {"name": path.name, "path": str(path), "rows": len(texts)}
    if not texts:
        raise InputError(f"data set {opts.data}: no rows")
    return texts, labels, groups, source


def data_cases(opts: AuditOptions, all_suites: dict, data: tuple | None = None) -> tuple[pd.DataFrame, dict, dict]:
    """Perturbation families of a data set's texts, plus its rows as a group slice when ``--group-col``."""
    texts, labels, groups, source = data or read_data(opts)
    # a repeated text is one counterfactual family, not several (duplicates would inflate n and shrink intervals)
    first = pd.Series(texts).drop_duplicates().index.tolist()
    input_counts = {"rows": len(texts), "unique texts": len(first), "duplicate texts dropped": len(texts) - len(first)}
    source["duplicates_dropped"] = len(texts) - len(first)
    unique_labels = None if labels is None else [labels[i] for i in first]
    perturbed, coverage = perturb_texts([texts[i] for i in first], all_suites, unique_labels, source=source["name"],
                                        seed=opts.seed)
    coverage = {"input": input_counts, **coverage}
    for kind, summary in swap_summary(perturbed, seed=opts.seed).items():  # texts changed, examples to review
        coverage[kind].update(summary)
    parts = [perturbed]
    if groups is not None:
        attr = opts.group_col
        rows = pd.DataFrame({"case_id": [f"data:{i}" for i in range(len(texts))], "suite": "data",
                             "template": "(data set row)", "template_id": "data", "family": [f"data:{i}" for i in range(len(texts))],
                             "text": texts, "expectation": "label" if labels else "none",
                             "expected_label": labels, "source_row": range(len(texts)), attr: groups.astype("object")})
        rows = rows.drop_duplicates(subset=["text", "expected_label", attr])
        parts.append(rows)
        if groups.dropna().nunique() < 2:
            raise InputError(f"{opts.data}: column {attr!r} has fewer than two groups: nothing to compare")
    parts = [p for p in parts if not p.empty] or [perturbed]
    return pd.concat(parts, ignore_index=True), coverage, source


def run_audit(opts: AuditOptions) -> dict:
    started = time.perf_counter()
    clock = PhaseClock(opts.startup_seconds)  # results.json run.timings: the phases below, end to end
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    check_options(opts)  # every input is validated before any scoring
    gate, gate_source = gates.load_gate(opts.gate)
    engine = None
    if opts.engine == "ray":  # before any work: a missing Ray is a usage error
        from audit.ray_engine import RayEngine

        engine = RayEngine(opts.ray_address, opts.workers, opts.precision)
    saved = load_results(opts.baseline) if opts.baseline else None  # a broken baseline fails before any scoring
    all_suites = load_suites(opts.templates)
    suites = select_suites(opts.suites, available=all_suites) if opts.suites else []
    cases = build_cases(suites, opts.max_cases, opts.seed)
    coverage, source, data = {}, None, (read_data(opts) if opts.data else None)
    plugins = parse_robustness(opts.robustness)
    robust, robust_cov = robust_.robustness_cases(plugins, {
        **{s.name: robust_.template_sentences(cases, s.name) for s in suites},
        "data": robust_.unique_texts(*data[:2]) if data else ([], None)}, opts.robustness_sample, opts.seed)
    if opts.data:
        extra, coverage, source = data_cases(opts, all_suites, data)
        cases = pd.concat([cases, extra], ignore_index=True) if not cases.empty else extra
    if cases.empty:
        raise InputError("no cases to score: choose a --suite or give --data with something to swap")
    attributes = [a for a in dict.fromkeys(case_attributes(list(all_suites.values())) +
                                           ([opts.group_col] if opts.group_col else [])) if a in cases.columns]
    cases = finalize(cases, attributes, unique=["family", "text"])  # each part is de-duplicated already
    clock.mark("cases")

    model = _load(opts, opts.model, engine)
    old_model = _load(opts, opts.baseline_model, engine) if opts.baseline_model else None
    if old_model is not None and old_model.labels != model.labels:
        raise InputError(f"--baseline-model {opts.baseline_model}: its labels ({', '.join(old_model.labels)}) are not "
                         f"those of --model ({', '.join(model.labels)}): the releases cannot be compared")
    clock.mark("model_load")
    check_labels(opts, cases, model.labels, all_suites)
    names = gates.names_in_run(cases, attributes, model.labels)
    for key, values in robust_.selector_names(robust).items():
        names[key] = names.get(key, set()) | values
    gates.check_selectors(gate, gate_source, names)
    cache = PredictionCache(Path(opts.cache_dir) / "predictions.sqlite") if opts.cache_dir else None
    try:
        probs, timing = score(model, cases["text"].tolist(), cache, opts.max_tokens, opts.progress, engine)
        clock.mark("scoring")
        robust_probs, robust_timing = _score_robustness(model, robust, dict(zip(cases["text"], probs)), cache,
                                                        opts, engine)
        if old_model is not None:
            old_probs, _ = score(old_model, cases["text"].tolist(), cache, opts.max_tokens, opts.progress, engine)
            old_robust_probs, _ = _score_robustness(old_model, robust, dict(zip(cases["text"], old_probs)), cache,
                                                    opts, engine)
    finally:
        if cache:
            cache.close()
    clock.mark("robustness")
    labels = model.labels
    mapped = cases["expected_label"].map(lambda x: None if x is None else opts.label_map.get(x, x))
    cases["y_true"] = mapped.where(mapped.isin(labels), None)
    if old_model is not None:  # before the new scores are added: the old release's own copy of the tables
        old_cases = _scored(cases.copy(), old_probs, labels)
        old_robust = _scored(robust.copy(), old_robust_probs, labels)
    cases, robust = _scored(cases, probs, labels), _scored(robust, robust_probs, labels)
    functional, metrics = _measure(cases, robust, labels, attributes, gate, opts)
    baseline = None
    if old_model is not None:
        old_metrics = _measure(old_cases, old_robust, labels, attributes, gate, opts)[1]
        baseline = release.from_model(opts.baseline_model, old_metrics, (old_cases, old_robust), (cases, robust),
                                      labels, attributes)
        cases = release.with_baseline_columns(cases, old_cases, labels)
    elif saved is not None:
        baseline = saved_baseline(opts.baseline, saved, cases, labels, attributes)
        if not {m["id"] for m in metrics} & {m["id"] for m in baseline.records}:
            raise InputError(f"--baseline {opts.baseline}: shares no metric record with this run (other suites, "
                             f"attributes or labels?): nothing to compare against")
    clock.mark("metrics")
    verdicts = gates.evaluate(gate, metrics, baseline)
    verdicts["allow_inconclusive"] = opts.allow_inconclusive
    clock.mark("gate")
    production = production_facts(model, cases["text"].tolist(), timing, opts.precision, opts.seed)
    clock.mark("production")
    wall = time.perf_counter() - started
    results = {
        "schema": SCHEMA,
        "run": {"started_at": started_at, "wall_seconds": round(wall, 3), "seed": opts.seed,
                "cases": len(cases), "cases_per_s": len(cases) / wall if wall else None,
                "sentences_per_s": timing["sentences_per_s"], "scoring": timing, "n_boot": opts.n_boot,
                "label_map": opts.label_map, "gate_file": gate_source,
                "baseline": opts.baseline or opts.baseline_model,
                "python": platform.python_version(), "platform": platform.platform(),
                "versions": _versions()},
        "model": {"name": opts.model, "kind": model.kind, "fingerprint": model.fingerprint, "labels": labels,
                  "parameters": model.n_parameters,
                  "device": str(model.device), "latency_ms_per_sentence":
                      (1000 / timing["sentences_per_s"]) if timing["sentences_per_s"] else None},
        "suites": [{"name": s.name, "version": s.spec.version, "sha256": s.sha256, "path": str(s.path),
                    "description": s.spec.description, "source": s.spec.source,
                    "cases": int((cases["suite"] == s.name).sum())} for s in suites],
        "data": source,
        "attributes": attributes,
        "coverage": {"cases_by_suite": _counts(cases, ["suite"]),
                     "cases_by_attribute": {a: _counts(cases[cases[a].notna()], ["suite", a]) for a in attributes},
                     "perturbation": coverage},
        "robustness": robust_.section(robust, labels, plugins, robust_cov,
                                      opts.robustness_sample, robust_timing),
        "metrics": metrics,
        "functional": functional,
        "gate": verdicts,
        "release": release.section(baseline) if baseline is not None else None,
        "production": production,
    }
    write_outputs(Path(opts.out), results, cases, clock)
    return results


def _load(opts: AuditOptions, spec: str, engine):
    return load_model(spec, opts.labels, precision=opts.precision,  # with Ray the replicas take the GPUs
                      device="cpu" if engine else opts.device, allow_pickle=opts.allow_pickle,
                      trust_remote_code=opts.trust_remote_code, allow_random_head=opts.allow_random_head)


def _measure(cases: pd.DataFrame, robust: pd.DataFrame, labels: list[str], attributes: list[str], gate,
             opts: AuditOptions) -> tuple[dict, list[dict]]:
    """The functional section and every metric record of one release's scored tables."""
    checks, functional = functional_tests(cases, labels, opts.label_map, attributes, gates.dir_tolerances(gate),
                                          gate.alpha)  # CheckList MFT / DIR (audit/functional.py)
    metrics = [m.to_dict() for m in all_metrics(cases, labels, attributes, opts.n_boot, gate.alpha, opts.seed,
                                                gate.correction) + checks +
               robust_.robustness_metrics(robust, labels, gate.alpha)]
    return functional, metrics


def saved_baseline(path: str, saved: Results, cases: pd.DataFrame, labels: list[str],
                   attributes: list[str]) -> release.Baseline:
    """A saved run as the old release (audit/release.py ``from_saved``), with its cases when it kept them."""
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    old = load_cases(folder, labels) if (folder / "cases.parquet").is_file() and saved.model.labels == labels else None
    return release.from_saved(path, saved.record_dicts(), saved.model.labels, old, cases, labels, attributes)


def _scored(frame: pd.DataFrame, probs: np.ndarray | None, labels: list[str]) -> pd.DataFrame:
    """``frame`` with the predicted label and one ``p_<label>`` column per class."""
    if probs is None:
        return frame
    frame["pred"] = [labels[i] for i in probs.argmax(axis=1)]
    for i, label in enumerate(labels):
        frame[f"p_{label}"] = probs[:, i]
    return frame


def _score_robustness(model, robust: pd.DataFrame, scored: dict, cache, opts: AuditOptions, engine):
    """Probabilities of the robustness texts. Originals already scored in this run's case table reuse those
    scores, so a run gives the same numbers with or without a cache (cache entries are float32); only
    the other texts, mostly the variants, are scored (and timed) here."""
    if robust.empty:
        return None, None
    rest = [t for t in dict.fromkeys(robust["text"]) if t not in scored]
    fresh, timing = score(model, rest, cache, opts.max_tokens, opts.progress, engine)
    known = {**scored, **dict(zip(rest, fresh))}
    return np.stack([known[t] for t in robust["text"]]), timing


def write_outputs(out: Path, results: dict, cases: pd.DataFrame, clock: PhaseClock | None = None) -> None:
    """The outputs appear together: staged beside ``out``, published with ``results.json`` last (the completion
    marker that ``report``, ``compare`` and ``--baseline`` require). With ``clock``, ``run.timings`` and
    ``run.wall_seconds`` are set as the last file is written: the reports show the phases before writing."""
    from reports.audit import write_reports

    if clock:
        results["run"]["timings"] = clock.breakdown()
    clean = _clean(results)
    Results.model_validate(clean)  # what is published matches results.schema.json (a mismatch is a bug: traceback)
    with published_folder(out, last="results.json", stale=STALE) as staging:
        write_parquet(staging / "cases.parquet", cases)
        write_reports(staging, clean, cases)
        if clock:
            clock.mark("writing")  # results.json's own serialisation (milliseconds) is the only time not booked
            results["run"]["timings"] = clean["run"]["timings"] = clock.breakdown()
            results["run"]["wall_seconds"] = clean["run"]["wall_seconds"] = round(clock.elapsed, 3)
        write_json(staging / "results.json", clean)


def load_results(path: str | Path) -> Results:
    """``results.json`` of a finished run, validated against the results schema (audit/results.py)."""
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        hint = " (an interrupted run? run it again)" if path.is_dir() and (path / "cases.parquet").exists() else ""
        raise InputError(f"{path}: no results.json there{hint or ' (run `python -m audit run` first)'}")
    try:
        results = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text (byte {exc.start})") from exc
    return validate(results, str(file))


def load_cases(path: str | Path, labels: list[str]) -> pd.DataFrame:
    """``cases.parquet`` of a finished run, with the prediction columns the reports read."""
    file = Path(path) / "cases.parquet"
    if not file.is_file():
        raise InputError(f"{file}: missing (needed for the worst-family examples)")
    try:
        cases = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"{file}: not a readable Parquet file ({str(exc).splitlines()[0][:200]})") from exc
    missing = [c for c in ["text", "family", "suite", "pred", *(f"p_{l}" for l in labels)] if c not in cases.columns]
    if missing:
        raise InputError(f"{file}: missing column {missing[0]!r}: not the cases of this results.json")
    return cases


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
