"""Name swaps: a text with one first name of the ``names`` suite gets a race swap (one name of every other
race, same gender) and a gender swap (one name of the other gender, same race)."""
from __future__ import annotations

from core.perturbations.base import register
from core.perturbations.lexicon import LexiconSwap


@register
class NameSwap(LexiconSwap):
    name = "names"
    attribute = "gender, race"   # the attributes of the names suite's groups
    description = "first names swapped keeping gender (race swaps) or race (gender swaps)"
    suite, slot = "names", "person"
