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


# ------------------------------------------------------------------ issue 20: outputs only where they belong
def _model_folder(root):
    folder = root / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "report.html").write_text("<p>training report</p>")
    return folder


@pytest.mark.parametrize("case, message", [
    ("model folder", "is the --model folder"),
    ("inside the model folder", "(or inside it); fairaudit never writes there"),
    ("looks like a model", "holds a saved model (config.json and weights)"),
    ("foreign report", "holds report.html, which fairaudit did not write there"),
    ("dangling link", "is a symbolic link to"),
    ("data folder", "is the data sets' folder"),
    ("data file folder", "is the folder of --data"),
])
def test_outputs_never_land_in_model_or_data_folders_or_over_foreign_files(case, message, tmp_path, capsys, fx):
    model = _model_folder(tmp_path)
    good = f"{fx['models']}:good"
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("text\nI am happy.\n")
    args = {"model folder": (["--model", f"hf:{model}"], model),
            "inside the model folder": (["--model", str(model)], model / "audit"),
            "looks like a model": (["--model", good], model),
            "foreign report": (["--model", good], tmp_path / "site"),
            "dangling link": (["--model", good], tmp_path / "link"),
            "data folder": (["--model", good, "--data", "smile", "--data-dir", str(data)], data),
            "data file folder": (["--model", good, "--data", str(data / "rows.csv")], data)}[case]
    extra, out = args
    if case == "foreign report":
        out.mkdir()
        (out / "report.html").write_text("<p>someone else's page</p>")
    if case == "dangling link":
        out.symlink_to(tmp_path / "nowhere")
    line = expect_error(main, [*run_args(fx, good, out), *extra], capsys, message, out)
    assert str(out) in line
    assert (model / "report.html").read_text() == "<p>training report</p>"


def test_a_run_may_replace_its_own_outputs_and_compare_refuses_foreign_files(tmp_path, capsys, fx):
    out = tmp_path / "run"
    args = [str(a) for a in run_args(fx, f"{fx['models']}:good", out, "--no-fail")]
    assert main(args) == 0 and (out / ".fairaudit").is_file()
    assert main(args) == 0  # its own files: replaced
    site = tmp_path / "site"
    site.mkdir()
    (site / "compare.md").write_text("notes\n")
    expect_error(main, ["compare", out, out, "--out", site], capsys, "holds compare.md, which fairaudit did not write", site)
    again = ["compare", str(out), str(out), "--out", str(tmp_path / "cmp")]
    assert main(again) == 0 and main(again) == 0  # its own compare: replaced


def test_card_into_a_read_only_folder_names_the_folder(tmp_path, capsys, fx, monkeypatch):
    import tempfile

    run = tmp_path / "run"
    assert main([str(a) for a in run_args(fx, f"{fx['models']}:good", run, "--no-fail")]) == 0
    model = _model_folder(tmp_path)

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # root ignores chmod: stand in for a read-only folder
    line = expect_error(main, ["card", run, "--model-dir", model], capsys, f"--model-dir {model}: cannot write in")
    assert "Permission denied" in line and ".tmp" not in line


@pytest.mark.parametrize("extra, message", [
    (["--model", "{models}:labels"], "'labels' is a list, not a function"),
    (["--model", "{models}:nothing"], "has no function 'nothing'"),
    (["--baseline", "{root}", "--baseline-model", "{models}:good"], "give one old release"),
    (["--baseline-model", "audit.adapters.vader:predict"], "are not those of --model (happy, sad, neutral)"),
])
def test_model_specs_and_release_options(extra, message, tmp_path, capsys, fx):
    out = tmp_path / "out"
    extra = [e.format(models=fx["models"], root=fx["root"]) for e in extra]
    expect_error(main, [*run_args(fx, f"{fx['models']}:good", out), *extra], capsys, message, out)
