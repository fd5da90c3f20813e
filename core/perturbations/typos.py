"""Typos: keyboard-adjacent letter substitutions (Belinkov & Bisk 2018, "Key" noise).

One variant per text, group ``typo``. Eligible letters: those of words of three or more letters, outside
@mentions, #hashtags and URLs. k = max(1, round(0.05 x eligible letters)) of them, drawn without replacement
from the text's own seeded stream (``random.Random(f"{seed}:typos:{text}")``), are each replaced by one of their
QWERTY neighbours (same row left/right, the two keys above and the two below), drawn from the same stream;
case is kept. The same seed and text always give the same variant; a text without eligible letters has none.
"""
from __future__ import annotations

import re

from core.perturbations.base import RobustnessPerturbation, distinct, register

RATE = 0.05
ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    out = {}
    for r, row in enumerate(ROWS):
        for j, key in enumerate(row):
            near = [row[k] for k in (j - 1, j + 1) if 0 <= k < len(row)]
            if r > 0:  # the row above is shifted left: keys j and j + 1
                near += [ROWS[r - 1][k] for k in (j, j + 1) if k < len(ROWS[r - 1])]
            if r + 1 < len(ROWS):  # the row below: keys j - 1 and j
                near += [ROWS[r + 1][k] for k in (j - 1, j) if 0 <= k < len(ROWS[r + 1])]
            out[key] = "".join(sorted(near))
    return out


NEIGHBOURS = _neighbours()
TOKEN = re.compile(r"\S+")
WORD = re.compile(r"[A-Za-z]{3,}")


def is_handle(token: str) -> bool:
    """@mentions, #hashtags and URLs: left alone by the edits that target words."""
    return token[0] in "@#" or "://" in token or token.startswith("www.")


def word_tokens(text: str) -> list[tuple[int, str]]:
    """(offset, token) of the whitespace-separated tokens that are not @mentions, #hashtags or URLs."""
    return [(m.start(), m.group(0)) for m in TOKEN.finditer(text) if not is_handle(m.group(0))]


def eligible_letters(text: str) -> list[int]:
    """Positions of the letters a typo may hit: words of 3+ letters outside @mentions, #hashtags and URLs."""
    return [at + i for at, tok in word_tokens(text) for w in WORD.finditer(tok) for i in range(w.start(), w.end())]


@register
class Typos(RobustnessPerturbation):
    name = "typos"
    description = "keyboard-adjacent letter substitutions in 5% of the letters (at least one), seeded per text"

    def variants(self, text: str) -> list[tuple[str, str]]:
        spots = eligible_letters(text)
        if not spots:
            return []
        rng = self.rng_for(text)
        chars = list(text)
        for i in sorted(rng.sample(spots, max(1, round(RATE * len(spots))))):
            new = rng.choice(NEIGHBOURS[chars[i].lower()])
            chars[i] = new.upper() if chars[i].isupper() else new
        return distinct(text, [("".join(chars), "typo")])
