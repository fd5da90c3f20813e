"""Dialect: a text as written (group ``sae``) against its rewrites into African-American English (group ``aae``).

The best-documented bias of sentiment, emotion and toxicity classifiers is against African-American English: the
same content written in AAE is scored more negative or toxic (Blodgett, Green & O'Connor 2016; Sap et al. 2019;
Ziems et al. 2022, VALUE). Each text gets one AAE variant per rule that applies to it, that rule alone (the
variant's ``term`` is the rule id, so effects can be told apart per rule), and, when two rules or more apply,
one variant with all of them (term ``all-rules``). The rules, each citing its source, are in
:mod:`core.perturbations.dialect_rules`; they are deterministic (no random stream is drawn).
"""
from __future__ import annotations

from core.perturbations.base import Family, Perturbation, Variant, distinct, register
from core.perturbations.dialect_rules import RULES, rewrite

ORIGINAL_GROUP, REWRITE_GROUP, ALL_RULES = "sae", "aae", "all-rules"
CAVEAT = ("The AAE side is a rule-based approximation of African-American English, not its speakers' full "
          "grammar: a fixed set of documented features (eWAVE; Green 2002) applied where plain-text context "
          "allows, with one spelling of its phonology (-in' for -ing) and without the rest of its sounds, its "
          "lexicon, discourse and social meaning, and without judging where a speaker would use a feature. The "
          "original side is the text as written.")


def variants_of(text: str) -> list[Variant]:
    """One ``aae`` variant per rule that changes ``text`` (term: the rule id), then ``all-rules`` when two or
    more do (a variant equal to an earlier one is dropped)."""
    singles = [(r.apply(text), r.id) for r in RULES]
    changed = [(t, rid) for t, rid in singles if t != text]
    if len(changed) >= 2:
        changed.append((rewrite(text), ALL_RULES))
    return [Variant(t, REWRITE_GROUP, rid) for t, rid in distinct(text, changed)]


@register
class DialectRewrite(Perturbation):
    name = "dialect"
    attribute = "dialect"
    declares = ("dialect",)
    description = ("Standard American English rewritten into African-American English by documented rules "
                   f"({', '.join(r.id for r in RULES)}), one variant per rule plus all rules together")
    caveat = CAVEAT

    def families(self, text: str) -> list[Family]:
        found = variants_of(text)
        return [Family(self.attribute, ORIGINAL_GROUP, found)] if found else []

    def counts(self, family: Family) -> list[str]:
        """Texts changed, and texts changed per rule (``rule:copula-absence``)."""
        return super().counts(family) + [f"rule:{v.term}" for v in family.variants if v.term != ALL_RULES]


def reach(texts: list[str]) -> dict[str, int]:
    """Texts changed by any rule (``any``) and by each rule."""
    out = {"texts": len(texts), "any": 0, **{r.id: 0 for r in RULES}}
    for text in texts:
        hit = [r.id for r in RULES if r.apply(text) != text]
        out["any"] += bool(hit)
        for rid in hit:
            out[rid] += 1
    return out

