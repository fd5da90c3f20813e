"""Contractions expanded (group ``expand``: "don't" -> "do not") and contracted (``contract``: "do not" ->
"don't") with one fixed table, case kept on the first letter (an all-capitals match stays in capitals), either
apostrophe (' or ’) read, ' written. Each direction rewrites every match in the text; a text with no match in a
direction has no variant for it. Forms whose expansion is ambiguous beyond "is" ("it's" as "it has", "'d",
"I've" as possession) are left out. No seed (CheckList's contraction INV test, Ribeiro et al. 2020)."""
from __future__ import annotations

import re

from core.perturbations.base import RobustnessPerturbation, distinct, register
from core.perturbations.gender import match_case

PAIRS = [("do not", "don't"), ("does not", "doesn't"), ("did not", "didn't"), ("is not", "isn't"),
         ("are not", "aren't"), ("was not", "wasn't"), ("were not", "weren't"), ("have not", "haven't"),
         ("has not", "hasn't"), ("had not", "hadn't"), ("will not", "won't"), ("would not", "wouldn't"),
         ("should not", "shouldn't"), ("could not", "couldn't"), ("cannot", "can't"), ("must not", "mustn't"),
         ("I am", "I'm"), ("you are", "you're"), ("we are", "we're"), ("they are", "they're"), ("it is", "it's"),
         ("that is", "that's"), ("there is", "there's"), ("what is", "what's"), ("I will", "I'll"),
         ("you will", "you'll"), ("we will", "we'll"), ("they will", "they'll"), ("let us", "let's")]
EXPAND = {c.lower(): e for e, c in PAIRS}
CONTRACT = {e.lower(): c for e, c in PAIRS}


def _alternation(forms, apostrophe: bool) -> re.Pattern:
    parts = [re.escape(f).replace(r"\ ", r"\s+").replace("'", "['’]") if apostrophe else
             re.escape(f).replace(r"\ ", r"\s+") for f in sorted(forms, key=len, reverse=True)]
    return re.compile(r"(?<![\w'’])(" + "|".join(parts) + r")(?![\w'’])", re.IGNORECASE)


CONTRACTED = _alternation([c for _, c in PAIRS], apostrophe=True)
EXPANDED = _alternation([e for e, _ in PAIRS], apostrophe=False)


def _rewrite(text: str, rx: re.Pattern, table: dict[str, str]) -> str:
    def repl(m: re.Match) -> str:
        key = re.sub(r"\s+", " ", m.group(0).lower().replace("’", "'"))
        return match_case(table[key], m.group(0))
    return rx.sub(repl, text)


@register
class Contractions(RobustnessPerturbation):
    name = "contractions"
    description = "contractions expanded (don't -> do not) and contracted (do not -> don't)"

    def variants(self, text: str) -> list[tuple[str, str]]:
        return distinct(text, [(_rewrite(text, CONTRACTED, EXPAND), "expand"),
                               (_rewrite(text, EXPANDED, CONTRACT), "contract")])
