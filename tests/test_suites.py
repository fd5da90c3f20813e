import re
import time
from pathlib import Path

import pandas as pd
import pytest

from audit.__main__ import main as audit_main
from core.cases import build_cases
from core.suites import BUILTIN_DIR, PLACEHOLDER, common_words, load_suite, load_suites, select_suites, term_of
from core.errors import InputError


@pytest.fixture(scope="module")
def suites():
    return load_suites()


def test_eec_reproduces_the_corpus_exactly(suites, data_dir):
    cases = build_cases([suites["eec"]])
    corpus = pd.read_csv(data_dir / "eec" / "Equity-Evaluation-Corpus.csv")
    ours = pd.DataFrame({"Sentence": cases["text"], "Template": cases["template"], "Person": cases["person"],
                         "Gender": cases["gender"], "Race": cases["race"], "Emotion": cases["emotion_word_label"],
                         "Emotion word": cases["emotion_word"]})
    cols = list(ours.columns)
    norm = lambda f: f[cols].fillna("").astype(str).sort_values(cols).reset_index(drop=True)
    assert len(cases) == 8640
    pd.testing.assert_frame_equal(norm(corpus), norm(ours))


def protected_words(suite) -> set[str]:
    words = set()
    for lex in suite.spec.protected.values():
        for group in lex.groups:
            words |= {w.lower() for f in group.forms.values() for w in f.split()}
            for term in group.terms:
                t = term_of(term)
                for form in (t.text, t.subject, t.object, t.possessive, t.reflexive):
                    words |= {w.lower() for w in (form or "").split()}
    return words


@pytest.mark.parametrize("name", ["eec", "identity", "names"])
def test_family_members_differ_only_in_the_protected_slot(suites, name):
    suite = suites[name]
    cases = build_cases([suite])
    drop = protected_words(suite) | {"a", "an"}  # the article follows the term ("a Muslim" / "an American")
    size = sum(len(g.terms) for lex in suite.spec.protected.values() for g in lex.groups)
    for fam, rows in cases.groupby("family"):
        assert len(rows) == size, fam  # complete: every term, no sentence lost to de-duplication
        assert rows["text"].nunique() == size
        skeletons = {tuple(w for w in re.findall(r"[\w'-]+", t.lower()) if w not in drop) for t in rows["text"]}
        assert len(skeletons) == 1, (fam, skeletons)
        fills = [c for c in cases.columns if c.endswith("_label") or c in ("emotion_word", "adjective", "feeling")]
        assert len(rows[fills].drop_duplicates()) == 1


def test_cases_table_columns(suites):
    cases = build_cases(list(suites.values()))
    for col in ("case_id", "suite", "template", "family", "text", "expectation", "expected_label", "source_row",
                "gender", "race", "religion", "nationality", "sexual_orientation", "disability", "age", "person"):
        assert col in cases.columns
    assert cases["case_id"].is_unique and cases["text"].is_unique
    eec = cases[cases["suite"] == "eec"]
    assert eec["religion"].isna().all() and eec["gender"].notna().all()
    names = cases[cases["suite"] == "names"]
    assert set(names["race"]) == {"African-American", "European", "Hispanic", "Asian"}


def test_max_cases_samples_whole_families_deterministically(suites):
    full = build_cases([suites["names"]])
    a = build_cases([suites["names"]], max_cases=500, seed=1)
    b = build_cases([suites["names"]], max_cases=500, seed=1)
    c = build_cases([suites["names"]], max_cases=500, seed=2)
    assert a.equals(b) and not a.equals(c)
    assert 0 < len(a) <= 500
    sizes = full.groupby("family").size()
    got = a.groupby("family").size()
    assert (got == sizes[got.index]).all()


def test_generation_is_fast(tmp_path):
    """100,000 cases from one file: a regression guard on the order of magnitude, not a timing benchmark."""
    names = ", ".join(f"Name{chr(65 + i // 26)}{chr(97 + i % 26)}" for i in range(100))
    words = ", ".join(f"word{i}" for i in range(100))
    (tmp_path / "big.yaml").write_text(f"""suite: big
protected:
  person:
    groups:
      - {{attributes: {{gender: female}}, terms: [{names}]}}
      - {{attributes: {{gender: male}}, terms: [{names.replace('Name', 'Male')}]}}
fills:
  w: {{groups: [{{label: x, terms: [{words}]}}]}}
templates:
""" + "".join(f'  - {{id: t{i}, text: "{{person}} said {{w}} number {i}."}}\n' for i in range(5)))
    suite = load_suite(tmp_path / "big.yaml")
    start = time.perf_counter()
    cases = build_cases([suite])
    assert len(cases) == 100_000
    assert time.perf_counter() - start < 60


BASE = """suite: bad
protected:
  person:
    groups:
      - {attributes: {gender: female}, terms: [Emily, Sarah]}
      - {attributes: {gender: male}, terms: [Greg, Todd]}
fills:
  mood: {groups: [{label: joy, terms: [happy]}]}
templates:
  - {id: t1, text: "{person} is {mood}."}
"""


@pytest.mark.parametrize("change, line, field, message", [
    (("{person} is {mood}.", "{person} is {weather}."), 10, "templates.0.text", "unknown slot {weather}"),
    (("terms: [Greg, Todd]", "terms: []"), 6, "protected.person.groups.1.terms", "at least 1 item"),
    (("{attributes: {gender: male}, terms: [Greg, Todd]}", "{attributes: {gender: female}, terms: [Greg, Todd]}"),
     4, "protected.person.groups", "single group 'female'"),
    (("terms: [Greg, Todd]", "terms: [Greg, Emily]"), 6, "protected.person.groups.1.terms.1", "duplicate term 'Emily'"),
    (("{person} is {mood}.", "Someone is {mood}."), 10, "templates.0.text", "no protected slot"),
    (("  - {id: t1,", "  - {id: t1, colour: red,"), 10, "templates.0.colour", "Extra inputs"),
    (("terms: [Greg, Todd]", "terms: [Will, Todd]"), 6, "protected.person.groups.1.terms.0", "common English word"),
    (("fills:", "fills: ["), 7, "", "bad YAML"),
])
def test_bad_files_name_file_line_and_field(tmp_path, change, line, field, message):
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.replace(*change))
    with pytest.raises(InputError) as err:
        load_suite(path)
    text = str(err.value)
    assert text.startswith(f"{path}:{line}: ") or (not field and text.startswith(f"{path}:")), text
    assert field in text and message in text


def test_bad_file_in_cli_exits_2(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text(BASE.replace("{mood}.", "{nope}."))
    assert audit_main(["templates", "validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.yaml:10" in err[0] and "unknown slot {nope}" in err[0]


def test_user_folder_adds_a_new_attribute(tmp_path):
    (tmp_path / "caste.yaml").write_text("""suite: caste
protected:
  who:
    groups:
      - {attributes: {caste: dalit}, terms: [a Dalit student]}
      - {attributes: {caste: brahmin}, terms: [a Brahmin student]}
templates:
  - {id: t, text: "{who} won the prize."}
""")
    (suite,) = select_suites(["caste"], [tmp_path])
    cases = build_cases([suite])
    assert cases["caste"].tolist() == ["dalit", "brahmin"]
    assert cases["text"].tolist() == ["A Dalit student won the prize.", "A Brahmin student won the prize."]


def test_grammatical_forms_keep_templates_grammatical(suites):
    cases = build_cases([suites["eec"]])
    assert "She found herself in an irritating situation." in set(cases["text"])
    assert "I made him feel angry." in set(cases["text"])
    assert "My dad found himself in a vexing situation." in set(cases["text"])


def test_name_hygiene_in_builtin_lexicons(suites):
    ambiguous = common_words()
    assert {"will", "joy", "faith", "grace", "hope", "may", "go", "true"} <= ambiguous
    for suite in suites.values():
        for slot, lex in suite.spec.protected.items():
            uses = [m for t in suite.spec.templates for m in PLACEHOLDER.finditer(t.text) if m.group(1) == slot]
            for group in lex.groups:
                for term in map(term_of, group.terms):
                    if not term.text[:1].isupper() or term.text.lower() not in ambiguous:  # names only
                        continue
                    # allowed only where every frame puts the name in a subject or object position
                    assert term.allow_common_word, (suite.name, term.text)
                    assert all(m.group(2) in ("subject", "object", "reflexive") for m in uses), (suite.name, term.text)


def test_templates_cli(capsys):
    assert audit_main(["templates", "list"]) == 0
    out = capsys.readouterr().out
    assert "eec" in out and "8640" in out and "names" in out
    assert audit_main(["templates", "preview", "identity", "--n", "3"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    assert audit_main(["templates", "preview", "nope"]) == 2


def test_generate_writes_cases_without_a_model(tmp_path, capsys):
    out = tmp_path / "cases.parquet"
    assert audit_main(["generate", "--suite", "identity", "--out", str(out)]) == 0
    cases = pd.read_parquet(out)
    assert len(cases) == 10062 and "religion" in cases.columns  # identity v3: 258 families x 39 terms
    assert "10062 cases" in capsys.readouterr().out


def test_eec_comparisons_are_like_for_like(suites):
    """Issue 8: "I made Nichelle feel ecstatic." is never compared with "I made my father feel ecstatic."."""
    from audit.matching import match

    cases = build_cases([suites["eec"]])
    for attribute in ("gender", "race", "gender×race"):
        m = match(cases, attribute, ["gender", "race"])
        rows = cases.iloc[m.rows].assign(stratum=m.stratum)
        for _, members in rows.groupby("stratum"):
            assert members["surface"].nunique() == 1 and members["family"].nunique() == 1
            if members["surface"].iloc[0] == "noun phrase":
                assert len(members) == 2 and attribute == "gender"  # she/he, my mother/my father ...
                pair = {t.lower() for t in members["term"]}
                assert pair in ({"she", "he"}, {"her", "him"}) or pair.pop().split()[0] == pair.pop().split()[0]
            else:
                other = {"gender": "race", "race": "gender"}.get(attribute)
                assert other is None or members[other].nunique() == 1
    race = match(cases, "race", ["gender", "race"])
    assert set(cases.iloc[race.rows]["surface"]) == {"name"}


def test_paired_groups_must_list_counterparts(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BASE.replace("{attributes: {gender: female}, terms: [Emily, Sarah]}",
                                 "{attributes: {gender: female}, paired: true, terms: [Emily, Sarah]}")
                    .replace("{attributes: {gender: male}, terms: [Greg, Todd]}",
                             "{attributes: {gender: male}, paired: true, terms: [Greg]}"))
    with pytest.raises(InputError, match=r"bad.yaml:6: field protected.person.groups.1.terms: paired group has 1"):
        load_suite(path)


def test_data_joins_the_default_suites_and_suite_none_audits_it_alone(tmp_path, capsys):
    """issue 17: --data adds its swapped sentences to the default suites; a --suite list replaces them; --suite
    none audits the data alone; none with another suite is an error."""
    from core.suites import DEFAULT_SUITES

    data = tmp_path / "d.csv"
    pd.DataFrame({"text": ["She was so happy with her new job.", "My brother is always working late."]}).to_csv(
        data, index=False)
    runs = {"defaults": [], "eec": ["--suite", "eec"], "none": ["--suite", "none"]}
    suites = {}
    for name, extra in runs.items():
        out = tmp_path / f"{name}.parquet"
        assert audit_main(["generate", "--data", str(data), *extra, "--out", str(out)]) == 0
        suites[name] = set(pd.read_parquet(out)["suite"])
    swaps = {"perturb-gender", "perturb-dialect"}
    assert suites["defaults"] == set(DEFAULT_SUITES) | swaps
    assert suites["eec"] == {"eec"} | swaps and suites["none"] == swaps
    capsys.readouterr()
    assert audit_main(["generate", "--data", str(data), "--suite", "none", "--suite", "eec",
                       "--out", str(tmp_path / "x.parquet")]) == 2
    assert "--suite none means no suite" in capsys.readouterr().err
