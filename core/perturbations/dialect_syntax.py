"""Rules of :mod:`core.perturbations.dialect_rules` from Green (2002) ch. 1 and 3: negation, verbal agreement,
questions, existentials, demonstratives and pronouns (sources as there: eWAVE feature, UAAVE rating, chapter)."""
from __future__ import annotations

import re

from core.perturbations.dialect_rules import (A, AGREES, NOT_A_NOUN, PROTECTED, apostrophe, clause_start, rule,
                                              sub)
from core.perturbations.gender import match_case

ADVERBS = ("always|never|just|really|still|also|only|usually|even|sometimes|often|actually|literally|definitely|"
           "clearly|probably|totally|finally|barely|hardly|seriously|basically|simply|truly|already")


# ------------------------------------------------------------------ negation (Green 2002, ch. 3)
AINT = re.compile(rf"(?<![\w@#'’])(?:(isn|aren|hasn|haven){A}t|([a-z]+){A}(?:m|s|re)\s+not|"
                  rf"(am|is|are|has|have)\s+not|(didn){A}t(?=\s+([A-Za-z][\w'’]*)))(?![\w'’])", re.IGNORECASE)
PRONOUNS = {"i", "you", "he", "she", "it", "we", "they"}


@rule("aint", "eWAVE F155-157 ain't as negated be, negated have, generic negator before a main verb "
              "(UAAVE: A); Green 2002 ch. 3 (negation)")
def aint(text: str) -> str:
    """isn't/aren't/am not/is not/are not/'m not/'re not/'s not, hasn't/haven't/has not/have not and "didn't"
    before a main verb become "ain't": "I'm not ready" -> "I ain't ready", "it's not fair" -> "it ain't fair",
    "she didn't go" -> "she ain't go". "didn't" in a tag ("didn't you?") and "let's not" stay; wasn't/weren't
    stay (ain't is present tense here)."""
    def fn(m: re.Match) -> str | None:
        if m.group(4) and m.group(5).lower() in PRONOUNS or (m.group(2) or "").lower() == "let":
            return None
        out = "ain" + apostrophe(m.group(0)) + "t"
        if m.group(2):  # "I'm not", "it's not": the subject stays
            return f"{m.group(2)} {out.upper() if m.group(0).isupper() else out}"
        return match_case(out, m.group(1) or m.group(3) or m.group(4))
    return sub(AINT, text, fn)


DOESNT = re.compile(rf"(?<![\w@#'’])does(n{A}t)(?![\w'’])", re.IGNORECASE)


@rule("dont", "eWAVE F158 invariant don't for all persons in the present tense (UAAVE: A); Green 2002 ch. 3")
def dont(text: str) -> str:
    """"doesn't" becomes "don't": "He doesn't care" -> "He don't care"."""
    return sub(DOESNT, text, lambda m: match_case("do", m.group(0)[:4]) + m.group(1))


NEGATOR = re.compile(rf"(?<![\w@#'’])(?:\w+n{A}t|not|never|cannot)(?![\w'’])", re.IGNORECASE)
SCOPE_END = re.compile(r"[.!?;:,()\"“”]|\b(?:but|and|or|because|cause|if|when|that|who|which|whether|only|just|"
                       r"than|unless|though)\b", re.IGNORECASE)
NPI = re.compile(r"(?<![\w@#'’/.-])(any(?:thing|body|one|where|more)?)(?![\w'’-])")
NEGATIVE_OF = {"any": "no", "anything": "nothing", "anybody": "nobody", "anyone": "no one",
               "anywhere": "nowhere", "anymore": "no more"}


@rule("negative-concord", "eWAVE F154 multiple negation / negative concord (UAAVE: A); Green 2002 ch. 3")
def negative_concord(text: str) -> str:
    """After a negated verb, the indefinites of the same clause (at most six words on, before any punctuation,
    conjunction, "that"/"who", "only"/"just") become negative: "I don't have any money" -> "I don't have no
    money", "can't find anything" -> "can't find nothing". Only lower-case any/anything/anybody/anyone/anywhere
    /anymore."""
    out, last = [], 0
    for m in NEGATOR.finditer(text):
        if m.start() < last or any(a < m.end() and m.start() < b for a, b in
                                   (p.span() for p in PROTECTED.finditer(text))):
            continue
        end = SCOPE_END.search(text, m.end())
        stop = end.start() if end else len(text)
        words = list(re.finditer(r"\S+", text[m.end():stop]))
        if len(words) > 6:
            stop = m.end() + words[6].start()
        scope = NPI.sub(lambda n: NEGATIVE_OF[n.group(1)], text[m.end():stop])
        out += [text[last:m.end()], scope]
        last = stop
    return "".join(out) + text[last:]


# ------------------------------------------------------------------ morphosyntax (Green 2002, ch. 3)
THIRD = re.compile(rf"(?<![\w@#'’])(he|she|it)(\s+(?:(?:{ADVERBS})\s+)?)([a-z]{{2,}}s)(?![\w'’])", re.IGNORECASE)
NOT_VERBS = set("""this thus yes his hers its yours ours theirs always perhaps sometimes towards afterwards besides
unless across was is as less news plus minus whereas series species lots alas""".split())
BASE_OF = {"has": "have", "does": "do", "says": "say", "focuses": "focus", "biases": "bias"}


def base_form(verb: str) -> str:
    """The bare form of a present-tense verb in -s: tries -> try, dies -> die, watches -> watch, goes -> go,
    uses -> use, makes -> make."""
    if verb in BASE_OF:
        return BASE_OF[verb]
    if verb.endswith("ies"):
        return verb[:-3] + "y" if len(verb) > 4 else verb[:-1]
    if verb.endswith(("sses", "shes", "ches", "xes", "zzes", "oes")):
        return verb[:-2]
    return verb[:-1]


@rule("third-person-s", "eWAVE F170 zero marking of third person singular -s (UAAVE: A); Green 2002 ch. 3 "
                        "(verbal -s)")
def third_person_s(text: str) -> str:
    """A present-tense verb in -s after he/she (or "it" beginning a clause), with at most one adverb between,
    loses its -s: "She likes it" -> "She like it", "he always says" -> "he always say", "she has" -> "she have".
    Only lower-case words; never -ss/-us/-is words ("he thus", "it is"), possessives, is/was, or an object "it"
    ("love it guys")."""
    def fn(m: re.Match) -> str | None:
        verb = m.group(3)
        if not verb.islower() or verb in NOT_VERBS or verb.endswith(("ss", "us", "is", "ous")):
            return None
        if m.group(1).lower() == "it" and not clause_start(m.string, m.start()):
            return None
        return m.group(1) + m.group(2) + base_form(verb)
    return sub(THIRD, text, fn)


THERE = re.compile(rf"(?<![\w@#'’])(there)(?:\s+(is|are|was|were)|{A}(s))(?=\s+[\w\"“'’])", re.IGNORECASE)


@rule("existential-it", "eWAVE F173 variant dummy subjects in existentials, it (UAAVE: A); Green 2002 ch. 3 "
                        "(existential it)")
def existential_it(text: str) -> str:
    """Existential "there is/are/'s" at the start of a clause becomes "it's", "there was/were" becomes "it was":
    "There's a party tonight" -> "It's a party tonight". Never "there" elsewhere ("over there is"), never
    questions ("is there").
    """
    def fn(m: re.Match) -> str | None:
        if not clause_start(m.string, m.start()):
            return None
        verb = (m.group(2) or m.group(3)).lower()
        out = "it was" if verb in ("was", "were") else f"it{apostrophe(m.group(0))}s"
        return out.upper() if m.group(0).isupper() else match_case(out, m.group(1))
    return sub(THERE, text, fn)


THOSE = re.compile(r"(?<![\w@#'’])(those)\s+(?=([a-z][\w'’-]*))", re.IGNORECASE)


@rule("them-demonstrative", "eWAVE F68 them instead of demonstrative those (UAAVE: A); Green 2002 ch. 3")
def them_demonstrative(text: str) -> str:
    """"those" before a noun becomes "them": "those shoes" -> "them shoes". The pronoun "those" stays: before a
    function word ("those who", "those of"), a participle ("those affected", "those living") or nothing."""
    def fn(m: re.Match) -> str | None:
        nxt = m.group(2).lower()
        if nxt in NOT_A_NOUN or nxt.endswith(("ed", "ing")):
            return None
        return match_case("them", m.group(1)) + " "
    return sub(THOSE, text, fn)


YALL = re.compile(r"(?<![\w@#'’])(you)\s+(all|guys)(?![\w'’])", re.IGNORECASE)


@rule("yall", "eWAVE F34 second person plural pronoun other than you, y'all (UAAVE: A); Green 2002 ch. 1")
def yall(text: str) -> str:
    """"you all" and "you guys" become "y'all": "Thank you all" -> "Thank y'all"."""
    return sub(YALL, text, lambda m: match_case("y'all", m.group(1)))


REFLEXIVE = re.compile(r"(?<![\w@#'’])(himself|themselves)(?![\w'’])", re.IGNORECASE)


@rule("reflexives", "eWAVE F11 regularized reflexives paradigm, hisself/theirselves (UAAVE: A); Green 2002 ch. 3")
def reflexives(text: str) -> str:
    """"himself" -> "hisself", "themselves" -> "theirselves"."""
    return sub(REFLEXIVE, text, lambda m: match_case("hisself" if m.group(1).lower() == "himself"
                                                     else "theirselves", m.group(1)))


WH_AUX = re.compile(r"(?<![\w@#'’])(what|where|why|how|when|who)\s+(is|are)\s+(he|she|you|we|they)(?=\s+[a-z])",
                    re.IGNORECASE)


@rule("question-aux", "eWAVE F228 no inversion / no auxiliaries in wh-questions (UAAVE: B); Green 2002 ch. 3 "
                      "(questions)")
def question_aux(text: str) -> str:
    """In a wh-question, present is/are before a subject pronoun is left out: "Why are you doing this" -> "Why
    you doing this", "where is he going" -> "where he going". Only with agreement (is: he/she; are:
    you/we/they) and a following lower-case word ("How are you?" stays)."""
    def fn(m: re.Match) -> str | None:
        if m.group(2).lower() not in AGREES[m.group(3).lower()]:
            return None
        return f"{m.group(1)} {m.group(3)}"
    return sub(WH_AUX, text, fn)
