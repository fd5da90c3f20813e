"""The perturbation contract and its registry.

A :class:`Perturbation` turns one text into variants, each tagged with the *group* it belongs to:

* ``name``: the plug-in's registry key (``gender``, ``typos``); it names its suite in the case table
  (``perturb-gender``) and its records in the robustness metrics;
* ``attribute``: what the variants vary: a protected attribute (``gender``, ``race``; a counterfactual swap)
  or ``robustness`` (a meaning-preserving surface edit: typos, case, punctuation ...);
* ``variants(text) -> [(variant_text, group)]``: the variants of one text (none: the text is skipped); a
  counterfactual plug-in whose texts belong to a group overrides ``families(text)`` instead (the original's
  group, the attributes held constant, several attributes per text), and ``variants`` follows from it;
* ``coverage``: a :class:`collections.Counter` of what it did, reported in ``results.json`` and the report.

A plug-in is one module in this package and one name in the import line of ``core/perturbations/__init__.py``
(``@register`` on the class does the rest). Registration order is run order: the counterfactual swaps share one
seeded random stream (:attr:`Perturbation.rng`), so their order is part of the output; robustness plug-ins
seed a fresh stream per text (:meth:`RobustnessPerturbation.rng_for`), so a text's variants never depend on
the other texts.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from core.suites import Suite

ROBUSTNESS = "robustness"   # the ``attribute`` of every robustness plug-in
ORIGINAL = "original"       # the group of a robustness family's original text


@dataclass
class Variant:
    text: str
    group: str            # the variant's group of the family's attribute ("male", "upper", "typo")
    term: str | None = None   # the surface term swapped in (names, identity terms); default: the group


@dataclass
class Family:
    """One original text and its variants along one attribute; ``keep``: other attributes held constant
    (a race swap of "Emily" keeps ``gender: female``)."""
    attribute: str
    group: str
    variants: list[Variant]
    keep: dict[str, str] = field(default_factory=dict)


class Perturbation:
    name: ClassVar[str]
    attribute: ClassVar[str]
    description: ClassVar[str] = ""
    declares: ClassVar[tuple[str, ...]] = ()  # attributes it adds beyond those of the suites (gender swaps: gender)
    caveat: ClassVar[str] = ""  # what its variants are not, said in the report beside rewritten examples

    def __init__(self, suites: dict[str, Suite] | None = None, seed: int = 0, rng: random.Random | None = None):
        self.suites = suites or {}
        self.seed = seed
        self.rng = rng if rng is not None else random.Random(seed)
        self.coverage: Counter = Counter()

    def __init_subclass__(cls, abstract: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if not abstract and cls.variants is Perturbation.variants and cls.families is Perturbation.families:
            raise TypeError(f"perturbation {cls.__name__}: define variants(text) or families(text)")

    def available(self) -> bool:
        """False when what it needs is missing (name swaps without the ``names`` suite): it is then skipped."""
        return True

    def variants(self, text: str) -> list[tuple[str, str]]:
        """``[(variant_text, group)]`` of ``text``; ``[]`` when nothing applies."""
        return [(v.text, v.group) for f in self.families(text) for v in f.variants]

    def families(self, text: str) -> list[Family]:
        """The families of ``text``: by default one, of ``attribute``, with the original in group ``original``."""
        found = [Variant(t, g) for t, g in self.variants(text)]
        return [Family(self.attribute, ORIGINAL, found)] if found else []

    def counts(self, family: Family) -> list[str]:
        """Coverage keys a family adds: texts changed per attribute and original group."""
        return [f"changed:{family.attribute}:{family.group}"]


class RobustnessPerturbation(Perturbation, abstract=True):
    """A meaning-preserving surface edit; its variants' groups name the kind of edit (``typo``, ``upper``)."""
    attribute: ClassVar[str] = ROBUSTNESS

    def rng_for(self, text: str) -> random.Random:
        """The random stream of one text: ``random.Random(f"{seed}:{name}:{text}")`` (seeded by the sha512 of
        that string, stable across processes and Python versions, independent of the other texts)."""
        return random.Random(f"{self.seed}:{self.name}:{text}")

    def counts(self, family: Family) -> list[str]:
        return ["applied"] + ["variants"] * len(family.variants) + [f"variants:{v.group}" for v in family.variants]


def distinct(text: str, variants: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``variants`` without those equal to ``text`` or to an earlier variant (an edit that changed nothing)."""
    seen = {text}
    return [(t, g) for t, g in variants if t and not (t in seen or seen.add(t))]


REGISTRY: dict[str, type[Perturbation]] = {}


def register(cls: type[Perturbation]) -> type[Perturbation]:
    """Add a perturbation class to the registry (use as a class decorator); a name is registered once."""
    if not getattr(cls, "name", None) or not getattr(cls, "attribute", None):
        raise TypeError(f"perturbation {cls.__name__}: set the class attributes name and attribute")
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"perturbation {cls.name!r} is already registered ({REGISTRY[cls.name].__name__})")
    REGISTRY[cls.name] = cls
    return cls


def counterfactual() -> list[type[Perturbation]]:
    """Registered swaps of protected attributes, in run order."""
    return [p for p in REGISTRY.values() if p.attribute != ROBUSTNESS]


def robustness() -> list[type[Perturbation]]:
    """Registered robustness plug-ins, in run order."""
    return [p for p in REGISTRY.values() if p.attribute == ROBUSTNESS]


def declared_attributes() -> list[str]:
    """Protected attributes the registered plug-ins add to those of the suites (the case table's columns)."""
    return list(dict.fromkeys(a for p in counterfactual() for a in (p.declares or ())))
