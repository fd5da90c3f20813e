"""Issue 13, group 1: a broken input must never end in a passing gate or a meaningless audit.

Each bad input runs in-process through ``main([...])``: exit 2, one ``error:`` line, ``--out`` untouched.
"""
from __future__ import annotations

import json
import shutil

import pytest

from audit.__main__ import main
from badinput import expect_error, run_args, write_fixtures

OTHER_SUITE = """suite: other
protected:
  faith:
    groups:
      - {attributes: {religion: Muslim}, terms: [a Muslim]}
      - {attributes: {religion: Christian}, terms: [a Christian]}
templates:
  - {id: t, text: "{faith} walked into the room."}
"""


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    root = tmp_path_factory.mktemp("silent")
    files = write_fixtures(root)
    (root / "other").mkdir()
    (root / "other" / "other.yaml").write_text(OTHER_SUITE)
    return {**files, "other": root / "other", "root": root}


@pytest.mark.parametrize("fn, message", [
    ("negative", "outside [0, 1]"),
    ("unnormalised", "sums to 1.1, not 1"),
    ("infinite", "non-finite probability"),
    ("nan", "non-finite probability"),
    ("wrong_shape", "expected (48, 3)"),
    ("too_few_rows", "expected (48, 3)"),
    ("duplicate_labels", "label 'happy' is declared twice"),
    ("bad_labels", "labels must be a list of non-empty strings"),
    ("no_labels", "no labels"),
])
def test_callable_with_invalid_probabilities_or_labels(fn, message, fx, tmp_path, capsys):
    out = tmp_path / "out"
    line = expect_error(main, run_args(fx, f"{fx['models']}:{fn}", out), capsys, message, out)
    assert f"models.py:{fn}" in line  # the callable is named


def test_duplicate_or_empty_labels_option(fx, tmp_path, capsys):
    out = tmp_path / "out"
    expect_error(main, run_args(fx, f"{fx['models']}:no_labels", out, "--labels", "a,b,a"), capsys, "must be unique", out)
    expect_error(main, run_args(fx, f"{fx['models']}:no_labels", out, "--labels", "a,,b"), capsys, "non-empty", out)


def test_model_folder_without_tokenizer(tiny_classifier, tmp_path, capsys, fx):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_classifier / name, bare / name)
    expect_error(main, run_args(fx, bare, tmp_path / "out"), capsys, "no tokenizer files", tmp_path / "out")


def test_tokenizer_that_is_not_the_models(tiny_classifier, tmp_path, capsys, fx):
    from transformers import BertTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n")
    other = tmp_path / "other"
    shutil.copytree(tiny_classifier, other)
    for f in other.glob("tokenizer*"):
        f.unlink()
    BertTokenizer(str(vocab)).save_pretrained(other)
    expect_error(main, run_args(fx, other, tmp_path / "out"), capsys, "the tokenizer has 5 tokens but the model embeds 30522")


def test_base_model_without_classification_head(tiny_base, tmp_path, capsys, fx):
    out = tmp_path / "out"
    line = expect_error(main, run_args(fx, tiny_base, out), capsys, "would be initialised at random", out)
    assert "classifier.weight" in line and "--allow-random-head" in line
    assert main([str(a) for a in run_args(fx, tiny_base, out, "--allow-random-head", "--no-fail")]) == 0
    assert (out / "results.json").exists()


def test_compare_of_runs_with_nothing_in_common_is_never_a_pass(fx, tmp_path, capsys):
    good = f"{fx['models']}:good"
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([str(x) for x in run_args(fx, good, a, "--no-fail")]) == 0
    assert main(["run", "--model", good, "--templates", str(fx["other"]), "--suite", "other", "--out", str(b),
                 "--cache-dir", "", "-q", "--no-fail"]) == 0
    assert main(["compare", str(a), str(b)]) == 1
    assert "INCONCLUSIVE" in (b / "compare.md").read_text()
    assert main(["compare", str(a), str(a), "--out", str(tmp_path / "same")]) == 0  # the same run: a real pass
    # --baseline that shares nothing with the run: refused, nothing written
    out = tmp_path / "c"
    expect_error(main, ["run", "--model", good, "--templates", fx["other"], "--suite", "other", "--out", out,
                        "--cache-dir", "", "-q", "--baseline", a], capsys, "shares no metric record", out)


def test_run_with_labels_the_model_lacks(fx, tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("text,y\nShe was happy today,joy\nHe was sad today,sad\n")
    out = tmp_path / "out"
    expect_error(main, ["run", "--model", f"{fx['models']}:good", "--data", data, "--suite", "none", "--label-col", "y", "--out", out,
                        "--cache-dir", "", "-q"], capsys, "has label 'joy' that the model lacks", out)
    assert main(["run", "--model", f"{fx['models']}:good", "--data", str(data), "--suite", "none", "--label-col", "y",
                 "--out", str(out), "--cache-dir", "", "-q", "--no-fail", "--label-map", "joy=happy"]) == 0
    labelled = json.loads((out / "results.json").read_text())["coverage"]["perturbation"]["input"]
    assert labelled == {"rows": 2, "unique texts": 2, "duplicate texts dropped": 0}
