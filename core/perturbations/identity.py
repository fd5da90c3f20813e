"""Identity-term swaps: a text with one identity term of the ``identity`` suite ("Muslim", "gay") gets one term
of every other group of the term's attribute. Words with other common meanings ("white wine", "old town",
"straight away") are not swapped in real text; they stay in the template suites where the frame makes their
meaning plain."""
from __future__ import annotations

from core.perturbations.base import register
from core.perturbations.lexicon import LexiconSwap

AMBIGUOUS_IDENTITY = frozenset({"white", "black", "old", "young", "straight", "blind", "deaf", "teenage", "elderly",
                                "male", "female", "middle-aged", "able-bodied", "wheelchair-using", "Indian", "Asian"})


@register
class IdentitySwap(LexiconSwap):
    name = "identity"
    attribute = "religion, nationality, sexual_orientation, disability, age, race, gender"  # the suite's
    description = "identity terms swapped within their attribute (religion, race, nationality, ...)"
    suite, slot, exclude = "identity", "identity", AMBIGUOUS_IDENTITY
