"""Name swaps on real text with the first-name resource (core/perturbations/first_names.py, names.py):
what is taken for a first name and what is not, case and possessives kept, attributes kept, seeded choices."""
import pytest

from core.perturbations.first_names import (GENDER_SHARE, RACE_SHARE, RACES, RESOURCE_FILE, find_names,
                                            load_resource)
from core.perturbations.names import NameSwap
from core.perturb import perturb_texts, swap_summary
from core.suites import load_suites


@pytest.fixture(scope="module")
def resource():
    return load_resource()


def names_in(text: str, resource) -> list[str]:
    return [text[f.start:f.end] for f in find_names(text, resource)]


def test_resource_loads_offline_with_documented_groups(resource):
    assert RESOURCE_FILE.is_file() and RESOURCE_FILE.read_text(encoding="utf-8").startswith("# First names of the 2020")
    emily, tyrone, jose, priya = (resource.names[n] for n in ("Emily", "Tyrone", "Jose", "Priya"))
    assert (emily.gender, emily.race) == ("female", "white") and (tyrone.gender, tyrone.race) == ("male", "black")
    jamal = resource.names["Jamal"]  # 73.5% black: below RACE_SHARE, a gender but no race
    assert (jamal.gender, jamal.race, jamal.dominant) == ("male", None, "black")
    assert (jose.gender, jose.race) == ("male", "hispanic") and (priya.gender, priya.race) == ("female", "asian")
    assert sorted(resource.pools) == sorted((g, r) for g in ("female", "male") for r in RACES)
    assert all(len(pool) == 40 for pool in resource.pools.values())
    for (gender, race), pool in resource.pools.items():  # replacements are clear members of their cell
        for n in pool:
            info = resource.names[n]
            assert info.gender == gender and info.race == race and not info.ambiguous
    assert 0.5 < GENDER_SHARE and 0.5 < RACE_SHARE


@pytest.mark.parametrize("word", ["Will", "Joy", "Mark", "Hope", "Bill", "Rose", "May", "Grace", "Frank", "The",
                                  "Jesus", "Paris", "Jordan", "Georgia", "Clinton", "Taylor", "Allen", "Kim"])
def test_words_places_and_surnames_are_not_swappable_names(resource, word):
    assert word not in resource.names  # common words, places, deities, names at least as common as surnames


@pytest.mark.parametrize("text, expected", [
    ("Had coffee with Emily at the Tate", ["Emily"]),
    ("WE LOVED EMILY'S TALK", ["EMILY"]),                # capitals in a text written in capitals
    ("EMILY's talk was great", []),                     # ... but in a mixed-case text an acronym or brand
    ("Emily Smith said hello", ["Emily"]),              # a full name: the first name only
    ("Emily is here", ["Emily"]),                       # not a word: a name even at the start
    ("Loved hearing from Céline Dion today", ["Céline"]),  # accents; after a first name: a surname
    ("I will go, Will you?", []),                       # common words in any case
    ("Bob Dylan sings", []),                            # surname after a first name that is also a word
    ("Dear Mr. Jamal, thanks", []), ("Dr Emily today", []),  # after a title
    ("@Emily #Emily emily@mail.com http://t.co/Emily", []),  # handles, hashtags, e-mails, URLs
    ("Emily-Rose and Emily2 and O'Emily", []),          # joined to other characters
    ("the talk by Amer…", []),                          # cut short by truncation
    ("Back to San Francisco soon", []),                 # part of a place name
    ("Meet at Lincoln Center or Emily Street", []),     # before a place word
    ("The latest in Lawrence Kansas", []),              # before a state
    ("met emily yesterday", []),                        # lower case: not taken for a name
])
def test_what_is_taken_for_a_first_name(resource, text, expected):
    assert names_in(text, resource) == expected


def test_dictionary_word_names_need_a_name_context(resource):
    assert resource.names["Carol"].ambiguous
    assert names_in("We sang with Carol at the museum", resource) == ["Carol"]
    assert names_in("Carol sang at the museum", resource) == []            # sentence start: a word first
    assert names_in("Carol's song at the museum", resource) == ["Carol"]   # ... unless possessive
    assert names_in("Christmas Carol Singing At The Museum Tonight", resource) == []  # title case: no signal
    assert names_in("WE SANG WITH CAROL", resource) == []


def swap(text: str, seed: int = 0):
    return NameSwap(load_suites(), seed).families(text)


def test_swaps_keep_case_possessive_and_everything_else(resource):
    gender, race = swap("WE LOVED EMILY'S TALK, Emily!")
    assert gender.attribute == "gender" and gender.group == "female" and gender.keep == {"race": "white"}
    [v] = gender.variants
    pick = v.term
    assert v.group == "male" and pick in resource.pools[("male", "white")]
    assert v.text == f"WE LOVED {pick.upper()}'S TALK, {pick}!"
    assert race.attribute == "race" and race.group == "white" and race.keep == {"gender": "female"}
    assert [x.group for x in race.variants] == ["black", "hispanic", "asian"]
    for x in race.variants:
        assert x.term in resource.pools[("female", x.group)]
        assert x.text == f"WE LOVED {x.term.upper()}'S TALK, {x.term}!"


def test_full_name_swaps_the_first_name_only_and_several_names_are_skipped():
    [gender, race] = swap("Tyrone Smith scored twice")
    assert gender.variants[0].text == gender.variants[0].term + " Smith scored twice"
    assert race.keep == {"gender": "male"} and race.group == "black"
    [gender] = swap("Jamal Smith scored twice")  # no clear race: a gender swap only, to a name of the dominant race
    assert gender.keep == {} and gender.variants[0].term in load_resource().pools[("female", "black")]
    plugin = NameSwap(load_suites(), 0)
    assert plugin.families("Emily and Jamal came") == [] and plugin.coverage["skipped: several names"] == 1
    assert plugin.families("Nothing to see here") == []


def test_choices_are_seeded():
    a = [v.text for f in swap("Had coffee with Emily", seed=3) for v in f.variants]
    assert a == [v.text for f in swap("Had coffee with Emily", seed=3) for v in f.variants]
    assert a != [v.text for f in swap("Had coffee with Emily", seed=4) for v in f.variants]


def test_a_suite_of_its_own_confines_the_swaps_to_its_terms():
    from finetune.mitigation import _suite, split_suites

    seen = {"names": _suite(split_suites(0)["names-train"])}
    plugin = NameSwap(seen, 0)
    assert plugin.confined and plugin.families("Had coffee with Priyanka") == []  # not a suite term


def test_coverage_counts_and_examples():
    texts = ["Had coffee with Emily", "Jamal Smith scored", "No names here", "I will go"]
    frame, coverage = perturb_texts(texts, load_suites(), seed=0)
    assert coverage["names"]["eligible"] == 2 and coverage["names"]["inputs"] == 4
    summary = swap_summary(frame, n=3, seed=0)
    assert summary["names"]["texts changed"] == 2
    examples = summary["names"]["examples"]
    assert len(examples) == 3 and {e["original"] for e in examples} <= set(texts[:2])
    assert all(e["swapped"] != e["original"] and e["attribute"] in ("gender", "race") for e in examples)
    assert examples == swap_summary(frame, n=3, seed=0)["names"]["examples"]
