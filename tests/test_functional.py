"""CheckList's MFT and DIR tests (audit/functional.py): the suite format, the pairs, the metrics on simulated
models with known behaviour, the gate's rule kinds, classes the model lacks, and the report section."""
import json

import numpy as np
import pandas as pd
import pytest

from audit import gate as gates
from audit.__main__ import main as audit_main
from audit.functional import DEFAULT_TOLERANCE, functional_tests
from audit.simulate import LABELS, Effect, SimulatedModel
from audit.stats import wilson
from core.cases import build_cases
from core.errors import InputError
from core.suites import load_suite, select_suites

MAP = {"joy": "happy", "anger": "angry", "sadness": "sad"}

DIR_SUITE = """suite: dirt
protected:
  person:
    groups:
      - {attributes: {gender: female}, terms: [Maria]}
      - {attributes: {gender: male}, terms: [Diego]}
fills:
  food: {groups: [{terms: [pizza, soup]}]}
  remark: {groups: [{terms: [I love it!, Yum.]}]}
templates:
  - id: ate
    text: "{person} ate {food}."
    expect: direction
    direction: {label: joy, sign: "+"}
    variants: ["{base} {remark}", "{person} did not eat {food}."]
"""


def test_dir_template_yields_exact_pairs(tmp_path):
    (tmp_path / "dirt.yaml").write_text(DIR_SUITE)
    cases = build_cases([load_suite(tmp_path / "dirt.yaml")])
    bases = cases[cases["base_text"].isna()]
    assert bases["text"].tolist() == ["Maria ate pizza.", "Diego ate pizza.", "Maria ate soup.", "Diego ate soup."]
    pairs = set(zip(cases["base_text"].dropna(), cases.loc[cases["base_text"].notna(), "text"]))
    expected = set()
    for food in ("pizza", "soup"):
        for who in ("Maria", "Diego"):
            base = f"{who} ate {food}."
            expected |= {(base, f"{base} I love it!"), (base, f"{base} Yum."), (base, f"{who} did not eat {food}.")}
    assert pairs == expected and len(cases) == 16
    variants = cases[cases["base_text"].notna()]
    # a variant family still differs only in the protected slot; its cluster is the base's family
    assert {tuple(sorted(g)) for _, g in variants.groupby("family")["gender"]} == {("female", "male")}
    assert set(variants["base_family"]) == {"dirt:ate:0", "dirt:ate:1"}
    assert variants["expected_label"].isna().all() and (variants["direction_sign"] == "+").all()
    # --max-cases keeps a base sentence with its variants
    sampled = build_cases([load_suite(tmp_path / "dirt.yaml")], max_cases=8, seed=0)
    assert len(sampled) == 8 and sampled["base_text"].dropna().isin(sampled["text"]).all()


def test_builtin_functional_suite():
    cases = build_cases(select_suites(["functional"]))
    assert 200 <= len(cases) <= 400  # a few hundred sentences beside the bias suites' 15,898
    assert cases["slot"].isna().all() and "gender" not in cases  # no protected slot: nothing for the bias metrics
    assert set(cases["expectation"]) == {"label", "direction"}
    pairs = cases[cases["base_text"].notna()]
    assert len(pairs) == 232 and pairs["base_text"].isin(cases["text"]).all()
    negate = pairs[pairs["template_id"] == "negate-joy"]
    assert ("I am happy about the trip.", "I am not happy about the trip at all.") in set(
        zip(negate["base_text"], negate["text"]))
    assert (negate["direction_sign"] == "-").all()


BAD = """suite: bad
protected:
  person:
    groups:
      - {attributes: {gender: female}, terms: [Emily]}
      - {attributes: {gender: male}, terms: [Greg]}
fills:
  mood: {groups: [{label: joy, terms: [happy]}]}
templates:
  - id: t1
    text: "{person} is {mood}."
    expect: direction
    direction: {label: joy, sign: "+"}
    variants: ["{base} Yes!", "{person} is very {mood}."]
"""


@pytest.mark.parametrize("change, line, field, message", [
    (('    variants: ["{base} Yes!", "{person} is very {mood}."]\n', ""), 10, "templates.0.variants",
     "expect: direction needs 'variants'"),
    (('    direction: {label: joy, sign: "+"}\n', ""), 10, "templates.0.direction", "needs 'direction: {label, sign}'"),
    (('sign: "+"', "sign: up"), 13, "templates.0.direction.sign", "'+' or '-'"),
    (('{label: joy, sign: "+"}', '{sign: "+"}'), 13, "templates.0.direction.label", "Field required"),
    (("expect: direction", "expect: invariant"), 13, "templates.0.direction", "needs expect: direction"),
    (('"{person} is very {mood}."', '"{person} is very {mod}."'), 14, "templates.0.variants.1", "unknown slot {mod}"),
    (('"{person} is very {mood}."', '"Someone is very {mood}."'), 14, "templates.0.variants.1",
     "drops the protected term"),
    (('"{base} Yes!"', '"{base}"'), 14, "templates.0.variants.0", "equals the base sentence"),
    (("  mood: {groups", "  base: {groups: [{terms: [x]}]}\n  mood: {groups"), 8, "fills.base", "reserved"),
    (('"{person} is {mood}."', '"Someone is {mood}."'), 11, "templates.0.text", None),  # DIR needs no protected slot
])
def test_suite_format_errors_name_file_line_and_field(tmp_path, change, line, field, message):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD.replace(*change))
    if message is None:  # but then its variants may not use one
        with pytest.raises(InputError, match="variants.1: variant uses protected slot"):
            load_suite(path)
        return
    with pytest.raises(InputError) as err:
        load_suite(path)
    text = str(err.value)
    assert text.startswith(f"{path}:{line}: field {field}: "), text
    assert message in text, text


def test_invariant_templates_still_need_a_protected_slot(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD.replace('"{person} is {mood}."', '"Someone is {mood}."').replace("expect: direction\n", "")
                    .replace('    direction: {label: joy, sign: "+"}\n', "")
                    .replace('    variants: ["{base} Yes!", "{person} is very {mood}."]\n', ""))
    with pytest.raises(InputError, match=r"bad.yaml:11: field templates.0.text: template has no protected slot"):
        load_suite(path)


# ------------------------------------------------------------------ MFT
def mft_table() -> pd.DataFrame:
    """10 MFT sentences in 2 templates (3 failures: rows 2, 5, 8), 2 whose class the model lacks (fear)."""
    rows = []
    spec = [("t1", "joy", "happy"), ("t1", "joy", "happy"), ("t1", "joy", "sad"), ("t1", "anger", "angry"),
            ("t2", "anger", "angry"), ("t2", "anger", "happy"), ("t2", "sadness", "sad"), ("t2", "sadness", "sad"),
            ("t2", "sadness", "angry"), ("t2", "joy", "happy"), ("t3", "fear", "sad"), ("t3", "fear", "neutral")]
    for i, (tid, expected, pred) in enumerate(spec):
        p = {f"p_{l}": 0.1 for l in LABELS} | {f"p_{pred}": 0.7}
        rows.append({"case_id": f"s:{tid}:{i}:0", "suite": "s", "template": tid, "template_id": tid,
                     "family": f"s:{tid}:{i}", "text": f"sentence {i} <b>", "expectation": "label",
                     "expected_label": expected, "pred": pred, "gender": ["female", "male"][i % 2], **p})
    data_row = {**rows[2], "case_id": "data:0", "suite": "data", "template_id": "data", "family": "data:0",
                "text": "a labelled row of a data set", "source_row": 0}  # --label-col rows: accuracy, not MFT
    return pd.DataFrame(rows + [data_row])


def test_mft_failure_rate_is_exact_on_a_small_table():
    metrics, section = functional_tests(mft_table(), LABELS, MAP, ["gender"])
    got = {m.id: m for m in metrics}
    assert got["mft_failure_rate/s"].value == pytest.approx(3 / 10) and got["mft_failure_rate/s"].n == 10
    assert got["mft_failure_rate/s/t1"].value == pytest.approx(1 / 4)
    assert got["mft_failure_rate/s/t2"].value == pytest.approx(2 / 6)
    assert got["mft_failure_rate/s/happy"].value == pytest.approx(1 / 4)   # joy: 1 of 4 not happy
    assert got["mft_failure_rate/s/angry"].value == pytest.approx(1 / 3)
    assert got["mft_failure_rate/s/sad"].value == pytest.approx(1 / 3)
    # per group (rows 0, 2, 4, 6, 8 female: failures at 2 and 8; rows 1, 3, 5, 7, 9 male: failure at 5)
    assert got["mft_failure_rate/s/gender/female"].value == pytest.approx(2 / 5)
    assert got["mft_failure_rate/s/gender/male"].value == pytest.approx(1 / 5)
    for m in metrics:
        if m.value is not None:
            assert m.ci[0] <= m.value <= m.ci[1] and m.kind == "functional"
    # class fear: the model has no such label -> skipped with a note, no value, not in the suite's rate
    skipped = got["mft_failure_rate/s/t3"]
    assert skipped.value is None and "fear" in skipped.details["skipped"]
    t3 = next(t for t in section["tests"] if t["template"] == "t3")
    assert t3["rate"] is None and "--label-map fear=" in t3["note"]
    t2 = next(t for t in section["tests"] if t["template"] == "t2")
    assert t2["failures"] == 2 and {e["text"] for e in t2["examples"]} == {"sentence 5 <b>", "sentence 8 <b>"}
    assert [t["template"] for t in section["tests"]] == ["t2", "t1", "t3"]  # worst first, skipped last
    assert not any(m.suite == "data" for m in metrics)


# ------------------------------------------------------------------ DIR on simulated models
@pytest.fixture(scope="module")
def dir_cases(tmp_path_factory):
    """60 neutral statements, 4 joyful suffixes each: 240 pairs that must not lower p(happy)."""
    folder = tmp_path_factory.mktemp("dir")
    statements = ", ".join(f"I saw item {i} today." for i in range(60))
    (folder / "dirsim.yaml").write_text(f"""suite: dirsim
fills:
  statement: {{groups: [{{terms: [{statements}]}}]}}
templates:
  - id: add-love
    text: "{{statement}}"
    expect: direction
    direction: {{label: joy, sign: "+"}}
    variants: ["{{base}} I love it!", "{{base}} Best day ever!", "{{base}} So good.", "{{base}} Made my day."]
""")
    return build_cases([load_suite(folder / "dirsim.yaml")])


def simulate_dir(cases: pd.DataFrame, seed: int, share: float = 0.0, noise_sd: float = 0.0,
                 clustered: bool = False) -> pd.DataFrame:
    """A simulated model (audit/simulate.py) that reads the base sentence (a variant shares its base's family
    effect: the suffix is invisible to it) and leans to happy (p ~ 0.7). Planted violation: ``share`` of the
    variants lose half their p(happy) to sad (-0.35, far beyond the tolerance); with ``clustered``, whole base
    sentences are susceptible (half of them, each variant then with probability 2 * share)."""
    view = cases.assign(family=cases["base_family"].fillna(cases["family"]), expected_label="joy",
                        variant=cases["base_text"].notna())
    flip = share
    if clustered:
        fams = view["family"].unique()
        hit = set(fams[np.random.default_rng(seed + 1000).random(len(fams)) < 0.5])
        view["variant"] &= view["family"].isin(hit)
        flip = 2 * share
    model = SimulatedModel([Effect({"variant": True}, "sad", flip=flip)] if share else [], margin=2.0,
                           family_sd=0.2, noise_sd=noise_sd)
    scored = model.score(view, seed)
    return scored.assign(family=cases["family"], expected_label=cases["expected_label"])


def dir_records(scored, tolerances=(DEFAULT_TOLERANCE,)):
    metrics, _ = functional_tests(scored, LABELS, MAP, [], list(tolerances))
    return {m.id: m for m in metrics}


def gate_verdict(records, **rule) -> str:
    g = gates.Gate(rules=[{"name": "dir", "metric": "dir_violation_rate", **rule}])
    return gates.evaluate(g, [m.to_dict() for m in records.values()])["verdict"]


def test_dir_violation_rate_compliant_noisy_and_violating_models(dir_cases):
    compliant = dir_records(simulate_dir(dir_cases, 0))
    rate = compliant["dir_violation_rate/dirsim/tol=0.1"]
    assert rate.value == 0 and rate.n == 240 and rate.ci[1] < 0.1
    assert compliant["dir_mean_change/dirsim"].value == pytest.approx(0, abs=1e-12)
    assert gate_verdict(compliant, max=0.1) == "pass"

    violating = dir_records(simulate_dir(dir_cases, 0, share=0.3))
    rate = violating["dir_violation_rate/dirsim/tol=0.1"]
    assert 0.2 < rate.value < 0.4 and rate.ci[0] > 0.1
    assert violating["dir_mean_change/dirsim"].value < -0.05
    assert gate_verdict(violating, max=0.1) == "fail"

    # noise moves p(happy) a little both ways: within the default tolerance it is no violation, at tolerance 0
    # about half the pairs "violate" -- which is why CheckList uses a tolerance
    noisy = dir_records(simulate_dir(dir_cases, 0, noise_sd=0.1), tolerances=(0.0, DEFAULT_TOLERANCE))
    assert noisy["dir_violation_rate/dirsim/tol=0.1"].value < 0.02
    assert 0.3 < noisy["dir_violation_rate/dirsim/tol=0"].value < 0.7
    assert gate_verdict(noisy, max=0.1) == "pass"
    assert gate_verdict(noisy, max=0.1, tolerance=0.0) == "fail"


def test_dir_interval_covers_the_planted_rate_with_clustered_violations(dir_cases):
    """Violations planted by base sentence (half of them susceptible): the family-clustered interval covers the
    planted rate 0.25 in about 95% of audits; it is wider than a Wilson interval that ignores the clusters."""
    covered, wider = 0, 0
    runs = 30
    for seed in range(runs):
        scored = simulate_dir(dir_cases, seed, share=0.25, clustered=True)
        rate = dir_records(scored)["dir_violation_rate/dirsim/tol=0.1"]
        covered += rate.ci[0] <= 0.25 <= rate.ci[1]
        naive = wilson(rate.details["failures"], rate.n)
        wider += (rate.ci[1] - rate.ci[0]) > (naive[1] - naive[0])
    assert covered >= 26, covered
    assert wider == runs


# ------------------------------------------------------------------ gate rule kinds
def test_gate_rule_kinds_and_tolerance():
    g = gates.Gate(rules=[{"name": "INV", "metric": "flip_rate", "max": 0.05},
                          {"name": "MFT", "metric": "mft_failure_rate", "max": 0.2},
                          {"name": "DIR", "metric": "dir_violation_rate", "max": 0.1},
                          {"name": "DIR tight", "metric": "dir_violation_rate", "max": 0.1, "tolerance": 0.05},
                          {"name": "DIR mean", "metric": "dir_mean_change", "min": -0.02}])
    assert gates.dir_tolerances(g) == [0.05, 0.1]
    rec = lambda metric, value, **d: {"id": f"{metric}/{d}", "metric": metric, "suite": "s", "attribute": "",  # noqa
                                      "group": None, "class": None, "template": None, "value": value,
                                      "ci": [max(0, value - 0.02), value + 0.02], "n": 200, "n_min": 200,
                                      "details": d}
    records = [rec("flip_rate", 0.01), rec("mft_failure_rate", 0.3), rec("dir_violation_rate", 0.02, tolerance=0.1),
               rec("dir_violation_rate", 0.4, tolerance=0.05), rec("dir_mean_change", 0.05)]
    verdicts = {r["name"]: r["verdict"] for r in gates.evaluate(g, records)["rules"]}
    assert verdicts == {"INV": "pass", "MFT": "fail", "DIR": "pass", "DIR tight": "fail", "DIR mean": "pass"}


@pytest.mark.parametrize("rule, message", [
    ({"metric": "mft_failure_rate", "max": 0.2, "tolerance": 0.1}, "tolerance applies to dir_violation_rate rules"),
    ({"metric": "dir_violation_rate", "max": 0.2, "tolerance": 1.5}, "less than 1"),
    ({"metric": "dir_violation_rate", "max": -0.1}, "never negative"),
])
def test_bad_functional_rules_are_refused(tmp_path, rule, message):
    path = tmp_path / "gate.yaml"
    path.write_text(json.dumps({"rules": [{"name": "r", **rule}]}))
    with pytest.raises(InputError, match=message):
        gates.load_gate(path)


# ------------------------------------------------------------------ classes the model lacks
def test_a_class_the_model_lacks_is_skipped_with_a_note_never_passed():
    cases = build_cases(select_suites(["functional"]))
    labels = ["happy", "sad"]  # no angry, no neutral
    scored = SimulatedModel().score(cases, 0)
    scored = scored.assign(p_happy=scored["p_happy"] / (scored["p_happy"] + scored["p_sad"]))
    scored = scored.assign(p_sad=1 - scored["p_happy"], pred=np.where(scored["p_happy"] > 0.5, "happy", "sad"))
    metrics, section = functional_tests(scored, labels, MAP, [])
    tests = {t["template"]: t for t in section["tests"]}
    assert tests["neutral-fact"]["rate"] is None and "class neutral" in tests["neutral-fact"]["note"]
    assert tests["add-anger"]["rate"] is None and "class anger" in tests["add-anger"]["note"]
    assert tests["feel-today"]["n"] == 12 and "class anger" in tests["feel-today"]["note"]  # partly run
    assert tests["add-love"]["rate"] is not None and tests["add-love"]["note"] is None
    records = [m.to_dict() for m in metrics]
    g = gates.Gate(rules=[{"name": "neutral", "metric": "mft_failure_rate", "template": "neutral-fact", "max": 1},
                          {"name": "anger", "metric": "dir_violation_rate", "template": "add-anger", "max": 1}])
    result = gates.evaluate(g, records)
    assert [r["verdict"] for r in result["rules"]] == ["inconclusive", "inconclusive"]
    assert all(m["class"] in (None, "happy", "sad") for m in records)


# ------------------------------------------------------------------ end to end
KEYWORDS = '''
import numpy as np
labels = ["happy", "angry", "sad", "other"]  # no "neutral": the neutral MFT is skipped
WORDS = [{"happy", "glad", "delighted", "day", "thrilled", "cheerful", "overjoyed", "best"},
         {"angry", "furious", "annoyed", "hate", "infuriating", "mad", "irritated", "outraged"},
         {"sad", "heartbroken", "miserable", "cry", "alone", "depressed", "gloomy", "devastated"}]
def predict(texts):
    out = []
    for t in texts:
        words = set(w.strip(".,!?#").lower() for w in t.split())
        logits = np.array([2.0 * len(words & w) for w in WORDS] + [1.0])
        logits[1] += 3.0 * ("love" in words)  # its one quirk: it reads "love" as anger
        p = np.exp(logits)
        out.append(p / p.sum())
    return np.array(out)
predict.labels = labels
'''


def test_audit_run_reports_functional_tests(tmp_path):
    (tmp_path / "kw.py").write_text(KEYWORDS)
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "mine.yaml").write_text("""suite: mine
fills:
  w: {groups: [{label: joy, terms: [splendid, "<b>bold</b>"]}]}
templates:
  - {id: odd, text: "What a {w} afternoon & evening.", expect: label, label: joy}
""")
    (tmp_path / "gate.yaml").write_text("rules:\n"
                                        "  - {name: MFT, metric: mft_failure_rate, suite: functional, max: 0.5}\n"
                                        "  - {name: DIR, metric: dir_violation_rate, max: 0.1, tolerance: 0.05}\n")
    out = tmp_path / "out"
    code = audit_main(["run", "--model", f"{tmp_path / 'kw.py'}:predict", "--suite", "functional", "--suite", "mine",
                       "--templates", str(tmp_path / "tpl"), "--label-map", "joy=happy,anger=angry,sadness=sad",
                       "--gate", str(tmp_path / "gate.yaml"), "--out", str(out), "--cache-dir", "", "-q"])
    results = json.loads((out / "results.json").read_text())
    verdicts = {r["name"]: r["verdict"] for r in results["gate"]["rules"]}
    assert verdicts == {"MFT": "pass", "DIR": "fail"} and code == 1
    tests = {(t["suite"], t["template"]): t for t in results["functional"]["tests"]}
    assert tests[("functional", "neutral-fact")]["rate"] is None  # neutral is unmapped: skipped, with a note
    assert "--label-map neutral=" in tests[("functional", "neutral-fact")]["note"]
    assert tests[("functional", "add-love")]["failures"] == 36  # every "{base} I love it!"
    assert tests[("functional", "add-anger")]["failures"] == 0
    assert tests[("functional", "negate-joy")]["failures"] == 0  # it ignores "not": p(joy) does not rise either
    assert tests[("mine", "odd")]["failures"] == 2
    assert any(m["id"] == "dir_violation_rate/functional/tol=0.05" for m in results["metrics"])
    html = (out / "report.html").read_text()
    assert "Functional tests (MFT / DIR)" in html and "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    assert html.index("<code>odd</code>") < html.index("<code>add-love</code>") < html.index("<code>add-anger</code>")
    assert "Main Street. → <mark>I went to the new cafe on Main Street. I love it!</mark>" in html
    md = (out / "summary.md").read_text()
    assert "### Functional tests (MFT / DIR)" in md and "add-love" in md and "neutral-fact" in md


def test_label_map_accepts_a_class_only_a_direction_names(tmp_path):
    from audit.run import AuditOptions, check_labels

    (tmp_path / "dirt.yaml").write_text(DIR_SUITE.replace("label: joy", "label: thrill"))
    suite = load_suite(tmp_path / "dirt.yaml")
    cases = build_cases([suite])
    check_labels(AuditOptions(model="m", out="o", label_map={"thrill": "happy"}), cases, LABELS, {"dirt": suite})
    with pytest.raises(InputError, match="no suite or data row expects 'thril'"):
        check_labels(AuditOptions(model="m", out="o", label_map={"thril": "happy"}), cases, LABELS, {"dirt": suite})
