"""The dialect plug-in (core/perturbations/dialect*.py): every rule on texts it must rewrite and texts it must
leave alone, the per-rule and all-rules variants, the built-in ``dialect`` suite against the plug-in, and the
default gate on simulated models with and without a planted bias against the AAE sentences."""
import pandas as pd
import pytest

from audit import gate as gates
from audit.metrics import all_metrics
from audit.simulate import LABELS, Effect, SimulatedModel
from core.cases import attributes_of, build_cases
from core.perturb import perturb_texts
from core.perturbations import REGISTRY
from core.perturbations.dialect import ALL_RULES, CAVEAT, reach, variants_of
from core.perturbations.dialect_rules import RULES, rewrite
from core.suites import load_suites, select_suites
from reports.audit import rewritten_examples
from reports.render import render

# rule id -> [(text, expected)]; expected == text: the rule must leave it alone
CASES = {
    "copula-absence": [
        ("She is so happy today.", "She so happy today."),
        ("they're working late, you are late", "they working late, you late"),
        ("HE IS a good teacher", "HE a good teacher"),
        ("She’s at home", "She at home"),
        ("I know who he is.", "I know who he is."),            # no following word
        ("Is he coming?", "Is he coming?"),                     # question: the verb comes first
        ("I'm here and it's fine, that's it", "I'm here and it's fine, that's it"),  # am, it, that keep be
        ("She's been there, he's got it", "She's been there, he's got it"),        # 's = has
        ("he is to blame", "he is to blame"),
        ("they is here", "they is here"),                       # no agreement: not SAE, left alone
    ],
    "habitual-be": [
        ("She is always late for work", "She always be late for work"),
        ("I'm usually tired on Mondays", "I usually be tired on Mondays"),
        ("they are never home", "they never be home"),
        ("She's always wanted a dog", "She's always wanted a dog"),   # 's = has
        ("he's never going to stop", "he's never going to stop"),     # future, not habitual
        ("She is late for work", "She is late for work"),             # no habitual adverb
    ],
    "negative-concord": [
        ("I don't have any money", "I don't have no money"),
        ("She can't find anything anywhere.", "She can't find nothing nowhere."),
        ("nobody does it anymore, not anyone", "nobody does it anymore, not no one"),
        ("I don't know if anyone cares", "I don't know if anyone cares"),        # clause ends at "if"
        ("Do you have any money?", "Do you have any money?"),                    # no negation
        ("I don't think, anyway, any of it", "I don't think, anyway, any of it"),  # punctuation ends scope
        ("He won't say a word to me about anything", "He won't say a word to me about anything"),  # > 6 words
    ],
    "aint": [
        ("It isn't fair", "It ain't fair"),
        ("I'm not ready and they aren't either", "I ain't ready and they ain't either"),
        ("She has not seen it, we haven't", "She ain't seen it, we ain't"),
        ("He didn't go", "He ain't go"),
        ("ISN'T IT", "AIN'T IT"),
        ("I am not sure", "I ain't sure"),
        ("it's not fair, they’re not here, THAT'S NOT IT", "it ain't fair, they ain’t here, THAT AIN'T IT"),
        ("Let's not go", "Let's not go"),
        ("You went, didn't you?", "You went, didn't you?"),   # tag question
        ("It wasn't me", "It wasn't me"),                     # past be stays
    ],
    "dont": [
        ("He doesn't care", "He don't care"),
        ("It DOESN'T matter. Doesn’t it?", "It DON'T matter. Don’t it?"),
        ("He does not care", "He does not care"),
    ],
    "completive-done": [
        ("I have finished my homework", "I done finished my homework"),
        ("she has eaten and we've gone home", "she done ate and we done went home"),
        ("They have told me", "They done told me"),
        ("I have been there", "I have been there"),
        ("I've got a car", "I've got a car"),           # possession
        ("Have you finished?", "Have you finished?"),
        ("I have to leave", "I have to leave"),
        ("we have a hundred", "we have a hundred"),
        ("he have finished", "he have finished"),        # no agreement
        ("I have need of it", "I have need of it"),
    ],
    "gon": [
        ("I'm gonna win", "I'm gon win"),
        ("We are going to be late. Gonna be fun", "We are gon be late. Gon be fun"),
        ("I'm going to school", "I'm going to school"),         # a place
        ("Hard Rain Gonna Fall", "Hard Rain Gonna Fall"),       # a title
    ],
    "finna": [
        ("I'm about to leave", "I'm finna leave"),
        ("About to go", "Finna go"),
        ("He talked about to the crowd", "He talked about to the crowd"),
        ("about to Paris", "about to Paris"),
    ],
    "third-person-s": [
        ("She likes it", "She like it"),
        ("he always says so and she watches TV", "he always say so and she watch TV"),
        ("he tries, she has it, he goes", "he try, she have it, he go"),
        ("She dies", "She die"),
        ("he uses it. It looks good", "he use it. It look good"),
        ("he thus left, she is here, he was", "he thus left, she is here, he was"),
        ("I love it guys", "I love it guys"),                  # object "it"
        ("he Loves it", "he Loves it"),                        # not lower case
        ("she kisses", "she kiss"),
        ("he focuses", "he focus"),
        ("she's famous", "she's famous"),
    ],
    "existential-it": [
        ("There's a party tonight", "It's a party tonight"),
        ("so there are bad people. THERE WAS one", "so it's bad people. IT WAS one"),
        ("Is there a party?", "Is there a party?"),
        ("I left it over there is what I said", "I left it over there is what I said"),
    ],
    "them-demonstrative": [
        ("Those shoes are nice", "Them shoes are nice"),
        ("I want those cookies", "I want them cookies"),
        ("those who know, those affected, those of us", "those who know, those affected, those of us"),
        ("I like those.", "I like those."),
    ],
    "yall": [
        ("Thank you all", "Thank y'all"),
        ("You guys are late", "Y'all are late"),
        ("you alone", "you alone"),
    ],
    "reflexives": [
        ("He did it himself", "He did it hisself"),
        ("They did it THEMSELVES", "They did it THEIRSELVES"),
        ("she did it herself", "she did it herself"),
    ],
    "was-generalization": [
        ("They were late. WE WERE there", "They was late. WE WAS there"),
        ("you weren't here", "you wasn't here"),
        ("Were they late? If you were.", "Were they late? If you were."),   # question; no following word
        ("the kids were here", "the kids were here"),                      # only after a pronoun
    ],
    "question-aux": [
        ("Why are you doing this? where is he going", "Why you doing this? where he going"),
        ("Who are you talking to", "Who you talking to"),
        ("How are you?", "How are you?"),               # no following word
        ("what is they doing", "what is they doing"),   # no agreement
        ("Are you going?", "Are you going?"),           # no wh-word
    ],
    "ing-in": [
        ("I'm going to keep running", "I'm goin' to keep runnin'"),
        ("nothing, something’s", "nothin’, something’s"),  # the text's apostrophe,
        ("one thing: bring the string", "one thing: bring the string"),  # no vowel before -ing
        ("Reading is nice in Beijing", "Reading is nice in Beijing"),    # capitalised
        ("#trending @talking https://t.co/going", "#trending @talking https://t.co/going"),
    ],
}


def test_every_rule_has_examples_and_a_cited_source():
    assert sorted(CASES) == sorted(r.id for r in RULES)
    for r in RULES:
        assert r.doc and ("eWAVE" in r.source or "Green 2002" in r.source), r.id
        assert any(a != b for a, b in CASES[r.id]) and any(a == b for a, b in CASES[r.id]), r.id


@pytest.mark.parametrize("rule_id,text,expected", [(k, a, b) for k, v in CASES.items() for a, b in v])
def test_rule(rule_id, text, expected):
    rule = next(r for r in RULES if r.id == rule_id)
    assert rule.apply(text) == expected


def test_one_variant_per_rule_then_all_rules():
    text = "There's a party tonight and you guys are gonna love it!"
    got = [(v.term, v.text, v.group) for v in variants_of(text)]
    assert got == [
        ("yall", "There's a party tonight and y'all are gonna love it!", "aae"),
        ("existential-it", "It's a party tonight and you guys are gonna love it!", "aae"),
        ("gon", "There's a party tonight and you guys are gon love it!", "aae"),
        (ALL_RULES, "It's a party tonight and y'all are gon love it!", "aae")]
    assert [v.term for v in variants_of("She is so happy today.")] == ["copula-absence"]  # one rule: no all-rules
    assert variants_of("A glass of white wine.") == []
    assert rewrite("He doesn't have any money, he's always broke") == "He don't have no money, he always be broke"


def test_data_families_have_sae_originals_and_rule_terms():
    suites = load_suites()
    cases, coverage = perturb_texts(["I'm not going to the store", "Lovely day"], suites, labels=["neutral"] * 2)
    fam = cases[cases["suite"] == "perturb-dialect"]
    assert fam["dialect"].tolist() == ["sae", "aae", "aae", "aae"]
    assert fam["term"].tolist() == ["(original)", "aint", "ing-in", "all-rules"]
    assert fam["text"].tolist()[1:] == ["I ain't going to the store", "I'm not goin' to the store",
                                        "I ain't goin' to the store"]
    assert coverage["dialect"] == {"changed:dialect:sae": 1, "rule:aint": 1, "rule:ing-in": 1, "inputs": 2}
    assert REGISTRY["dialect"].caveat == CAVEAT and "not its speakers' full grammar" in CAVEAT


def test_reach_counts_texts_per_rule():
    counts = reach(["She is here", "he is nice and he likes it", "Lovely"])
    assert counts["texts"] == 3 and counts["any"] == 2
    assert counts["copula-absence"] == 2 and counts["third-person-s"] == 1 and counts["aint"] == 0


@pytest.fixture(scope="module")
def suite_cases():
    suites = select_suites(["dialect"])
    return build_cases(suites), attributes_of(suites)


def test_suite_expands_into_matched_pairs_the_plugin_reproduces(suite_cases):
    cases, attributes = suite_cases
    assert attributes == ["dialect"] and len(cases) == 1878 and cases["family"].nunique() == 231
    assert set(cases["dialect"]) == {"sae", "aae"} and cases["term"].notna().all()
    assert set(cases["surface"]) == {r.id for r in RULES}  # every rule in at least one frame
    rules = {r.id: r for r in RULES}
    pairs = cases.pivot_table(index=["family", "pair"], columns="dialect", values="text", aggfunc="first")
    assert len(pairs) == 939 and pairs.notna().all().all()
    for (family, pair), row in pairs.iterrows():
        assert rules[pair.split(":")[0]].apply(row["sae"]) == row["aae"], (family, row["sae"])


def test_report_shows_the_caveat_and_rewritten_examples_escaped(suite_cases):
    data, _ = perturb_texts(["<i>She is so happy</i>", "He doesn't have any money"], load_suites())
    both = pd.concat([data, suite_cases[0]], ignore_index=True)
    (entry,) = rewritten_examples(both, per_rule=1)
    assert entry["caveat"] == CAVEAT and entry["attribute"] == "dialect"
    rules = [e["rule"] for e in entry["examples"]]
    assert rules == sorted(set(rules)) and {"copula-absence", "dont", "all-rules", "habitual-be"} <= set(rules)
    first = next(e for e in entry["examples"] if e["rule"] == "copula-absence")
    assert (first["original"], first["rewrite"], first["source"]) == \
        ("<i>She is so happy</i>", "<i>She so happy</i>", "perturb-dialect")  # real data first
    html = render("rewrites.html.j2", rewrites=[entry])
    assert "not its speakers&#39; full grammar" in html and "&lt;i&gt;She so happy&lt;/i&gt;" in html
    assert "<i>She" not in html
    assert rewritten_examples(suite_cases[0].drop(columns="dialect")) == []


def audit(cases, attributes, model, seed):
    gate, _ = gates.load_gate()
    metrics = [m.to_dict() for m in all_metrics(model.score(cases, seed), LABELS, attributes, seed=seed, slices=False)]
    result = gates.evaluate(gate, metrics)
    return result, metrics


def test_model_biased_against_aae_fails_naming_the_aae_group(suite_cases):
    cases, attributes = suite_cases
    model = SimulatedModel([Effect({"dialect": "aae"}, "angry", shift=0.05)])
    for seed in range(3):
        result, _ = audit(cases, attributes, model, seed)
        shift = next(r for r in result["rules"] if r["metric"] == "mean_shift")
        assert result["verdict"] == "fail" and shift["verdict"] == "fail"
        assert shift["worst"]["id"] == "mean_shift/dialect/dialect/aae/angry"
        assert shift["worst"]["description"].startswith("aae vs sae: p(angry) +0.0")


def test_fair_noisy_model_passes_and_the_dialect_effect_is_precise(suite_cases):
    cases, attributes = suite_cases
    verdicts, half_widths = [], []
    for seed in range(20):
        result, metrics = audit(cases, attributes, SimulatedModel(), seed)
        verdicts.append(result["verdict"])
        half_widths += [(m["ci"][1] - m["ci"][0]) / 2 for m in metrics
                        if m["metric"] == "mean_shift" and m["template"] is None]
    assert verdicts.count("pass") >= 19
    assert max(half_widths) / 1.96 < 0.03 / 6  # standard error of the group effect, well below 0.03 / 4
