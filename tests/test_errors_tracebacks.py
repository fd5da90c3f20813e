"""Issue 13, group 2: inputs that used to end in a traceback with exit 1 (indistinguishable from a failed gate).

Now: one ``error:`` line and exit 2 for anything the user can fix; exit 3 with a "please report" line for a bug
in fairaudit, the traceback only under ``--debug``.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from audit.__main__ import main
from badinput import expect_error, run_args, write_fixtures
from finetune.__main__ import main as finetune_main


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    root = tmp_path_factory.mktemp("tracebacks")
    files = write_fixtures(root)
    (root / "syntax.py").write_text("labels = ['a', 'b']\ndef f(texts:\n    return texts\n")
    (root / "boom.py").write_text("raise ValueError('no API key configured')\ndef f(texts):\n    return texts\n")
    pkg = root / "pkg"
    pkg.mkdir()
    (pkg / "boom_mod.py").write_text("import json\njson.loads('{')\ndef f(texts):\n    return texts\n")
    run = root / "run"
    assert main(["run", "--model", f"{files['models']}:good", "--templates", str(files["suite"]), "--suite", "mini",
                 "--out", str(run), "--cache-dir", "", "-q", "--no-fail"]) == 0
    return {**files, "root": root, "run": run}


@pytest.mark.parametrize("spec, message", [
    ("models.py:raises", "raised RuntimeError: service unavailable"),
    ("models.py:strings", "not a numeric array"),
    ("models.py:numeric_strings", "not a numeric array"),
    ("models.py:ragged", "not a numeric array"),
    ("syntax.py:f", "importing"),
    ("boom.py:f", "ValueError: no API key configured"),
    ("models.py:missing", "has no function 'missing'"),
])
def test_broken_callables(spec, message, fx, tmp_path, capsys):
    out = tmp_path / "out"
    line = expect_error(main, run_args(fx, fx["root"] / spec, out), capsys, message, out)
    assert spec in line
    if spec.startswith("syntax"):
        assert "SyntaxError" in line and "line 2" in line


def test_package_module_that_raises_at_import(fx, tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(fx["root"] / "pkg"))
    expect_error(main, run_args(fx, "boom_mod:f", tmp_path / "out"), capsys, "importing boom_mod failed: JSONDecodeError")


def test_truncated_safetensors(tiny_classifier, tmp_path, capsys, fx):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_classifier, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    expect_error(main, run_args(fx, broken, tmp_path / "out"), capsys, "cannot load", tmp_path / "out")


class Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_malicious_pickle_is_refused_in_one_line(tiny_classifier, tmp_path, capsys, fx, monkeypatch):
    evil = tmp_path / "evil"
    evil.mkdir()
    for f in tiny_classifier.iterdir():
        if f.name != "model.safetensors":
            shutil.copy(f, evil / f.name)
    torch.save({"bert.embeddings.word_embeddings.weight": Evil()}, evil / "pytorch_model.bin")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    expect_error(main, run_args(fx, evil, out), capsys, "--allow-pickle", out)
    line = expect_error(main, run_args(fx, evil, out, "--allow-pickle"), capsys, "refused to unpickle", out)
    assert "posix.system" in line
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("extra, message", [
    (["--device", "tpu9"], "--device 'tpu9': use auto, cpu, cuda"),
    (["--device", "cuda:7"], "--device cuda:7"),
    (["--n-boot", "-3"], "--n-boot -3: must be >= 0"),
    (["--max-tokens", "0"], "--max-tokens 0: must be > 0"),
    (["--max-cases", "0"], "--max-cases 0: must be > 0"),
    (["--n-boot", "x"], "invalid int value"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_bad_options_fail_before_any_work(extra, message, fx, tmp_path, capsys):
    out = tmp_path / "out"
    expect_error(main, run_args(fx, f"{fx['models']}:good", out, *extra), capsys, message, out)


def test_output_and_cache_paths_are_checked_first(fx, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep me\n")
    good = f"{fx['models']}:good"
    expect_error(main, run_args(fx, good, afile), capsys, "is a file, not a folder", afile)
    expect_error(main, run_args(fx, good, afile / "sub"), capsys, "lies below", afile)
    expect_error(main, run_args(fx, good, "/proc/fairaudit-out"), capsys, "cannot write in /proc")
    out = tmp_path / "out"
    args = [a for a in run_args(fx, good, out) if a not in ("--cache-dir", "")]
    expect_error(main, args + ["--cache-dir", afile], capsys, "--cache-dir", out)
    expect_error(main, args + ["--cache-dir", "/proc/fairaudit-cache"], capsys, "cannot write in /proc", out)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "predictions.sqlite").write_bytes(b"not a database" * 100)
    expect_error(main, args + ["--cache-dir", garbage], capsys, "not a usable prediction cache", out)
    expect_error(main, ["compare", fx["run"], fx["run"], "--out", afile], capsys, "is a file", afile)
    expect_error(main, ["generate", "--suite", "identity", "--out", tmp_path], capsys, "use .parquet", tmp_path)
    expect_error(main, ["generate", "--suite", "identity", "--out", afile / "c.parquet"], capsys, "lies below", afile)
    expect_error(finetune_main, ["train", "--out", afile], capsys, "is a file, not a folder", afile)
    expect_error(finetune_main, ["eda", "--out", afile / "x"], capsys, "lies below", afile)


def corrupt(fx, tmp_path, name, edit):
    folder = tmp_path / name
    shutil.copytree(fx["run"], folder)
    edit(folder)
    (folder / ".broken-on-purpose").touch()  # the session's schema check (tests/conftest.py) skips this file
    return folder


@pytest.mark.parametrize("name, edit, message", [
    ("parquet", lambda f: (f / "cases.parquet").write_bytes(b"PAR1 this is not parquet"), "not a readable Parquet"),
    ("noparquet", lambda f: (f / "cases.parquet").unlink(), "cases.parquet: missing"),
    ("list", lambda f: (f / "results.json").write_text("[1, 2]"), "not a list"),
    ("nokeys", lambda f: (f / "results.json").write_text('{"schema": "fairaudit.results/1"}'), "key 'run' is missing"),
    ("badjson", lambda f: (f / "results.json").write_text('{"schema": '), "not valid JSON"),
    ("latin1", lambda f: (f / "results.json").write_bytes(b'{"a": "caf\xe9"}'), "not UTF-8"),
    ("nometrics", lambda f: (f / "results.json").write_text(json.dumps(
        {**json.loads((f / "results.json").read_text()), "metrics": [{"value": 1}]})), "metrics[0] is not a metric"),
    ("interrupted", lambda f: (f / "results.json").unlink(), "an interrupted run?"),
])
def test_report_compare_and_baseline_on_broken_results(name, edit, message, fx, tmp_path, capsys):
    folder = corrupt(fx, tmp_path, name, edit)
    expect_error(main, ["report", folder], capsys, message, folder)
    if name not in ("parquet", "noparquet"):  # compare and --baseline read results.json only
        expect_error(main, ["compare", fx["run"], folder, "--out", tmp_path / "cmp"], capsys, message, tmp_path / "cmp")
        out = tmp_path / "out"
        expect_error(main, run_args(fx, f"{fx['models']}:good", out, "--baseline", folder), capsys, message, out)


def test_huge_lexicon_is_refused_by_validate_and_run(fx, tmp_path, capsys):
    big = tmp_path / "big"
    big.mkdir()
    terms = ", ".join(f"person{i}" for i in range(3000))
    (big / "big.yaml").write_text(f"""suite: big
protected:
  who:
    groups:
      - {{attributes: {{gender: female}}, terms: [{terms}]}}
      - {{attributes: {{gender: male}}, terms: [he]}}
templates:
  - {{id: t, text: "{{who}} is here."}}
""")
    expect_error(main, ["templates", "validate", big / "big.yaml"], capsys, "3,001 terms; at most 2,000")
    out = tmp_path / "out"
    expect_error(main, ["run", "--model", f"{fx['models']}:good", "--templates", big, "--suite", "big", "--out", out,
                        "--cache-dir", ""], capsys, "big.yaml:", out)


def test_an_unexpected_bug_exits_3_and_debug_shows_the_traceback(fx, tmp_path, capsys, monkeypatch):
    import audit.run

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug in the metrics")

    monkeypatch.setattr(audit.run, "all_metrics", broken)
    out = tmp_path / "out"
    line = expect_error(main, run_args(fx, f"{fx['models']}:good", out), capsys, "please report", out, code=3)
    assert "internal error (ZeroDivisionError: a bug in the metrics)" in line and "--debug" in line
    assert main([str(a) for a in run_args(fx, f"{fx['models']}:good", out, "--debug")]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.strip().splitlines()[-1].startswith("error: internal")
    assert not out.exists()


def test_finetune_shares_the_policy(tmp_path, capsys, monkeypatch, small_csv):
    import finetune.training

    def broken(cfg):
        raise ZeroDivisionError("a bug in training")

    monkeypatch.setattr(finetune.training, "train", broken)
    out = tmp_path / "out"
    line = expect_error(finetune_main, ["train", "--data", small_csv, "--out", out], capsys, "please report", out, code=3)
    assert "ZeroDivisionError: a bug in training" in line
    expect_error(finetune_main, ["evaluate", "--model", tmp_path / "none", "--data", small_csv], capsys, "no config.json")


def test_model_with_damaged_weights_that_predict_nan(tiny_classifier, tmp_path, capsys, fx):
    from safetensors.torch import load_file, save_file

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_classifier, damaged)
    weights = load_file(damaged / "model.safetensors")
    weights["classifier.weight"][0, 0] = float("nan")
    save_file(weights, damaged / "model.safetensors", metadata={"format": "pt"})
    out = tmp_path / "out"
    expect_error(main, run_args(fx, damaged, out), capsys, "produced NaN or infinite probabilities", out)
