"""Punctuation edits of sentence marks (CheckList's punctuation INV test, Ribeiro et al. 2020). No seed.

* ``drop``: every run of ``.``, ``!``, ``?`` followed by a space or the end of the text is removed ("Great!
  Loved it." -> "Great Loved it"); marks inside tokens stay ("3.5", "t.co/x", "e.g.x").
* ``add``: a text that does not end in ``.``, ``!`` or ``?`` (nor in a URL, @mention or #hashtag) gets a
  final ``.``.
* ``repeat``: a text that ends in such a run gets two more of its last mark ("wow!" -> "wow!!!", "why?" ->
  "why???", "ok." -> "ok...").
Trailing spaces are ignored for "ends in" and dropped from the variants.
"""
from __future__ import annotations

import re

from core.perturbations.base import RobustnessPerturbation, distinct, register
from core.perturbations.typos import is_handle

SENTENCE_MARKS = re.compile(r"[.!?]+(?=\s|$)")


@register
class Punctuation(RobustnessPerturbation):
    name = "punctuation"
    description = "sentence marks . ! ? dropped, a final full stop added, the final mark repeated"

    def variants(self, text: str) -> list[tuple[str, str]]:
        body = text.rstrip()
        out = [(re.sub(r"\s{2,}", " ", SENTENCE_MARKS.sub("", body)).rstrip(), "drop")]
        if body and body[-1] in ".!?":
            out.append((body + body[-1] * 2, "repeat"))
        elif body and not is_handle(body.split()[-1]):
            out.append((body + ".", "add"))
        return distinct(text, out)
