"""Emoji and hashtag edits typical of tweets.

* ``emoji-add``: " " plus one neutral object emoji (📸 📍 📅 🔗, drawn from the text's seeded stream
  ``random.Random(f"{seed}:tweet:{text}")``) appended;
* ``emoji-remove``: a text with emoji loses all of them (with their variation selectors, skin tones and
  joiners; double spaces collapsed);
* ``hashtag-add``: "#" before one word of 4+ letters (a whole token, apart from quotes, brackets and trailing
  punctuation) that is not a function word, @mention, hashtag or URL, drawn from the same stream ("loved the exhibition" -> "loved the #exhibition");
* ``hashtag-strip``: a text with hashtags loses every "#" that starts one ("#BritishMuseum" -> "BritishMuseum").
"""
from __future__ import annotations

import re

from core.perturbations.base import RobustnessPerturbation, distinct, register
from core.perturbations.gender import FUNCTION_WORDS
from core.perturbations.typos import word_tokens

NEUTRAL_EMOJI = ("\U0001F4F8", "\U0001F4CD", "\U0001F4C5", "\U0001F517")  # camera, pin, calendar, link
EMOJI = re.compile("[\U0001F1E6-\U0001F1FF\U0001F300-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D]+")
HASHTAG = re.compile(r"(?<![\w#])#(?=\w)")
PLAIN_WORD = re.compile(r"[A-Za-z]{4,}")
WRAPPING = ".,;:!?\"'()[]"


def hashtag_candidates(text: str) -> list[int]:
    """Offsets of the words that ``hashtag-add`` may tag."""
    return [at + len(tok) - len(tok.lstrip(WRAPPING)) for at, tok in word_tokens(text)
            if PLAIN_WORD.fullmatch(tok.strip(WRAPPING)) and tok.strip(WRAPPING).lower() not in FUNCTION_WORDS]


@register
class TweetEdits(RobustnessPerturbation):
    name = "tweet"
    description = "an emoji appended or removed, a word made a #hashtag, hashtags' # stripped"

    def variants(self, text: str) -> list[tuple[str, str]]:
        rng = self.rng_for(text)
        body = text.rstrip()
        out = [(f"{body} {rng.choice(NEUTRAL_EMOJI)}", "emoji-add")]
        if EMOJI.search(text):
            out.append((re.sub(r"[ \t]{2,}", " ", EMOJI.sub("", text)).strip(), "emoji-remove"))
        words = hashtag_candidates(text)
        if words:
            at = rng.choice(words)
            out.append((text[:at] + "#" + text[at:], "hashtag-add"))
        if HASHTAG.search(text):
            out.append((HASHTAG.sub("", text), "hashtag-strip"))
        return distinct(text, out)
