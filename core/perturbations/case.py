"""Case changes: the whole text in lower case (group ``lower``), upper case (``upper``) and title case
(``title``: every word's first letter upper, the rest lower; a word is a run of letters, apostrophes inside
it included, so "don't" becomes "Don't", not "Don'T"). A variant equal to the original is dropped. No seed."""
from __future__ import annotations

import re

from core.perturbations.base import RobustnessPerturbation, distinct, register

WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")


def title_case(text: str) -> str:
    return WORD.sub(lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), text)


@register
class CaseChange(RobustnessPerturbation):
    name = "case"
    description = "the text in lower, upper and title case"

    def variants(self, text: str) -> list[tuple[str, str]]:
        return distinct(text, [(text.lower(), "lower"), (text.upper(), "upper"), (title_case(text), "title")])
