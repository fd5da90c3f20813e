"""`audit card`: the bias evaluation as a section of the Hugging Face model card, idempotent, front matter kept."""
import json
import re

import pytest

from audit.__main__ import main as audit_main
from audit.card import BEGIN, END, update_card

BIASED = '''
import numpy as np
labels = ["happy", "sad", "neutral"]
FEMALE = {"she", "her", "herself", "woman", "girl", "mother", "daughter", "sister", "wife", "girlfriend", "mom",
          "aunt", "bride", "female"}
def predict(texts):  # p(happy) goes up for sentences about a woman: a known gender bias
    out = []
    for t in texts:
        words = {w.strip(".,!?").lower() for w in t.split()}
        p = np.array([0.2, 0.2, 0.6]) + (np.array([0.2, 0, 0]) if words & FEMALE else 0)
        out.append(p / p.sum())
    return np.array(out)
predict.labels = labels
'''
CARD = """---
license: apache-2.0
language: en
tags:
- emotion
---

# My emotion model

Trained on tweets.

## Limitations

Short texts only.
"""


@pytest.fixture(scope="module")
def biased_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("card")
    (folder / "biased.py").write_text(BIASED)
    out = folder / "run"
    code = audit_main(["run", "--model", f"{folder / 'biased.py'}:predict", "--suite", "eec", "--out", str(out),
                       "--cache-dir", "", "-q"])
    assert code == 1  # the gate catches the bias
    return out


def section_of(text: str) -> str:
    return text[text.index(BEGIN):text.index(END)]


def test_card_section_written_into_existing_card_and_idempotent(biased_run, tmp_path, capsys):
    (tmp_path / "README.md").write_text(CARD)
    assert audit_main(["card", str(biased_run), "--model-dir", str(tmp_path)]) == 0
    first = (tmp_path / "README.md").read_text()
    assert first.startswith(CARD.split("\n# ")[0] + "\n# My emotion model")  # front matter byte for byte
    assert "## Limitations\n\nShort texts only.\n" in first
    assert first.count("## Bias evaluation") == 1 and first.count(BEGIN) == 1
    section = section_of(first)
    results = json.loads((biased_run / "results.json").read_text())
    shift = next(r for r in results["gate"]["rules"] if r["metric"] == "mean_shift")["worst"]
    assert "**Gate verdict: FAIL**" in section
    assert "| mean_shift | eec | gender | female | happy |" in section  # the planted bias leads the disparities
    assert f"[{shift['ci'][0]:.3f}, {shift['ci'][1]:.3f}]" in section
    assert "eec (version 1, 8640 cases)" in section
    assert "http" not in section and "](" not in section  # link-free
    assert audit_main(["card", str(biased_run), "--model-dir", str(tmp_path)]) == 0
    assert (tmp_path / "README.md").read_text() == first  # a rerun replaces the section, never appends


def test_card_created_when_missing(biased_run, tmp_path):
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    assert audit_main(["card", str(biased_run), "--model-dir", str(model_dir), "--top", "2"]) == 0
    text = (model_dir / "README.md").read_text()
    front = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert front and "pipeline_tag: text-classification" in front.group(1)
    assert "# my-model\n" in text and "## Bias evaluation" in text
    table = section_of(text).split("Largest disparities:")[1]
    assert table.count("\n| mean_shift ") + table.count("\n| dp_difference ") + table.count("\n| group_flip") \
        + table.count("\n| flip_rate ") == 2


def test_hand_written_section_is_replaced_and_other_text_kept():
    card = "# M\n\n## Bias evaluation\n\nTODO\n\n### details\n\nold\n\n## Citation\n\nbib\n"
    new = update_card(card, f"{BEGIN}\nnew\n{END}\n")
    assert new == f"# M\n\n## Bias evaluation\n\n{BEGIN}\nnew\n{END}\n\n## Citation\n\nbib\n"
    again = update_card(new, f"{BEGIN}\nnewer\n{END}\n")
    assert again == new.replace("\nnew\n", "\nnewer\n")
    # only front matter: the section follows it
    assert update_card("---\na: 1\n---\n", f"{BEGIN}\nx\n{END}\n") == f"---\na: 1\n---\n\n## Bias evaluation\n\n{BEGIN}\nx\n{END}\n"


@pytest.mark.parametrize("case", ["no results", "no model dir"])
def test_bad_input_exits_2_and_writes_nothing(biased_run, tmp_path, capsys, case):
    model_dir = tmp_path / "m"
    if case == "no results":
        model_dir.mkdir()
        args = ["card", str(tmp_path / "nothing"), "--model-dir", str(model_dir)]
    else:
        args = ["card", str(biased_run), "--model-dir", str(model_dir)]
    assert audit_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not (model_dir / "README.md").exists()
