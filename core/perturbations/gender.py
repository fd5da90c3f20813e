"""Gender swaps: every gendered word and pronoun of a text to the other gender, keeping case and possessives.

"her" becomes "his" before a noun ("her book") and "him" elsewhere ("I told her"); "his" becomes "her" or
"hers" by the same rule. A text whose gendered words disagree ("he told her") is skipped and counted.
"""
from __future__ import annotations

import re

from core.perturbations.base import Family, Perturbation, Variant, register

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


@register
class GenderSwap(Perturbation):
    name = "gender"
    attribute = "gender"
    declares = ("gender",)
    description = "gendered words and pronouns swapped to the other gender (her -> his/him by role)"

    def families(self, text: str) -> list[Family]:
        g = gender_of(text)
        if g == "mixed":
            self.coverage["skipped: mixed genders"] += 1
        if g not in ("female", "male"):
            return []
        other = "male" if g == "female" else "female"
        variant = swap_gender(text, other)
        return [Family("gender", g, [Variant(variant, other, other)])] if variant != text else []

    def counts(self, family: Family) -> list[str]:
        return super().counts(family) + ["eligible"]  # a text is eligible when its swap changed it
