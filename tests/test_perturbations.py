"""The perturbation contract and registry (core/perturbations/), and every robustness plug-in's exact output."""
import pytest

from core import perturbations as P
from core.perturb import case_attributes, parse_robustness, perturb_texts, robustness_texts
from core.perturbations import base
from core.errors import InputError
from core.suites import load_suites

TWEET = "She loved the exhibition! Don't miss it 😍 #BritishMuseum"


def variants(name: str, text: str, seed: int = 0) -> list[tuple[str, str]]:
    return P.REGISTRY[name](None, seed).variants(text)


def test_registry_holds_the_swaps_then_the_robustness_plugins_in_run_order():
    assert [p.name for p in P.counterfactual()] == ["gender", "names", "identity", "dialect"]
    assert [p.name for p in P.robustness()] == ["typos", "case", "punctuation", "tweet", "contractions"]
    assert all(p.attribute == "robustness" for p in P.robustness())
    assert P.declared_attributes() == ["gender", "dialect"]


def test_typos_are_keyboard_neighbours_reproducible_from_the_seed():
    assert variants("typos", TWEET) == [("She loved the exhibotion! Don't miss it 😍 #BritishMuseum", "typo")]
    assert variants("typos", TWEET, seed=1) == [("She loved the exhibition! Don't kiss it 😍 #BritishMuseum", "typo")]
    assert variants("typos", "What a day at @NationalGallery https://t.co/abc") == [
        ("Qhat a day at @NationalGallery https://t.co/abc", "typo")]  # case kept; handles and URLs untouched
    assert variants("typos", TWEET) == variants("typos", TWEET)  # the stream is the text's own, not shared
    from core.perturbations.typos import NEIGHBOURS

    assert NEIGHBOURS["s"] == "adewxz" and NEIGHBOURS["q"] == "aw" and NEIGHBOURS["m"] == "jkn"
    assert variants("typos", "ok :)") == []  # no word of three letters


def test_case_changes():
    assert variants("case", "They cannot wait, it's fun!!") == [
        ("they cannot wait, it's fun!!", "lower"), ("THEY CANNOT WAIT, IT'S FUN!!", "upper"),
        ("They Cannot Wait, It's Fun!!", "title")]
    assert variants("case", "great talk") == [("GREAT TALK", "upper"), ("Great Talk", "title")]  # unchanged: dropped


def test_punctuation_edits():
    assert variants("punctuation", "I am not sure it is open.") == [
        ("I am not sure it is open", "drop"), ("I am not sure it is open...", "repeat")]
    assert variants("punctuation", "They cannot wait, it's fun!!") == [
        ("They cannot wait, it's fun", "drop"), ("They cannot wait, it's fun!!!!", "repeat")]
    assert variants("punctuation", "Great talk") == [("Great talk.", "add")]
    assert variants("punctuation", "Rated 3.5 at https://t.co/abc") == []  # marks inside tokens, a final URL


def test_tweet_emoji_and_hashtag_edits():
    assert variants("tweet", TWEET) == [
        ("She loved the exhibition! Don't miss it 😍 #BritishMuseum 📍", "emoji-add"),
        ("She loved the exhibition! Don't miss it #BritishMuseum", "emoji-remove"),
        ("She #loved the exhibition! Don't miss it 😍 #BritishMuseum", "hashtag-add"),
        ("She loved the exhibition! Don't miss it 😍 BritishMuseum", "hashtag-strip")]
    assert variants("tweet", '"Amazing" day (truly).') == [
        ('"Amazing" day (truly). 📸', "emoji-add"), ('"#Amazing" day (truly).', "hashtag-add")]
    assert variants("tweet", "What a day at @NationalGallery https://t.co/abc") == [
        ("What a day at @NationalGallery https://t.co/abc 🔗", "emoji-add")]  # no word to tag


def test_contractions_both_ways_with_case():
    assert variants("contractions", "They cannot wait, it's fun!!") == [
        ("They cannot wait, it is fun!!", "expand"), ("They can't wait, it's fun!!", "contract")]
    assert variants("contractions", "I am not sure it is open.") == [("I'm not sure it's open.", "contract")]
    assert variants("contractions", "DON’T go. Won't you?") == [("DO NOT go. Will not you?", "expand")]
    assert variants("contractions", "Great talk") == []


def test_robustness_families_and_coverage():
    frame, coverage = robustness_texts([TWEET, "ok"], ["case", "contractions"], labels=["happy", "neutral"],
                                       source="data", seed=0)
    fam = frame[frame["family"] == "robustness:data:0:case:robustness"]
    assert fam["robustness"].tolist() == ["original", "lower", "upper", "title"]
    assert fam["text"].iloc[0] == TWEET and set(fam["expected_label"]) == {"happy"}
    assert set(frame["origin"]) == {"data"} and set(frame["suite"]) == {"robustness-case", "robustness-contractions"}
    assert coverage["case"] == {"applied": 2, "variants": 5, "variants:lower": 1, "variants:upper": 2,
                                "variants:title": 2, "inputs": 2}
    assert coverage["contractions"] == {"applied": 1, "variants": 1, "variants:expand": 1, "inputs": 2}


def test_robustness_option_values():
    assert parse_robustness("all") == parse_robustness(None) == [p.name for p in P.robustness()]
    assert parse_robustness("none") == [] and parse_robustness("typos, case") == ["typos", "case"]
    for bad, why in (("typo", "unknown perturbation 'typo'"), ("case,case", "named twice"),
                     ("gender", "unknown perturbation 'gender'")):
        with pytest.raises(InputError, match=why):
            parse_robustness(bad)


class Southern(base.Perturbation):
    """A toy counterfactual plug-in: one file and one registration line are all it takes."""
    name = "southern"
    attribute = "region"
    declares = ("region",)

    def variants(self, text):
        return [(text.replace("you all", "y'all"), "southern")] if "you all" in text else []


class Shout(base.RobustnessPerturbation):
    name = "shout"

    def variants(self, text):
        return base.distinct(text, [(text + "!!!", "shout")])


@pytest.fixture
def registry():
    """The registry, restored after the test (plug-ins registered by a test do not leak into others)."""
    saved = dict(base.REGISTRY)
    yield base.REGISTRY
    base.REGISTRY.clear()
    base.REGISTRY.update(saved)


def test_a_registered_plugin_joins_perturb_output_and_the_attribute_list(registry):
    suites = load_suites()
    assert "region" not in case_attributes(list(suites.values()))
    base.register(Southern)  # the registration line
    base.register(Shout)
    assert case_attributes(list(suites.values()))[:3] == ["gender", "dialect", "region"]
    cases, coverage = perturb_texts(["Thank you all, she said"], suites)
    toy = cases[cases["suite"] == "perturb-southern"]
    assert toy["text"].tolist() == ["Thank you all, she said", "Thank y'all, she said"]
    assert toy["region"].tolist() == ["original", "southern"] and "region" in cases.columns
    assert coverage["southern"] == {"changed:region:original": 1, "inputs": 1}
    assert cases[cases["suite"] == "perturb-gender"]["text"].tolist()[1] == "Thank you all, he said"  # others unchanged
    assert "shout" in parse_robustness("all") and robustness_texts(["hi"], ["shout"])[0]["text"].tolist() == \
        ["hi", "hi!!!"]


def test_the_contract_is_checked_when_a_plugin_is_defined_or_registered(registry):
    with pytest.raises(TypeError, match="define variants"):
        type("Empty", (base.Perturbation,), {"name": "empty", "attribute": "x"})
    with pytest.raises(ValueError, match="already registered"):
        base.register(type("Other", (base.RobustnessPerturbation,), {"name": "typos", "variants": lambda s, t: []}))
    assert registry["typos"].__name__ == "Typos"
