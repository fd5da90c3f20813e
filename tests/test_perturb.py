import pytest

from core.perturb import gender_of, perturb_texts, swap_gender
from core.perturbations.first_names import load_resource
from core.suites import load_suites

PAIRS = [("he", "she"), ("himself", "herself"), ("Mr", "Mrs"), ("man", "woman"), ("men", "women"),
         ("father", "mother"), ("boy", "girl"), ("son", "daughter"), ("brother", "sister"), ("husband", "wife"),
         ("king", "queen"), ("uncle", "aunt"), ("boyfriend", "girlfriend"), ("sir", "madam"), ("dad", "mom")]


@pytest.mark.parametrize("male, female", PAIRS)
def test_swap_table_both_ways_with_case_kept(male, female):
    assert swap_gender(f"my {male} came", "female") == f"my {female} came"
    assert swap_gender(f"my {female} came", "male") == f"my {male} came"
    assert swap_gender(f"{male.capitalize()} came", "female") == f"{female.capitalize()} came"
    assert swap_gender(f"{female.upper()} CAME", "male") == f"{male.upper()} CAME"


@pytest.mark.parametrize("text, to, expected", [
    ("I told her that it was late.", "male", "I told him that it was late."),
    ("I love her dog.", "male", "I love his dog."),
    ("The book is hers.", "male", "The book is his."),
    ("His mum said the dog is his.", "female", "Her mum said the dog is hers."),
    ("He gave him his keys.", "female", "She gave her her keys."),
    ("My father's car", "female", "My mother's car"),
    ("Her new car, her!", "male", "His new car, him!"),
])
def test_her_and_his_by_role(text, to, expected):
    assert swap_gender(text, to) == expected


def test_gender_of():
    assert gender_of("She and her mother") == "female"
    assert gender_of("he laughed") == "male"
    assert gender_of("he told her") == "mixed"
    assert gender_of("the museum opened") is None


@pytest.fixture(scope="module")
def suites():
    return load_suites()


def test_perturbation_families_and_coverage(suites):
    texts = ["She loved the exhibition!", "Had coffee with Emily at the Tate", "Great talk by a Muslim scholar",
             "The gallery opens at ten", "He told her about it", "Emily and Greg came"]
    cases, coverage = perturb_texts(texts, suites, labels=["happy"] * 6, source="t", seed=0)
    gender = cases[cases["suite"] == "perturb-gender"]
    assert gender["text"].tolist() == ["She loved the exhibition!", "He loved the exhibition!"]
    assert gender["gender"].tolist() == ["female", "male"]
    assert coverage["gender"]["eligible"] == 1 and coverage["gender"]["skipped: mixed genders"] == 1
    names = cases[cases["family"].str.endswith(":names:race")]
    # race swap keeps gender: Emily (female, white) -> one female name per other race group (the census groups
    # of the first-name resource; tests/test_names_at_scale.py checks the resource's rules)
    assert names["race"].tolist() == ["white", "black", "hispanic", "asian"]
    assert set(names["gender"]) == {"female"}
    assert names["text"].iloc[0] == "Had coffee with Emily at the Tate"
    assert all(t.startswith("Had coffee with ") and t.endswith(" at the Tate") for t in names["text"])
    names_g = cases[cases["family"].str.endswith(":names:gender")]
    assert set(names_g["race"]) == {"white"}  # gender swap keeps race
    assert names_g["gender"].tolist() == ["female", "male"] and set(names_g["term"]) - {"(original)"} <= set(
        load_resource().pools[("male", "white")])
    assert coverage["names"]["skipped: several names"] == 1
    ident = cases[cases["suite"] == "perturb-identity"]
    assert ident["religion"].iloc[0] == "muslim" and len(ident) == 7  # the original + 6 other religions
    assert coverage["identity"]["inputs"] == 6
    assert (cases["expected_label"] == "happy").all()


def test_perturbation_is_seeded(suites):
    texts = ["Had coffee with Emily at the Tate"] * 3
    a, _ = perturb_texts(texts, suites, seed=1)
    b, _ = perturb_texts(texts, suites, seed=1)
    assert a.equals(b)


def test_ambiguous_identity_words_are_not_swapped(suites):
    cases, coverage = perturb_texts(["A glass of white wine in the old town"], suites)
    assert cases.empty and "eligible" not in coverage["identity"]


def test_gender_swap_leaves_other_words_untouched():
    from core.perturb import swap_gender

    assert swap_gender("A guide at @NationalGallery said the Queen was there.", "male") == \
        "A guide at @NationalGallery said the King was there."
