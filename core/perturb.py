"""Variants of real sentences from the registered perturbation plug-ins (``core/perturbations/``).

:func:`perturb_texts`: counterfactual families. Each eligible sentence becomes a *family*: the original plus one
variant per other group of one attribute, with everything else kept (case, possessives, punctuation); the
registered swaps (gendered words, first names, identity terms, or yours) run in registry order. Sentences with
nothing to swap are skipped and counted, so the report can state coverage per attribute and group.

:func:`robustness_texts`: robustness families, the original plus its surface edits (typos, case, ...), scored
apart from the case table and measured by ``audit/robustness.py``.
"""
from __future__ import annotations

import random
from collections import Counter

import pandas as pd

from core.cases import attributes_of, finalize
from core.perturbations import REGISTRY, ROBUSTNESS, Family, Perturbation, counterfactual, declared_attributes, robustness
from core.perturbations.gender import GENDER_PAIRS, gender_of, swap_gender  # noqa: F401  (public API)
from core.perturbations.identity import AMBIGUOUS_IDENTITY  # noqa: F401
from core.perturbations.lexicon import Lexicon  # noqa: F401
from core.errors import InputError
from core.suites import Suite

ORIGINAL_TERM = "(original)"  # the term column of a family's original text (its own term is not recorded)


EXAMPLES = 10  # original -> swapped pairs per swap kind in results.json and the report


def case_attributes(suites: list[Suite]) -> list[str]:
    """The protected attributes of a case table: those the registered plug-ins declare, then the suites'."""
    return list(dict.fromkeys(declared_attributes() + attributes_of(suites)))


def perturb_texts(texts: list[str], suites: dict[str, Suite], labels: list | None = None, source: str = "data",
                  seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Families of counterfactual variants for ``texts``; returns the case table and a coverage summary."""
    rng = random.Random(seed)  # one stream shared by the swaps, in registry order
    plugins = [cls(suites, seed, rng) for cls in counterfactual()]
    rows = _families(texts, plugins, labels, source, "perturb", "swap")
    frame = finalize(pd.DataFrame(rows), case_attributes(list(suites.values())), unique=["family", "text"])
    return frame, {p.name: dict(p.coverage) for p in plugins}


def swap_summary(frame: pd.DataFrame, n: int = EXAMPLES, seed: int = 0) -> dict[str, dict]:
    """Per counterfactual swap kind of a case table made by :func:`perturb_texts`: ``texts changed`` (source
    texts with at least one variant) and ``examples``, a seeded sample of ``n`` original -> swapped pairs for
    review (``{original, swapped, attribute, from, to, term}``), one variant per sampled family."""
    out: dict[str, dict] = {}
    if frame.empty:
        return out
    rng = random.Random(seed)
    for suite, part in frame.groupby("suite", sort=False):
        kind = str(suite).removeprefix("perturb-")
        families = sorted(part["family"].unique())
        examples = []
        for fid in sorted(rng.sample(families, min(n, len(families)))):
            fam = part[part["family"] == fid]
            original, variant = fam.iloc[0], fam.iloc[1 + rng.randrange(len(fam) - 1)]
            attribute = fid.rsplit(":", 1)[1]
            examples.append({"original": original["text"], "swapped": variant["text"], "attribute": attribute,
                             "from": original[attribute], "to": variant[attribute], "term": variant["term"]})
        out[kind] = {"texts changed": int(part["source_row"].nunique()), "examples": examples}
    return out


def robustness_texts(texts: list[str], names: list[str] | None = None, labels: list | None = None,
                     source: str = "data", seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Robustness families (``names``: plug-ins to run, default all registered) and their coverage. Columns as
    the case table's, ``suite`` = ``robustness-<plug-in>``, ``robustness`` = the variant's group (``original``
    for the original), ``origin`` = ``source``."""
    plugins = [REGISTRY[n](None, seed) for n in names] if names is not None else [cls(None, seed) for cls in robustness()]
    rows = _families(texts, plugins, labels, source, "robustness", "edit")
    for row in rows:
        row["origin"] = source
    frame = finalize(pd.DataFrame(rows), [ROBUSTNESS], unique=["family", "text"])
    return frame, {p.name: dict(p.coverage) for p in plugins}


def parse_robustness(value: str | None) -> list[str]:
    """``--robustness`` value: ``all`` (default), ``none`` or comma-separated plug-in names."""
    known = [p.name for p in robustness()]
    if value is None or value.strip() == "all":
        return known
    if value.strip() == "none":
        return []
    names = [n.strip() for n in value.split(",")]
    for n in names:
        if n not in known:
            raise InputError(f"--robustness {value}: unknown perturbation {n!r} (known: {', '.join(known)}; "
                             f"or all, none)")
    if len(set(names)) < len(names):
        raise InputError(f"--robustness {value}: a perturbation is named twice")
    return names


def _families(texts: list[str], plugins: list[Perturbation], labels: list | None, source: str, prefix: str,
              verb: str) -> list[dict]:
    """Rows of every family the plug-ins make of every text (text by text, plug-ins in order)."""
    rows: list[dict] = []
    active = [p for p in plugins if p.available()]
    for i, text in enumerate(texts):
        for p in active:
            for fam in p.families(text):
                variants = [v for v in fam.variants if v.text != text]
                if not variants:
                    continue
                fid = f"{prefix}:{source}:{i}:{p.name}:{fam.attribute}"
                base = {"suite": f"{prefix}-{p.name}", "template": f"{p.name} {verb}", "template_id": f"{p.name}-{verb}",
                        "family": fid, "expectation": "invariant", "source_row": i, "slot": p.name,
                        "expected_label": None if labels is None else labels[i], **fam.keep}
                rows.append({**base, "case_id": f"{fid}:0", "text": text, "term": ORIGINAL_TERM, fam.attribute: fam.group})
                for j, v in enumerate(variants, start=1):
                    rows.append({**base, "case_id": f"{fid}:{j}", "text": v.text, "term": v.term or v.group,
                                 fam.attribute: v.group})
                p.coverage.update(p.counts(Family(fam.attribute, fam.group, variants, fam.keep)))
    for p in plugins:
        p.coverage["inputs"] = len(texts)
    return rows
