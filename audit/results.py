"""The results document (``results.json``) as typed objects, and its published JSON Schema.

:class:`Results` is what ``audit run`` writes and what ``report``, ``compare``, ``card`` and ``--baseline``
read; ``audit/results.schema.json`` is generated from these models (``python -m audit.results --write``) and
shipped in the wheel, so other tools can validate a results file without fairaudit.

Versioning: :data:`SCHEMA` names the shape. Fields may be *added* (optional, with a default) under the same
id, so an older reader ignores what it does not know and this reader fills defaults for what an older file
lacks; a renamed, removed or retyped field takes a new id, and :data:`READABLE` keeps the ids this version still
reads. Top-level sections contributed by plug-ins (``robustness``, ``functional``, or any other) must be JSON
objects, lists of records or null.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA = "fairaudit.results/1"
READABLE = (SCHEMA,)  # every results schema id this version reads
SCHEMA_FILE = Path(__file__).with_name("results.schema.json")
REGENERATE = "python -m audit.results --write"

Verdict = Literal["pass", "fail", "inconclusive"]
RecordVerdict = Literal["pass", "fail", "inconclusive", "insufficient"]  # insufficient: < min_n families, decides nothing
Interval = tuple[float | None, float | None]
Section = dict[str, Any] | list[Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Open(BaseModel):
    """Metadata that adapters, engines or plug-ins may extend with keys of their own."""
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Scoring(_Open):
    texts: int
    unique: int
    scored: int
    cached: int
    seconds: float
    sentences_per_s: float | None = None
    cache_verified: int | None = None  # cached entries re-scored before use (models whose cache is checked)
    cache_stale: bool | None = None


class Timings(_Strict):
    """Where the wall time went (audit/timing.py): phases end to end, so that they add up to ``total_seconds``;
    ``process``: the process's start-up (interpreter, imports) is in, as ``startup``."""
    phases: dict[str, float]
    total_seconds: float
    process: bool = False


class RunInfo(_Open):
    started_at: str
    wall_seconds: float
    seed: int
    cases: int
    cases_per_s: float | None = None
    sentences_per_s: float | None = None
    scoring: Scoring | None = None
    n_boot: int = 0
    label_map: dict[str, str] = {}
    gate_file: str | None = None
    baseline: str | None = None
    python: str | None = None
    platform: str | None = None
    versions: dict[str, str] = {}
    timings: Timings | None = None


class ModelInfo(_Open):
    name: str
    kind: str | None = None
    fingerprint: str
    labels: list[str] = Field(min_length=1)
    parameters: int | None = None
    device: str | None = None
    latency_ms_per_sentence: float | None = None


class Latency(_Strict):
    n: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    mean_ms: float | None = None


class Exactness(_Strict):
    """Reduced precision on a CPU made exact (core/forward.py ``forward_exact``): labels equal fp32's."""
    texts: int
    sample: int
    eps: float | None = None  # largest |p_low - p_fp32| on the seeded calibration sample
    safety: float
    bound: float              # texts with top-two margin below it are re-scored in fp32
    rescored: int
    rescored_share: float


class Production(_Open):
    """What a deploying team asks (audit/production.py)."""
    latency_batch1: Latency | None = None
    throughput_sentences_per_s: float | None = None
    peak_rss_mb: float | None = None
    peak_gpu_memory_mb: float | None = None
    parameters: int | None = None
    size_on_disk_mb: float | None = None
    device: str | None = None
    precision: str | None = None
    exactness: Exactness | None = None


class SuiteInfo(_Strict):
    name: str
    version: str | int | float | None = None
    sha256: str
    path: str | None = None
    description: str | None = None
    source: str | None = None
    cases: int


class DataSource(_Open):
    name: str
    rows: int
    split: str | None = None
    path: str | None = None
    duplicates_dropped: int = 0


class Coverage(_Strict):
    cases_by_suite: dict[str, int] = {}
    cases_by_attribute: dict[str, dict[str, int]] = {}
    perturbation: dict[str, Any] = {}  # per perturbation kind: counts (core/perturb.py)


class MetricRecord(_Strict):
    """One :class:`audit.records.Metric` as written by ``Metric.to_dict`` (its name is in the registry)."""
    id: str
    metric: str
    kind: str
    suite: str
    attribute: str
    value: float | None
    n: int
    ci: Interval | None = None
    group: str | None = None
    cls: str | None = Field(None, alias="class")
    template: str | None = None
    test: str | None = None
    p_value: float | None = None
    p_wilcoxon: float | None = None
    p_adjusted: float | None = None
    adjusted_over: Literal["gate"] | None = None  # "gate": re-adjusted among the tests the gate's rules use
    n_min: int | None = None
    description: str | None = None
    details: dict[str, Any] = {}


class Case(_Strict):
    """A rule's worst case or one of its non-passing records (regressions carry ``old`` and ``new``, and
    ``value`` = ``delta`` = new - old with ``ci`` its interval)."""
    id: str
    description: str | None = None
    value: float | None = None
    ci: Interval | None = None
    n: int | None = None
    n_min: int | None = None
    p_adjusted: float | None = None
    verdict: RecordVerdict | None = None
    reason: str | None = None
    old: float | None = None
    new: float | None = None
    delta: float | None = None   # regressions: new - old, with ``ci`` its interval
    paired: bool | None = None   # regressions: compared per family on the same sentences (else unpaired)


class Comparison(_Strict):
    """One gated record in both releases (audit/release.py): new - old, its interval, the regression test."""
    id: str
    metric: str
    suite: str | None = None
    attribute: str | None = None
    group: str | None = None
    cls: str | None = Field(None, alias="class")
    template: str | None = None
    description: str | None = None
    rule: str
    old: float
    new: float
    delta: float
    ci: Interval | None = None
    paired: bool
    families: int | None = None
    p_value: float | None = None     # one-sided: H0 the change against the rule is at most the margin
    p_adjusted: float | None = None  # over every comparison of every rule (the gate's correction)
    verdict: Verdict
    reason: str


class ChangedExample(_Strict):
    suite: str
    family: str
    text: str
    old_pred: str
    new_pred: str
    cls: str = Field(alias="class")  # the class whose probability moved most
    p_old: float
    p_new: float


class Release(_Strict):
    """The old release this run was compared with (``--baseline RUN`` or ``--baseline-model MODEL``)."""
    baseline: str
    paired: bool
    note: str = ""
    counts: dict[str, int] = {}
    examples: list[ChangedExample] = []  # paired runs: the sentences whose prediction changed most
    comparisons: list[Comparison] = []   # worst first, at most 500


class RuleResult(_Strict):
    name: str
    metric: str
    bound: dict[str, float]
    significant: bool = False
    verdict: Verdict
    reason: str = ""
    worst: Case | None = None
    counts: dict[str, int] = {}
    not_passing: list[Case] = []  # at most 50, worst first
    insufficient: list[str] = []  # suite/attribute/group of the records with fewer than min_n families
    applicable: bool = True       # False: the run has no records of the rule's metric (it passes, judging nothing)
    baseline: bool = False        # a "no regression" check against --baseline


class GateResult(_Strict):
    verdict: Verdict
    alpha: float
    min_n: int | None = None
    correction: Literal["holm", "bh"] = "holm"
    tests_corrected: int | None = None
    allow_inconclusive: bool = False
    rules: list[RuleResult]


class Results(BaseModel):
    """The whole ``results.json``."""
    model_config = ConfigDict(extra="allow", populate_by_name=True, title="fairaudit results")
    __pydantic_extra__: dict[str, Section | None]  # other plug-in sections: objects or lists (or null)

    schema_id: Literal[READABLE] = Field(alias="schema")  # type: ignore[valid-type]
    run: RunInfo
    model: ModelInfo
    suites: list[SuiteInfo] = []
    data: DataSource | None = None
    attributes: list[str] = []
    coverage: Coverage = Coverage()
    metrics: list[MetricRecord]
    gate: GateResult
    robustness: Section | None = None  # robustness perturbations (audit/robustness.py)
    functional: Section | None = None  # CheckList MFT / DIR tests
    release: Release | None = None     # the comparison with an old release (audit/release.py)
    production: Production | None = None  # latency, memory, size, precision (audit/production.py)

    def to_json(self) -> dict:
        """The plain JSON form the templates read: the file's own keys (``class`` for ``cls``), no defaults
        added, so an older file renders as it did."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def record_dicts(self) -> list[dict]:
        """The metric records as dicts, for the gate's rule functions (which also judge fresh records)."""
        return [m.model_dump(mode="json", by_alias=True, exclude_unset=True) for m in self.metrics]


def json_schema() -> dict:
    schema = Results.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def validate(doc: Any, source: str) -> Results:
    """``doc`` as :class:`Results`, or :class:`core.errors.InputError` naming ``source`` and the first bad field."""
    from core.errors import InputError

    if not isinstance(doc, dict):
        raise InputError(f"{source}: a results file is a JSON object, not a {type(doc).__name__}")
    if doc.get("schema") not in READABLE:
        raise InputError(f"{source}: schema {doc.get('schema')!r} is not {' or '.join(map(repr, READABLE))}")
    try:
        return Results.model_validate(doc)
    except ValidationError as exc:
        raise InputError(f"{source}: {describe(exc.errors()[0])}") from exc


def describe(error: dict) -> str:
    """One pydantic error as ``metrics[3] is not a metric record: field 'value': ...``."""
    loc = [p for p in error["loc"] if isinstance(p, int) or not any(c in p for c in "[(")]  # no union-member tags
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    if len(loc) == 1 and error["type"] == "missing":
        return f"key {loc[0]!r} is missing: an incomplete or edited file"
    if loc[0] == "metrics" and len(loc) > 2 and isinstance(loc[1], int):
        return f"metrics[{loc[1]}] is not a metric record (field {where!r}: {error['msg']})"
    return f"field {where!r}: {error['msg']}: an incomplete or edited file"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.results", description="The results.json schema.")
    parser.add_argument("--write", action="store_true", help=f"regenerate {SCHEMA_FILE.name} beside this module")
    parser.add_argument("--check", nargs="*", metavar="RESULTS", help="validate results.json files against it")
    args = parser.parse_args(argv)
    if args.write:
        SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
        print(f"wrote {SCHEMA_FILE}")
    elif args.check is not None:
        from core.errors import InputError

        for path in args.check:
            try:
                validate(json.loads(Path(path).read_text(encoding="utf-8")), path)
            except InputError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"{path}: valid {SCHEMA}")
    else:
        print(schema_text(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
