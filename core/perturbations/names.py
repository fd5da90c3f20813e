"""Name swaps: a text with one first name gets a gender swap (a name of the other gender, same race) and a
race swap (one name of every other race, same gender).

On real text the names come from the first-name resource (``core/perturbations/first_names.py``: 2020 US
Census first names, gender and race/ethnicity shares, the rules that tell a first name from a word, a
surname or a place); groups ``female``/``male`` and ``white``/``black``/``hispanic``/``asian``. Every
occurrence of the name is replaced, written as it was (``EMILY`` -> ``MARIA``, ``Emily's`` -> ``Maria's``);
the rest of the text is kept byte for byte. Replacements are drawn with the shared seeded stream from the
``POOL_SIZE`` most common names of their gender x race, so they read naturally; ``Variant.term`` is the name
swapped in. A text with several different first names is skipped and counted.

A ``names`` suite other than the built-in file (the seen half of the lexicon that mitigation trains with,
``finetune/mitigation.py``) confines the swaps to its own terms and groups, as a suite lexicon does.
"""
from __future__ import annotations

from core.perturbations.base import Family, Variant, register
from core.perturbations.first_names import RACES, find_names, cased, load_resource
from core.perturbations.lexicon import LexiconSwap
from core.suites import BUILTIN_DIR


@register
class NameSwap(LexiconSwap):
    name = "names"
    attribute = "gender, race"   # female/male; white/black/hispanic/asian (the suite's own groups if confined)
    description = "first names swapped keeping gender (race swaps) or race (gender swaps)"
    suite, slot = "names", "person"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        own = self.suites.get(self.suite)
        self.confined = own is not None and own.path != BUILTIN_DIR / "names.yaml"
        self.resource = None if self.confined else load_resource()

    def available(self) -> bool:
        return self.confined or self.resource is not None

    def families(self, text: str) -> list[Family]:
        if self.confined:
            return super().families(text)
        found = find_names(text, self.resource)
        if not found:
            return []
        if len({f.info.name for f in found}) > 1:
            self.coverage["skipped: several names"] += 1
            return []
        info = found[0].info
        if info.gender is None:
            self.coverage["skipped: name of either gender"] += 1
            return []
        self.coverage["eligible"] += 1
        other = "male" if info.gender == "female" else "female"
        out = [Family("gender", info.gender, [self._variant(text, found, other, info.dominant, other)],
                      {"race": info.race} if info.race else {})]
        if info.race:
            out.append(Family("race", info.race, [self._variant(text, found, info.gender, r, r)
                                                  for r in RACES if r != info.race], {"gender": info.gender}))
        return out

    def _variant(self, text: str, found: list, gender: str, race: str, group: str) -> Variant:
        pick = self.rng.choice(self.resource.pools[(gender, race)])
        parts, last = [], 0
        for f in found:
            parts += [text[last:f.start], cased(pick, text[f.start:f.end])]
            last = f.end
        return Variant("".join(parts) + text[last:], group, pick)
