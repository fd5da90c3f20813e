"""Issue 13, group 3: bad inputs that used to be accepted without a word, and library log lines before our error.

Now each is refused with one ``error:`` line (exit 2, ``--out`` untouched), or, for duplicate data rows, handled
and counted in the coverage.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from audit.__main__ import main
from badinput import MINI_SUITE, expect_error, run_args, write_fixtures
from finetune.__main__ import main as finetune_main
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    root = tmp_path_factory.mktemp("accepted")
    return {**write_fixtures(root), "root": root}


def test_suite_file_that_is_not_utf8(tmp_path, capsys, fx):
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "latin.yaml").write_bytes(MINI_SUITE.replace("suite: mini", "suite: latin").replace(
        "my sister", "ma s\u0153ur").encode("utf-8").replace("ma s\u0153ur".encode(), b"ma s\xe9ur"))
    line = expect_error(main, ["templates", "validate", folder / "latin.yaml"], capsys, "not UTF-8 (byte 0xe9")
    assert "latin.yaml:5:" in line
    out = tmp_path / "out"
    expect_error(main, ["run", "--model", f"{fx['models']}:good", "--templates", folder, "--suite", "latin", "--out",
                        out, "--cache-dir", ""], capsys, "not UTF-8", out)


def test_suite_file_too_large(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_text(MINI_SUITE + "#" * 2_100_000 + "\n")
    expect_error(main, ["templates", "validate", big], capsys, "a suite file may have at most 2,000,000")


@pytest.mark.parametrize("content, message", [
    ("text,y\nShe was happy,happy\n   ,sad\n", "row 2: column 'text' is empty or NaN (or whitespace only)"),
    ("text,y\nShe was happy,happy\n\"\t\",sad\n", "row 2: column 'text' is empty"),
    ("text,y\nShe was happy,happy\nHe was sad, \n", "row 2: column 'y' is empty"),
])
def test_blank_texts_and_labels_in_data(content, message, tmp_path, capsys, fx):
    data = tmp_path / "d.csv"
    data.write_text(content)
    out = tmp_path / "out"
    expect_error(main, ["run", "--model", f"{fx['models']}:good", "--data", data, "--label-col", "y", "--out", out,
                        "--cache-dir", ""], capsys, message, out)


def test_duplicate_rows_are_one_family_and_counted(tmp_path, fx):
    data = tmp_path / "d.csv"
    rows = [("She would love the new gallery", "happy"), ("He would hate the queue", "sad")] * 5
    rows += [("Emily had a wonderful day", "happy")]
    pd.DataFrame(rows, columns=["text", "y"]).to_csv(data, index=False)
    out = tmp_path / "out"
    assert main(["run", "--model", f"{fx['models']}:good", "--data", str(data), "--suite", "none", "--label-col", "y",
                 "--out", str(out), "--cache-dir", "", "-q", "--no-fail"]) == 0
    results = json.loads((out / "results.json").read_text())
    cov = results["coverage"]["perturbation"]
    assert cov["input"] == {"rows": 11, "unique texts": 3, "duplicate texts dropped": 8}
    assert cov["gender"]["eligible"] == 2 and cov["gender"]["inputs"] == 3
    assert results["data"]["duplicates_dropped"] == 8
    cases = pd.read_parquet(out / "cases.parquet")
    assert cases.loc[cases["suite"] == "perturb-gender", "family"].nunique() == 2


@pytest.mark.parametrize("label_map, message", [
    ("=,=", "'=' is not source=target"),
    ("joy", "'joy' is not source=target"),
    ("happy=", "'happy=' is not source=target"),
    ("happy=sad,happy=neutral", "'happy' is mapped twice"),
    ("happy=hapy", "'hapy' is not a label of the model"),
    ("jyo=happy", "no suite or data row expects 'jyo'"),
])
def test_label_map_is_checked(label_map, message, tmp_path, capsys, fx):
    out = tmp_path / "out"
    expect_error(main, run_args(fx, f"{fx['models']}:good", out, "--label-map", label_map), capsys, message, out)


@pytest.mark.parametrize("extra, message", [
    (["--group-col", "site"], "--group-col site: needs --data"),
    (["--label-col", "y"], "--label-col y: needs --data"),
    (["--max-tokens", "-5"], "--max-tokens -5: must be > 0"),
])
def test_option_combinations_and_values(extra, message, tmp_path, capsys, fx):
    out = tmp_path / "out"
    expect_error(main, run_args(fx, f"{fx['models']}:good", out, *extra), capsys, message, out)


def test_compare_margin_and_other_commands(tmp_path, capsys, fx):
    run = tmp_path / "run"
    assert main([str(a) for a in run_args(fx, f"{fx['models']}:good", run, "--no-fail")]) == 0
    expect_error(main, ["compare", run, run, "--margin", "-1"], capsys, "--margin -1.0: must be >= 0")
    expect_error(main, ["compare", run, run, "--margin", "nan"], capsys, "must be a finite number")
    assert not (run / "compare.html").exists()
    expect_error(main, ["templates", "validate", tmp_path / "nope"], capsys, "no such file or folder")
    expect_error(main, ["templates", "validate", tmp_path / "run"], capsys, "no .yaml or .yml files")
    expect_error(main, ["templates", "preview", "eec", "--n", "0"], capsys, "--n 0: must be > 0")
    expect_error(main, ["bench", "--model", "x", "--limit", "0"], capsys, "--limit 0: must be > 0")


@pytest.mark.parametrize("extra, message", [
    (["--epochs", "0"], "--epochs 0: must be >= 1"),
    (["--batch-size", "0"], "--batch-size 0: must be >= 1"),
    (["--lr", "0"], "--lr 0.0: must be > 0"),
    (["--lr", "inf"], "--lr inf: must be a finite number"),
    (["--warmup", "1.5"], "--warmup 1.5: must be <= 1"),
    (["--max-length", "0"], "--max-length 0: must be >= 1"),
    (["--patience", "-1"], "--patience -1: must be >= 0"),
    (["--stop-after", "0"], "--stop-after 0: must be >= 1"),
    (["--device", "gpu"], "--device 'gpu'"),
    (["--class-weights", "odd"], "invalid choice: 'odd'"),
])
def test_finetune_options(extra, message, tmp_path, capsys):
    out = tmp_path / "out"
    expect_error(finetune_main, ["train", "--out", out, *extra], capsys, message, out)


def test_finetune_data_file_that_is_not_utf8(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_bytes(b"text,label\ncaf\xe9 au lait,a\nok,b\n")
    out = tmp_path / "out"
    expect_error(finetune_main, ["train", "--data", data, "--out", out], capsys, "d.csv:2: not UTF-8", out)


@pytest.mark.parametrize("name, content, message", [
    ("bad.csv", b'text,label\n"never closed,a\n', "cannot read as csv: Error tokenizing data"),
    ("bad.jsonl", b'{"text": "a"\n', "cannot read as json"),
    ("bad.parquet", b"PAR1 not really", "cannot read as parquet"),
    ("latin.csv", b"text\ncaf\xe9\n", "latin.csv:2: not UTF-8"),
])
def test_unreadable_data_files_give_our_line_only(name, content, message, tmp_path):
    """A real process: library loggers write to the stderr they saw at import, which capsys cannot stand in for."""
    data = tmp_path / name
    data.write_bytes(content)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "audit", "run", "--model", "audit.adapters.vader:predict", "--data",
                           str(data), "--suite", "none", "--out", str(out), "--cache-dir", ""], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr
    assert not out.exists()
