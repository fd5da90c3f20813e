"""Expand suites into the tidy case table: one row per distinct sentence.

Columns: ``case_id``, ``suite``, ``template`` (as displayed), ``template_id``, ``family`` (cases that differ
only in the protected slot share it), ``text``, ``expectation``, ``expected_label``, ``direction_label``,
``direction_sign``, ``source_row`` (perturbations), ``slot`` (the protected slot), ``term`` (its surface
text in the sentence), ``surface`` (the kind of term: name, noun phrase ...) and ``pair`` (its counterpart key,
see ``paired`` in templates/README.md), one column per fill slot and ``<fill>_label``, and one column per
protected attribute (``gender``, ``race``, ...) holding the case's group or ``None`` where it does not apply.
Attributes that co-occur in a suite's groups also get an intersectional column, ``gender×race`` with values
such as ``female×African-American``.

A DIR template (``expect: direction``) adds, besides its base sentences, one row per variant with ``base_text``
(the base sentence it perturbs) and ``base_family`` (the base's family: the cluster of its pairs). Each variant
forms its own family (``<base family>:v<variant>.<fill combination>``), so that a family still holds sentences
that differ only in the protected slot; variants carry no expected label.
"""
from __future__ import annotations

import itertools
import random
from collections.abc import Iterable

import pandas as pd

from core.suites import BASE_SLOT, INTERSECTION, PLACEHOLDER, Suite, Template, term_of

BASE_COLUMNS = ["case_id", "suite", "template", "template_id", "family", "text", "expectation", "expected_label",
                "direction_label", "direction_sign", "source_row", "slot", "term", "surface", "pair"]


def article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _surface(term, group, form: str | None) -> str:
    t = term_of(term)
    if form is None:
        return t.text
    return getattr(t, form) or group.forms.get(form) or t.text


def render(template: str, values: dict[str, tuple[object, object]]) -> tuple[str, str]:
    """Fill ``template``; returns the sentence and the surface text of the protected slot's first use."""
    first: dict[str, str] = {}

    def fill(m) -> str:
        name, form, filt = m.groups()
        term, group = values[name]
        text = _surface(term, group, form) if hasattr(group, "attributes") else term
        first.setdefault(name, text)
        if filt == "a":
            text = article(text)
        elif filt == "cap":
            text = text[:1].upper() + text[1:]
        return text

    sentence = PLACEHOLDER.sub(fill, template)
    return sentence[:1].upper() + sentence[1:], first


def expand_template(suite: Suite, tpl: Template) -> Iterable[dict]:
    spec = suite.spec
    slots = _slots(tpl.text)
    protected = next((s for s in slots if s in spec.protected), None)  # MFT / DIR templates may have none
    fill_slots = [s for s in slots if s in spec.fills]
    members = [(term, group, f"{group.surface}:{i}" if group.paired else None)
               for group in spec.protected[protected].groups for i, term in enumerate(group.terms)] \
        if protected else [(None, None, None)]
    variants = [(v, [s for s in _slots(v) if s in spec.fills and s not in fill_slots]) for v in tpl.variants]
    prot_col = spec.protected[protected].column or protected if protected else None
    for f_idx, combo in enumerate(itertools.product(*_choices(spec, fill_slots))):
        family = f"{suite.name}:{tpl.id}:{f_idx}"
        fills = dict(zip(fill_slots, combo))
        expected = fills[tpl.label_from][1].label if tpl.label_from else tpl.label
        bases = []
        for m_idx, member in enumerate(members):
            row = _row(suite, tpl, tpl.text, tpl.display or tpl.text, family, m_idx, fills, protected, member, expected)
            bases.append(row)
            yield row
        for j, (variant, extra) in enumerate(variants):
            for k, extra_combo in enumerate(itertools.product(*_choices(spec, extra))):
                values = {**fills, **dict(zip(extra, extra_combo))}
                for m_idx, member in enumerate(members):
                    base = bases[m_idx]
                    row = _row(suite, tpl, variant, tpl.display or tpl.text, f"{family}:v{j}.{k}", m_idx,
                               {**values, BASE_SLOT: (base["text"], None)}, protected, member, None)
                    if protected and row["term"] is None:  # the term came in through {base}
                        row["term"] = row[prot_col] = base["term"]
                    yield {**row, "base_text": base["text"], "base_family": family}


def _slots(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(text)))


def _choices(spec, fill_slots: list[str]) -> list[list[tuple]]:
    return [[(term, group) for group in spec.fills[s].groups for term in group.terms] for s in fill_slots]


def _row(suite: Suite, tpl: Template, text: str, display: str, family: str, m_idx: int, values: dict,
         protected: str | None, member: tuple, expected: str | None) -> dict:
    """One case: ``text`` rendered with the fill ``values`` and the protected ``member`` (term, group, pair)."""
    term, group, pair = member
    text, surface = render(text, {**values, protected: (term, group)} if protected else values)
    row = {"case_id": f"{family}:{m_idx}", "suite": suite.name, "template": display, "template_id": tpl.id,
           "family": family, "text": text, "expectation": tpl.expect, "expected_label": expected,
           "direction_label": tpl.direction.label if tpl.direction else None,
           "direction_sign": tpl.direction.sign if tpl.direction else None, "source_row": None,
           "slot": protected, "term": surface.get(protected), "surface": group.surface if group else None,
           "pair": pair}
    if protected:
        row[suite.spec.protected[protected].column or protected] = surface.get(protected)
    for s, (fterm, fgroup) in values.items():
        if s in suite.spec.fills:
            col = suite.spec.fills[s].column or s
            row[col] = fterm
            row[f"{col}_label"] = fgroup.label
    if protected:
        row.update(group.attributes)
        row.update(intersections_of(group.attributes))
    return row


def intersections_of(attributes: dict[str, str]) -> dict[str, str]:
    """``{gender: female, race: Asian}`` -> ``{"gender×race": "female×Asian"}`` (every pair, in file order)."""
    return {f"{a}{INTERSECTION}{b}": f"{attributes[a]}{INTERSECTION}{attributes[b]}"
            for a, b in itertools.combinations(attributes, 2)}


def attributes_of(suites: list[Suite]) -> list[str]:
    """Protected attributes of ``suites``, then the intersections of those that co-occur in a group."""
    attrs: dict[str, None] = {}
    crossed: dict[str, None] = {}
    for s in suites:
        for lex in s.spec.protected.values():
            for g in lex.groups:
                attrs.update(dict.fromkeys(g.attributes))
                crossed.update(dict.fromkeys(intersections_of(g.attributes)))
    return list(attrs) + list(crossed)


def build_cases(suites: list[Suite], max_cases: int | None = None, seed: int = 0) -> pd.DataFrame:
    """All cases of ``suites``; with ``max_cases``, whole families are sampled (seeded), never split."""
    rows = [row for suite in suites for tpl in suite.spec.templates for row in expand_template(suite, tpl)]
    return finalize(pd.DataFrame(rows), attributes_of(suites), max_cases, seed)


def finalize(frame: pd.DataFrame, attributes: list[str], max_cases: int | None = None, seed: int = 0,
             unique: list[str] | None = None) -> pd.DataFrame:
    """Drop repeated texts (first wins), sample families, and order the columns.

    ``unique``: the columns that must not repeat, ``["text"]`` by default. Perturbations pass
    ``["family", "text"]``: a source sentence heads both its race-swap and its gender-swap family (the
    inference engine still scores it once).
    """
    if frame.empty:
        return pd.DataFrame(columns=BASE_COLUMNS + attributes)
    frame = frame.drop_duplicates(unique or ["text"], keep="first")
    if max_cases is not None and len(frame) > max_cases:
        # the sampling unit is the family; a DIR variant goes with its base sentence's family
        unit = frame["base_family"].fillna(frame["family"]) if "base_family" in frame else frame["family"]
        sizes = frame.groupby(unit, sort=False).size()
        order = list(sizes.index)
        random.Random(seed).shuffle(order)
        keep, total = [], 0
        for fam in order:
            if total + sizes[fam] > max_cases:
                continue
            keep.append(fam)
            total += sizes[fam]
        frame = frame[unit.isin(set(keep))]
    for col in BASE_COLUMNS + attributes:
        if col not in frame.columns:
            frame[col] = None
    rest = [c for c in frame.columns if c not in BASE_COLUMNS and c not in attributes]
    frame = frame[BASE_COLUMNS + rest + attributes].reset_index(drop=True)
    return frame.astype({c: "object" for c in attributes}).where(frame.notna(), None)
