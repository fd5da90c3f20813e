"""Template suite files: the YAML format, its schema, and validation errors that name file, line and field.

A suite file (see ``templates/README.md`` for the full format)::

    suite: names
    version: "1"
    protected:                       # slots whose value is a protected attribute
      person:
        groups:
          - attributes: {gender: female, race: African-American}
            forms: {reflexive: herself}        # grammatical forms shared by the group
            terms: [Ebony, Jasmine]
          - attributes: {gender: female}
            terms: [{text: she, object: her, possessive: her, reflexive: herself}]
    fills:                           # other slots; a group label can become the expected label
      emotion_word:
        groups: [{label: joy, terms: [happy, glad]}]
    templates:
      - id: feels
        text: "{person} feels {emotion_word}."   # {slot}, {slot.form}, {slot|a} (a/an article)
        expect: label                            # invariant | label | direction
        label_from: emotion_word
      - id: love-it                              # DIR: base sentence -> variants, p(joy) must not fall
        text: "{statement}"
        expect: direction
        direction: {label: joy, sign: "+"}
        variants: ["{base} I love it!"]          # {base}: the base sentence; other slots as in text

The three CheckList test types (Ribeiro et al. 2020): ``invariant`` (INV: the label must not depend on the
protected slot), ``label`` (MFT: every sentence must get its expected label) and ``direction`` (DIR: each
variant must not move p(label) against ``sign``). An invariant template uses exactly one protected slot; the
cases it makes that differ only in that slot form a *family* (INV's test unit). MFT and DIR templates may use
one protected slot (their rates are then also reported per group) or none.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import InputError


def builtin_dir() -> Path:
    """The built-in suites: ``templates/`` beside ``audit/`` in a source checkout (so a worktree reads its own
    files), else the package data ``fairaudit.templates`` of the installed wheel."""
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if (checkout / "common_words.txt").is_file():
        return checkout
    return Path(str(resources.files("fairaudit.templates")))  # installed wheels are plain folders, never zips


BUILTIN_DIR = builtin_dir()
DEFAULT_SUITES = ["eec", "identity", "names", "dialect", "functional"]
BASE_SLOT = "base"  # in a DIR variant: the rendered base sentence
COMMON_WORDS_FILE = BUILTIN_DIR / "common_words.txt"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_]+))?(?:\|([a-z]+))?\}")
FILTERS = ("a", "cap")
MAX_FILE_BYTES = 2_000_000  # the shipped suites are ~5 kB
MAX_TERMS = 2_000  # terms of one protected slot: a family holds one sentence per term
MAX_CASES = 1_000_000  # sentences one suite expands into
INTERSECTION = "×"  # "gender×race": the column of an intersectional attribute, values "female×Asian"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Term(Strict):
    text: str = Field(min_length=1)
    subject: str | None = None
    object: str | None = None
    possessive: str | None = None
    reflexive: str | None = None
    allow_common_word: bool = False  # a name that is also an English word, kept on purpose


class ProtectedGroup(Strict):
    attributes: dict[str, str] = Field(min_length=1)
    forms: dict[str, str] = {}
    # Matching (audit/matching.py compares only like with like): the kind of words the terms are ("name",
    # "noun phrase", "pronoun" ...), and, with ``paired``, the i-th term's counterpart is the i-th term of every
    # other paired group of the same surface (she/he, my mother/my father).
    surface: str | None = None
    paired: bool = False
    terms: list[str | Term] = Field(min_length=1)


class FillGroup(Strict):
    label: str | None = None
    terms: list[str] = Field(min_length=1)


class ProtectedSlot(Strict):
    column: str | None = None
    groups: list[ProtectedGroup] = Field(min_length=1)


class FillSlot(Strict):
    column: str | None = None
    groups: list[FillGroup] = Field(min_length=1)


class Direction(Strict):
    label: str
    sign: Literal["+", "-"]


class Template(Strict):
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    display: str | None = None  # how the template is shown (EEC keeps its original notation)
    expect: Literal["invariant", "label", "direction"] = "invariant"
    label: str | None = None
    label_from: str | None = None
    direction: Direction | None = None
    variants: list[str] = []  # DIR: the perturbed sentences; {base} is the rendered base sentence (``text``)


class SuiteFile(Strict):
    suite: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    version: str = "1"
    description: str = ""
    source: str = ""
    protected: dict[str, ProtectedSlot] = {}
    fills: dict[str, FillSlot] = {}
    templates: list[Template] = []

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v):
        return str(v)


@dataclass
class Suite:
    """A validated suite plus where it came from (for error messages and provenance)."""
    spec: SuiteFile
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.spec.suite


def term_of(term: str | Term) -> Term:
    return Term(text=term) if isinstance(term, str) else term


# ------------------------------------------------------------------ loading
def _line_index(node: yaml.Node, path: tuple = (), index: dict | None = None) -> dict[tuple, int]:
    """Map each key path (as pydantic reports it in ``loc``) to its 1-based line in the YAML file."""
    index = {} if index is None else index
    index.setdefault(path, node.start_mark.line + 1)  # a key's own line wins over its value's
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value
            index[path + (k,)] = key.start_mark.line + 1
            _line_index(value, path + (k,), index)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, path + (i,), index)
    return index


def _line_for(lines: dict[tuple, int], loc: tuple) -> int:
    loc = tuple(loc)
    while loc not in lines and loc:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _field_name(loc: tuple) -> str:
    # pydantic adds the union member name ("str", "Term") into loc; drop it from what the user sees
    parts = [str(p) for p in loc if p not in ("str", "Term")]
    return ".".join(parts) or "(file)"


def load_suite(path: str | Path) -> Suite:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: template file not found")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: {size:,} bytes; a suite file may have at most {MAX_FILE_BYTES:,} "
                         f"(split it into several suites)")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                         f"save the file as UTF-8") from exc
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise InputError(f"{path}:{line}: bad YAML: {getattr(exc, 'problem', None) or exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: a suite file must be a YAML mapping with 'suite' and 'templates'")
    lines = _line_index(node)
    try:
        spec = SuiteFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if p not in ("str", "Term"))
        raise InputError(f"{path}:{_line_for(lines, loc)}: field {_field_name(err['loc'])}: {err['msg']}") from exc
    _check_semantics(spec, path, lines)
    return Suite(spec, path, hashlib.sha256(raw).hexdigest())


def _fail(path: Path, lines: dict, loc: tuple, message: str):
    raise InputError(f"{path}:{_line_for(lines, loc)}: field {'.'.join(map(str, loc))}: {message}")


def common_words() -> set[str]:
    """Names that are also English words ("Will", "Grace"): ambiguous in a frame unless allowed explicitly."""
    text = COMMON_WORDS_FILE.read_text()
    return {w for line in text.splitlines() if not line.startswith("#") for w in line.split()}


def _check_semantics(spec: SuiteFile, path: Path, lines: dict) -> None:
    ambiguous = common_words()
    if not spec.templates:
        _fail(path, lines, ("templates",), "the suite has no templates")
    clash = set(spec.protected) & set(spec.fills)
    if clash:
        _fail(path, lines, ("fills", sorted(clash)[0]), "slot is declared both protected and fill")
    for slot, lex in spec.protected.items():
        seen: dict[str, int] = {}
        values: dict[str, set[str]] = {}
        for gi, group in enumerate(lex.groups):
            for attr, value in group.attributes.items():
                values.setdefault(attr, set()).add(value)
            for ti, term in enumerate(group.terms):
                t = term_of(term)
                if t.text in seen:
                    _fail(path, lines, ("protected", slot, "groups", gi, "terms", ti),
                          f"duplicate term {t.text!r} (also in group {seen[t.text] + 1})")
                seen[t.text] = gi
                if t.text[:1].isupper() and " " not in t.text and t.text.lower() in ambiguous and not t.allow_common_word:
                    _fail(path, lines, ("protected", slot, "groups", gi, "terms", ti),
                          f"{t.text!r} is also a common English word; pick another name or write "
                          f"{{text: {t.text}, allow_common_word: true}} and use it only as a subject or object")
        if len(seen) > MAX_TERMS:
            _fail(path, lines, ("protected", slot, "groups"),
                  f"{len(seen):,} terms; at most {MAX_TERMS:,} per protected slot (every family holds one "
                  f"sentence per term): sample the lexicon or split it over several suites")
        _check_pairs(path, lines, slot, lex)
        for attr, vals in values.items():
            if INTERSECTION in attr:
                _fail(path, lines, ("protected", slot, "groups"), f"attribute {attr!r} contains {INTERSECTION!r}, "
                                                                  "which names intersections")
            if len(vals) < 2:
                _fail(path, lines, ("protected", slot, "groups"),
                      f"attribute {attr!r} has a single group {sorted(vals)[0]!r}: nothing to compare it with")
    for slot, lex in spec.fills.items():
        seen_f: set[str] = set()
        for gi, group in enumerate(lex.groups):
            for ti, term in enumerate(group.terms):
                if term in seen_f:
                    _fail(path, lines, ("fills", slot, "groups", gi, "terms", ti), f"duplicate term {term!r}")
                seen_f.add(term)
    ids: set[str] = set()
    for i, tpl in enumerate(spec.templates):
        where = ("templates", i)
        if tpl.id in ids:
            _fail(path, lines, where + ("id",), f"duplicate template id {tpl.id!r}")
        ids.add(tpl.id)
        slots = _check_placeholders(spec, path, lines, where + ("text",), tpl.text)
        protected = sorted({s for s in slots if s in spec.protected})
        if not protected and tpl.expect == "invariant":
            _fail(path, lines, where + ("text",), "template has no protected slot (an invariant template needs one; "
                                                  "an MFT or DIR template, expect: label / direction, may have none)")
        if len(protected) > 1:
            _fail(path, lines, where + ("text",), f"template uses {len(protected)} protected slots "
                                                  f"({', '.join(protected)}); exactly one is supported")
        size = _expansions(spec, slots) * (1 + sum(_expansions(spec, [s for s in _slots(v) if s not in slots])
                                                   for v in tpl.variants))
        if size > MAX_CASES:
            _fail(path, lines, where + ("text",), f"expands into {size:,} sentences; at most {MAX_CASES:,} per "
                                                  f"template (fewer terms or fewer slots)")
        if tpl.expect == "label" and not (tpl.label or tpl.label_from):
            _fail(path, lines, where + ("expect",), "expect: label needs 'label' or 'label_from'")
        if tpl.label_from and tpl.label_from not in slots:
            _fail(path, lines, where + ("label_from",), f"label_from names {tpl.label_from!r}, not a slot of this template")
        _check_direction(spec, path, lines, where, tpl, protected)


def _slots(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(text)))


def _expansions(spec: SuiteFile, slots: list[str]) -> int:
    size = 1
    for name in slots:
        lex = spec.protected.get(name) or spec.fills.get(name)
        size *= sum(len(g.terms) for g in lex.groups) if lex else 1
    return size


def _check_placeholders(spec: SuiteFile, path: Path, lines: dict, loc: tuple, text: str,
                        extra: tuple[str, ...] = ()) -> list[str]:
    """The slots ``text`` uses, each known (a suite slot or one of ``extra``), with known forms and filters."""
    for m in PLACEHOLDER.finditer(text):
        name, form, filt = m.groups()
        if name not in spec.protected and name not in spec.fills and name not in extra:
            _fail(path, lines, loc, f"unknown slot {{{name}}}")
        if filt and filt not in FILTERS:
            _fail(path, lines, loc, f"unknown filter |{filt} (known: {', '.join(FILTERS)})")
        if form and form not in Term.model_fields:
            _fail(path, lines, loc, f"unknown form .{form} (subject, object, possessive, reflexive)")
    leftover = PLACEHOLDER.sub("", text)
    if "{" in leftover or "}" in leftover:
        _fail(path, lines, loc, "malformed placeholder (use {slot}, {slot.form} or {slot|a})")
    return _slots(text)


def _check_direction(spec: SuiteFile, path: Path, lines: dict, where: tuple, tpl: Template,
                     protected: list[str]) -> None:
    """DIR templates: a direction, at least one variant, and variants that keep the base's protected term."""
    if tpl.expect != "direction":
        for key in ("direction", "variants"):
            if getattr(tpl, key):
                _fail(path, lines, where + (key,), f"{key} needs expect: direction (this template says "
                                                   f"expect: {tpl.expect})")
        return
    if tpl.direction is None:
        _fail(path, lines, where + ("direction",), "expect: direction needs 'direction: {label, sign}'")
    if not tpl.variants:
        _fail(path, lines, where + ("variants",), "expect: direction needs 'variants': the perturbed sentences, "
                                                  "e.g. [\"{base} I love it!\"] ({base} is the base sentence)")
    clash = sorted({BASE_SLOT} & (set(spec.protected) | set(spec.fills)))
    if clash:
        kind = "protected" if BASE_SLOT in spec.protected else "fills"
        _fail(path, lines, (kind, BASE_SLOT), f"slot name {BASE_SLOT!r} is reserved for the base sentence in variants")
    for j, variant in enumerate(tpl.variants):
        loc = where + ("variants", j)
        used = _check_placeholders(spec, path, lines, loc, variant, (BASE_SLOT,))
        others = sorted({s for s in used if s in spec.protected} - set(protected))
        if others:
            _fail(path, lines, loc, f"variant uses protected slot {{{others[0]}}}, which the base sentence does not")
        if protected and BASE_SLOT not in used and protected[0] not in used:
            _fail(path, lines, loc, f"variant drops the protected term: use {{{BASE_SLOT}}} or {{{protected[0]}}}")
        if variant.strip() in (tpl.text.strip(), f"{{{BASE_SLOT}}}"):
            _fail(path, lines, loc, "variant equals the base sentence: nothing to compare")


def _check_pairs(path: Path, lines: dict, slot: str, lex: ProtectedSlot) -> None:
    """Paired groups of one surface must list the same number of terms (the i-th terms are counterparts)."""
    sizes: dict[str | None, int] = {}
    for gi, group in enumerate(lex.groups):
        if group.paired:
            size = sizes.setdefault(group.surface, len(group.terms))
            if size != len(group.terms):
                _fail(path, lines, ("protected", slot, "groups", gi, "terms"),
                      f"paired group has {len(group.terms)} terms, another paired group of surface "
                      f"{group.surface!r} has {size}: the i-th terms must be counterparts")


def suite_files(extra_dirs: list[str | Path] | None = None) -> list[Path]:
    """Built-in suite files, then those in each user folder (``--templates DIR``)."""
    dirs = [BUILTIN_DIR] + [Path(d) for d in (extra_dirs or [])]
    files: list[Path] = []
    for d in dirs:
        if not d.is_dir():
            raise InputError(f"--templates {d}: not a folder")
        files += sorted(p for p in d.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    return files


def load_suites(extra_dirs: list[str | Path] | None = None) -> dict[str, Suite]:
    suites: dict[str, Suite] = {}
    for f in suite_files(extra_dirs):
        s = load_suite(f)
        if s.name in suites:
            raise InputError(f"{f}:1: field suite: name {s.name!r} is already used by {suites[s.name].path}")
        suites[s.name] = s
    return suites


def suite_names(requested: list[str] | None) -> list[str]:
    """The suites a run audits: the defaults (also with ``--data``, whose swapped sentences join them) unless
    ``--suite`` names its own list; ``--suite none`` alone audits ``--data`` only."""
    if requested is None:
        return list(DEFAULT_SUITES)
    if "none" in requested:
        if len(requested) > 1:
            raise InputError("--suite none means no suite: it cannot be combined with other --suite values")
        return []
    return list(requested)


def select_suites(names: list[str], extra_dirs: list[str | Path] | None = None,
                  available: dict[str, Suite] | None = None) -> list[Suite]:
    """The named suites, from ``available`` when the caller has loaded them already (each file parsed once)."""
    available = available if available is not None else load_suites(extra_dirs)
    missing = [n for n in names if n not in available]
    if missing:
        raise InputError(f"unknown suite {missing[0]!r} (available: {', '.join(sorted(available))})")
    return [available[n] for n in names]
