"""Swaps of suite terms in real text: a suite slot's terms as a :class:`Lexicon`, and the plug-in base that
swaps a text's one term for one term of every other group (``names``, ``identity``)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from core.perturbations.base import Family, Perturbation, Variant
from core.suites import Suite, term_of


@dataclass
class Lexicon:
    """Protected terms of a suite slot: term text -> attributes, and attribute group -> terms."""
    terms: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_suite(cls, suite: Suite, slot: str, exclude: set[str] = frozenset()) -> "Lexicon":
        lex = cls()
        for group in suite.spec.protected[slot].groups:
            for term in group.terms:
                t = term_of(term).text
                if t not in exclude:
                    lex.terms[t] = dict(group.attributes)
        return lex

    def pattern(self) -> re.Pattern:
        words = sorted(self.terms, key=len, reverse=True)
        return re.compile(r"(?<![A-Za-z])(" + "|".join(map(re.escape, words)) + r")(?![A-Za-z])")

    def others(self, attrs: dict[str, str], attribute: str) -> dict[str, list[str]]:
        """Terms per other group of ``attribute`` that agree on every other attribute (race swap keeps gender)."""
        out: dict[str, list[str]] = {}
        for term, a in self.terms.items():
            if attribute in a and a[attribute] != attrs.get(attribute) and all(
                    a.get(k) == v for k, v in attrs.items() if k != attribute):
                out.setdefault(a[attribute], []).append(term)
        return out


class LexiconSwap(Perturbation, abstract=True):
    """A text with exactly one term of the suite's slot gets one family per attribute of that term: the original
    plus, for every other group of the attribute, the text with one term of that group (chosen with the shared
    seeded stream) that agrees on the other attributes. Texts with several different terms are skipped."""
    suite: ClassVar[str]
    slot: ClassVar[str]
    exclude: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lexicon = Lexicon.from_suite(self.suites[self.suite], self.slot, self.exclude) \
            if self.suite in self.suites else None
        self.regex = self.lexicon.pattern() if self.lexicon else None

    def available(self) -> bool:
        return self.lexicon is not None

    def families(self, text: str) -> list[Family]:
        found = self.regex.findall(text)
        if not found:
            return []
        if len(set(found)) > 1:
            self.coverage["skipped: several terms"] += 1
            return []
        attrs = self.lexicon.terms[found[0]]
        self.coverage["eligible"] += 1
        out = []
        for attribute, group in attrs.items():
            variants = []
            for other_group, choices in sorted(self.lexicon.others(attrs, attribute).items()):
                pick = self.rng.choice(sorted(choices))
                variants.append(Variant(self.regex.sub(lambda m: pick, text), other_group, pick))
            if variants:
                out.append(Family(attribute, group, variants, {k: v for k, v in attrs.items() if k != attribute}))
        return out
