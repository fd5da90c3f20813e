"""Rules that rewrite Standard American English (SAE) into African-American English (AAE), one function each.

Each rule is one documented feature of AAE, written here from its linguistic description: the eWAVE feature
number (Kortmann, Lunkenheimer & Ehret, eds., 2020, *The Electronic World Atlas of Varieties of English*,
https://ewave-atlas.org; ratings for Urban African American Vernacular English: A = pervasive or obligatory,
B = neither pervasive nor rare) and the chapter of Green (2002), *African American English: A Linguistic
Introduction* (ch. 2: verbal markers, ch. 3: syntactic and morphosyntactic properties, ch. 4: phonology).
Ziems et al. (2022), VALUE (ACL), use the same features to test NLU models on AAE. This module holds the
machinery and the rules of chapters 2 and 4; those of chapters 1 and 3 are in :mod:`dialect_syntax`.

Every rule prefers precision to reach: it edits only where its context is unambiguous in plain text (a subject
pronoun before the verb, a following word, no capitalised proper nouns, never inside @mentions, #hashtags or
URLs), and leaves the case and punctuation of the rest of the text as they are. These are approximations of a
dialect's grammar, not its speakers' full grammar: they add features, never judge where a speaker would use one.
"""
from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

from core.perturbations.gender import match_case

A = r"['’]"  # either apostrophe is read; the text's own is written back
PROTECTED = re.compile(r"https?://\S+|www\.\S+|[@#]\w+")
CLAUSE_START = re.compile(r"(?:^|[.!?;:,\"“(]\s*|\b(?:and|but|so|because|cause|cuz|if|when|now|then|that|which)\s+)$",
                          re.IGNORECASE)
NOT_A_NOUN = set("""who whom which that what of in at on with from for to by about into than as are were is was will
would can could should must may might have has had do does did and or but not still here there you i we they he she
it me us them him her all both being whose where when why how""".split())


@dataclass(frozen=True)
class Rule:
    id: str
    source: str         # eWAVE feature / Green (2002) chapter
    doc: str
    apply: Callable[[str], str]


RULES: list[Rule] = []


def rule(rule_id: str, source: str):
    """Register ``fn(text) -> text`` as a rule; its docstring says what it does and what it leaves alone."""
    def deco(fn: Callable[[str], str]) -> Callable[[str], str]:
        RULES.append(Rule(rule_id, source, inspect.getdoc(fn) or "", fn))
        return fn
    return deco


def sub(pattern: re.Pattern, text: str, fn: Callable[[re.Match], str | None]) -> str:
    """``pattern.sub`` that leaves matches inside URLs, @mentions and #hashtags alone, and those ``fn`` refuses
    (returns None)."""
    shielded = [m.span() for m in PROTECTED.finditer(text)]

    def repl(m: re.Match) -> str:
        if any(a < m.end() and m.start() < b for a, b in shielded):
            return m.group(0)
        out = fn(m)
        return m.group(0) if out is None else out
    return pattern.sub(repl, text)


def apostrophe(matched: str) -> str:
    return "’" if "’" in matched else "'"


def clause_start(text: str, at: int) -> bool:
    """True when position ``at`` begins a clause: text start, after punctuation, or after a conjunction."""
    return bool(CLAUSE_START.search(text[:at]))


# ------------------------------------------------------------------ verbal markers (Green 2002, ch. 2)
HABITUAL = re.compile(rf"(?<![\w@#'’])(i|he|she|it|they|we|you)(?:\s+(?:am|is|are)|{A}(m|s|re))\s+"
                      r"(always|usually|often|sometimes|constantly|never)\s+([\w'’-]+)", re.IGNORECASE)


@rule("habitual-be", "eWAVE F90 invariant be as habitual marker (UAAVE: A); Green 2002 ch. 2 (aspectual be)")
def habitual_be(text: str) -> str:
    """A present-tense be with a habitual adverb becomes invariant be after the adverb: "She is always late" ->
    "She always be late". A contracted 's before been/got/had or a participle in -ed/-en may be "has" ("she's
    always wanted") and is left alone; so are a be without a following word and the future ("he's always
    going to", not habitual)."""
    def fn(m: re.Match) -> str | None:
        nxt = m.group(4).lower()
        if nxt in ("going", "gonna", "about") or (m.group(2) or "").lower() == "s" and (
                nxt in ("been", "got", "gotten", "had", "done") or nxt.endswith(("ed", "en"))):
            return None
        return f"{m.group(1)} {m.group(3)} be {m.group(4)}"
    return sub(HABITUAL, text, fn)


COPULA = re.compile(rf"(?<![\w@#'’])(he|she|they|we|you)(?:\s+(is|are)|{A}(s|re))(?=\s+([\w'’-]+))",
                    re.IGNORECASE)
AGREES = {"he": ("is", "s"), "she": ("is", "s"), "they": ("are", "re"), "we": ("are", "re"), "you": ("are", "re")}


@rule("copula-absence", "eWAVE F174, F176-178 deletion of auxiliary/copula be before V-ing, NPs, AdjPs, "
                        "locatives (UAAVE: A); Green 2002 ch. 2")
def copula_absence(text: str) -> str:
    """Present is/are (full or contracted) after a subject pronoun he/she/they/we/you is left out: "She is so
    happy" -> "She so happy", "they're working" -> "they working". Never am ("I'm" stays: AAE keeps it), never
    it/that/what ("it's" stays), never a be without a following word ("I know who he is."), never questions
    (there the verb comes before the pronoun), never "'s" that may be "has" (before been/got/gotten/had), never
    before "to" ("he is to blame")."""
    def fn(m: re.Match) -> str | None:
        verb = (m.group(2) or m.group(3)).lower()
        nxt = m.group(4).lower()
        if verb not in AGREES[m.group(1).lower()] or nxt == "to" or \
                (m.group(3) and nxt in ("been", "got", "gotten", "had")):
            return None
        return m.group(1)
    return sub(COPULA, text, fn)


DONE = re.compile(rf"(?<![\w@#'’])(i|you|we|they|he|she)(?:\s+(have|has)|{A}(ve))\s+([a-z]+)\b(?![\w'’])",
                  re.IGNORECASE)
PAST_OF = dict(pair.split(":") for pair in """gone:went seen:saw eaten:ate taken:took given:gave written:wrote
done:did forgotten:forgot broken:broke spoken:spoke fallen:fell known:knew grown:grew thrown:threw driven:drove
chosen:chose stolen:stole shown:showed flown:flew become:became begun:began drunk:drank ridden:rode woken:woke
beaten:beat bitten:bit hidden:hid told:told said:said made:made lost:lost left:left found:found bought:bought
brought:brought thought:thought heard:heard sent:sent spent:spent built:built won:won paid:paid had:had met:met
kept:kept felt:felt caught:caught taught:taught sold:sold held:held""".split())
NOT_PARTICIPLE = {"hundred", "sacred", "naked", "wicked", "beloved", "kindred", "rugged", "ragged", "crooked",
                  "wretched", "red", "bed", "shed", "wed", "fed"}


@rule("completive-done", "eWAVE F104 completive/perfect done (UAAVE: B); Green 2002 ch. 2 (done)")
def completive_done(text: str) -> str:
    """A present perfect after a subject pronoun becomes done + past: "I have finished" -> "I done finished",
    "she has eaten" -> "she done ate". Only with a known irregular participle or a regular one in -ed (five
    letters or more, not -eed: "need"); never "have got" (possession), "have been", "have to", questions or
    negated "haven't"."""
    def fn(m: re.Match) -> str | None:
        pron, verb, word = m.group(1).lower(), (m.group(2) or "have").lower(), m.group(4)
        if (verb == "has") != (pron in ("he", "she")):
            return None
        low = word.lower()
        past = PAST_OF.get(low) or (low if len(low) >= 5 and low.endswith("ed") and not low.endswith("eed")
                                    and low not in NOT_PARTICIPLE else None)
        return None if past is None or word != low else f"{m.group(1)} done {past}"
    return sub(DONE, text, fn)


GONNA = re.compile(r"(?<![\w@#'’])gonna(?![\w'’])", re.IGNORECASE)
GOING_TO = re.compile(r"(?<![\w@#'’])going\s+to\s+(?=(?:be|have|get|go|make|do|say|see|take|come|want|need|keep|"
                      r"let|give|tell|try|win|lose|play|watch|miss|love|like|hate|happen|start|stop|put|vote|know|"
                      r"think|change|leave|die|kill|buy|look|call|help|show|feel|run|eat|sleep|cry|fight)\b)",
                      re.IGNORECASE)


@rule("gon", "eWAVE F114 go-based future markers (UAAVE: A); Green 2002 ch. 2 (gon)")
def gon(text: str) -> str:
    """The future "gonna", and "going to" before a verb, become "gon": "I'm gonna win" -> "I'm gon win". "going
    to" before anything but a listed verb (a place: "going to school") stays, and so does a capitalised
    "Gonna" inside a clause (a title: "Hard Rain Gonna Fall")."""
    text = sub(GONNA, text, lambda m: None if m.group(0).istitle() and not clause_start(m.string, m.start())
               else match_case("gon", m.group(0)))
    return sub(GOING_TO, text, lambda m: match_case("gon", m.group(0)) + " ")


ABOUT_TO = re.compile(r"(?<![\w@#'’])about\s+to\s+(?=([A-Za-z][\w'’]*))", re.IGNORECASE)


@rule("finna", "eWAVE F126 new quasi-modals with aspectual meaning, finna 'about to' (UAAVE: A); Green 2002 ch. 2")
def finna(text: str) -> str:
    """"about to" before a verb becomes "finna": "I'm about to leave" -> "I'm finna leave". Left alone before a
    determiner, pronoun or capitalised word ("talked about to the crowd")."""
    def fn(m: re.Match) -> str | None:
        nxt = m.group(1)
        if nxt.lower() in NOT_A_NOUN or nxt.lower() in ("a", "an", "the", "my", "your", "his", "our", "their") \
                or not nxt.islower():
            return None
        return match_case("finna", m.group(0)) + " "
    return sub(ABOUT_TO, text, fn)


WERE = re.compile(rf"(?<![\w@#'’])(you|we|they)\s+were(n{A}t)?(?=\s+[\w'’])", re.IGNORECASE)


@rule("was-generalization", "eWAVE F180 was/were generalization (UAAVE: B); Green 2002 ch. 2 (past be)")
def was_generalization(text: str) -> str:
    """Past "were"/"weren't" after you/we/they becomes "was"/"wasn't": "they were late" -> "they was late".
    Only after the pronoun (never questions: "were they"), and only with a following word."""
    def fn(m: re.Match) -> str:
        return f"{m.group(1)} " + match_case("was", m.group(0)[len(m.group(1)) + 1:].lstrip()) + (m.group(2) or "")
    return sub(WERE, text, fn)


# ------------------------------------------------------------------ phonology in spelling (Green 2002, ch. 4)
ING = re.compile(r"(?<![\w@#/'’.-])([a-z]*[aeiouy][a-z]*)ing(?![\w'’-])")


@rule("ing-in", "Green 2002 ch. 4 (phonology: unstressed -ing pronounced, and here written, -in')")
def ing_in(text: str) -> str:
    """The unstressed ending -ing of a lower-case word of two syllables or more is written -in': "nothing" ->
    "nothin'", "going" -> "goin'". Words whose stem has no vowel ("thing", "bring", "string") and capitalised
    words ("Reading", "Beijing") stay."""
    return sub(ING, text, lambda m: m.group(1) + "in" + apostrophe(m.string))


def rewrite(text: str, rules: list[Rule] | None = None) -> str:
    """``text`` with ``rules`` (default: all) applied in order."""
    for r in rules if rules is not None else RULES:
        text = r.apply(text)
    return text


# the rules of Green (2002) ch. 1 and 3 (negation, agreement, existentials, pronouns) live in their own module;
# imported last, as it registers its rules with the helpers above
from core.perturbations import dialect_syntax  # noqa: E402,F401

ORDER = ["yall", "reflexives", "existential-it", "question-aux", "habitual-be", "aint", "dont", "negative-concord",
         "completive-done", "finna", "gon", "copula-absence", "was-generalization", "third-person-s",
         "them-demonstrative", "ing-in"]
RULES.sort(key=lambda r: ORDER.index(r.id))  # all-rules order: a rule never undoes the context a later one reads
