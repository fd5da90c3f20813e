"""Counterfactual variants of real sentences: swap gendered words, first names and identity terms.

Each eligible sentence becomes a *family*: the original plus one variant per other group of one attribute,
with everything else kept (case, possessives, punctuation). Sentences with nothing to swap are skipped and
counted, so the report can state coverage per attribute and group.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from core.cases import attributes_of, finalize
from core.suites import Suite, term_of

# Gendered word pairs (female, male). "her" and "his" are handled by role below.
GENDER_PAIRS = [
    ("she", "he"), ("herself", "himself"), ("woman", "man"), ("women", "men"), ("girl", "boy"), ("girls", "boys"),
    ("mother", "father"), ("mothers", "fathers"), ("mom", "dad"), ("mum", "dad"), ("mommy", "daddy"),
    ("daughter", "son"), ("daughters", "sons"), ("sister", "brother"), ("sisters", "brothers"), ("wife", "husband"),
    ("wives", "husbands"), ("girlfriend", "boyfriend"), ("aunt", "uncle"), ("niece", "nephew"), ("queen", "king"),
    ("mrs", "mr"), ("ms", "mr"), ("madam", "sir"), ("lady", "gentleman"), ("ladies", "gentlemen"),
    ("grandmother", "grandfather"), ("grandma", "grandpa"), ("female", "male"), ("princess", "prince"),
    ("actress", "actor"), ("waitress", "waiter"), ("bride", "groom"), ("heroine", "hero"), ("gal", "guy"),
    ("gals", "guys"), ("duchess", "duke"), ("stepmother", "stepfather"), ("granddaughter", "grandson"),
]
TO_MALE = {f: m for f, m in GENDER_PAIRS}
TO_FEMALE = {m: f for f, m in reversed(GENDER_PAIRS)}  # reversed: "dad" maps back to "mom", not "mum"
# Words after which "her" is an object ("I told her that"), not a possessive determiner ("her book").
FUNCTION_WORDS = set("""a an the and or but so to of in on at by for with from about as into than then that this
these those is are was were be been am will would can could should may might must do does did have has had not
no too very yet up down out off over again just now here there when where why how who what which if because
while after before since until all any some every each my your our their its me you him us them it i we they
she he""".split())
WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
# Identity words that have other common meanings ("white wine", "old town", "straight away") are not swapped in
# real text; they stay in the template suites where the frame makes their meaning plain.
AMBIGUOUS_IDENTITY = {"white", "black", "old", "young", "straight", "blind", "deaf", "teenage", "elderly", "male",
                      "female", "middle-aged", "able-bodied", "wheelchair-using", "Indian", "Asian"}


def match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _next_word(text: str, end: int) -> str | None:
    m = re.match(r"\s*([A-Za-z']+)", text[end:])
    return m.group(1).lower() if m else None


def swap_gender(text: str, to: str) -> str:
    """Swap every gendered word to gender ``to`` ("female" or "male"), keeping case."""
    table = TO_FEMALE if to == "female" else TO_MALE

    def repl(m: re.Match) -> str:
        word = m.group(0)
        low = word.lower()
        base, suffix = (low[:-2], low[-2:]) if low.endswith("'s") else (low, "")
        nxt = _next_word(text, m.end())
        determiner = nxt is not None and nxt not in FUNCTION_WORDS
        if to == "male" and base == "her":
            out = "his" if determiner else "him"
        elif to == "male" and base == "hers":
            out = "his"
        elif to == "female" and base == "his":
            out = "her" if determiner else "hers"
        elif to == "female" and base == "him":
            out = "her"
        elif base in table:
            out = table[base]
        else:
            return word  # not gendered: untouched ("@NationalGallery" keeps its capitals)
        return match_case(out, word) + suffix

    return WORD.sub(repl, text)


def gender_of(text: str) -> str | None:
    """``female``/``male`` when all gendered words agree, ``mixed`` when they do not, else None."""
    found = set()
    for m in WORD.finditer(text):
        base = m.group(0).lower().removesuffix("'s")
        if base in TO_MALE or base in ("her", "hers"):
            found.add("female")
        elif base in TO_FEMALE or base in ("his", "him"):
            found.add("male")
    return None if not found else (found.pop() if len(found) == 1 else "mixed")


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


def perturb_texts(texts: list[str], suites: dict[str, Suite], labels: list | None = None, source: str = "data",
                  seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Families of counterfactual variants for ``texts``; returns the case table and a coverage summary."""
    rng = random.Random(seed)
    rows: list[dict] = []
    coverage: dict[str, Counter] = {"gender": Counter(), "names": Counter(), "identity": Counter()}
    names = Lexicon.from_suite(suites["names"], "person") if "names" in suites else None
    identity = Lexicon.from_suite(suites["identity"], "identity", AMBIGUOUS_IDENTITY) if "identity" in suites else None
    name_re, ident_re = (names.pattern() if names else None), (identity.pattern() if identity else None)

    def family(i: int, kind: str, attribute: str, original_group: str, variants: list[tuple[str, str, str]],
               extra: dict | None = None):
        fam = f"perturb:{source}:{i}:{kind}:{attribute}"
        base = {"suite": f"perturb-{kind}", "template": f"{kind} swap", "template_id": f"{kind}-swap", "family": fam,
                "expectation": "invariant", "expected_label": None if labels is None else labels[i],
                "source_row": i, "slot": kind}
        rows.append({**base, **(extra or {}), "case_id": f"{fam}:0", "text": texts[i], "term": "(original)",
                     attribute: original_group})
        for j, (text, group, term) in enumerate(variants, start=1):
            rows.append({**base, **(extra or {}), "case_id": f"{fam}:{j}", "text": text, "term": term, attribute: group})
        coverage[kind][f"changed:{attribute}:{original_group}"] += 1

    for i, text in enumerate(texts):
        g = gender_of(text)
        if g in ("female", "male"):
            other = "male" if g == "female" else "female"
            variant = swap_gender(text, other)
            if variant != text:
                family(i, "gender", "gender", g, [(variant, other, other)])
                coverage["gender"]["eligible"] += 1
        elif g == "mixed":
            coverage["gender"]["skipped: mixed genders"] += 1
        for kind, lex, rx in (("names", names, name_re), ("identity", identity, ident_re)):
            if lex is None:
                continue
            found = rx.findall(text)
            if not found:
                continue
            if len(set(found)) > 1:
                coverage[kind]["skipped: several terms"] += 1
                continue
            term = found[0]
            attrs = lex.terms[term]
            coverage[kind]["eligible"] += 1
            for attribute, group in attrs.items():
                variants = []
                for other_group, choices in sorted(lex.others(attrs, attribute).items()):
                    pick = rng.choice(sorted(choices))
                    variants.append((rx.sub(lambda m: pick, text), other_group, pick))
                if variants:
                    keep = {k: v for k, v in attrs.items() if k != attribute}
                    family(i, kind, attribute, group, variants, keep)
    for counter in coverage.values():
        counter["inputs"] = len(texts)
    attributes = list(dict.fromkeys(["gender"] + attributes_of(list(suites.values()))))
    frame = finalize(pd.DataFrame(rows), attributes, unique=["family", "text"])
    return frame, {k: dict(v) for k, v in coverage.items()}
