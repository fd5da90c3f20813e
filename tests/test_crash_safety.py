"""kill -9 at the worst moments (issue 13, faults): the cache keeps what was scored, outputs appear together.

Each test kills a real ``python -m audit`` process with SIGKILL and then looks at what it left behind.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from audit.__main__ import main
from badinput import expect_error, run_args, write_fixtures
from tests.conftest import ROOT

SLOW_MODEL = '''
import pathlib, time
import numpy as np
FLAG = pathlib.Path(__file__).with_name("slow")
def predict(texts):
    if FLAG.exists():
        time.sleep(1.0)
    return np.array([[0.6, 0.3, 0.1] if "she" in t.lower() else [0.2, 0.3, 0.5] for t in texts])
predict.labels = ["happy", "sad", "neutral"]
'''

# runs one audit, but pauses (printing a marker) at a chosen point of the write phase, ready to be killed
PAUSING_RUN = '''
import os, sys, time
import reports.audit, reports.files
where = sys.argv[1]
if where == "rendered":  # the reports are written (into the staging folder), results.json is not
    original = reports.audit.write_reports
    def write_reports(*args, **kwargs):
        original(*args, **kwargs)
        print("PAUSED", flush=True)
        time.sleep(120)
    reports.audit.write_reports = write_reports
else:  # publishing into an existing folder: the old results.json is gone, report.html is being moved in
    replace = os.replace
    def slow_replace(src, dst, *args, **kwargs):
        if str(dst).endswith("/out/report.html"):
            print("PAUSED", flush=True)
            time.sleep(120)
        return replace(src, dst, *args, **kwargs)
    os.replace = slow_replace
from audit.__main__ import main
sys.exit(main(sys.argv[2:]))
'''


def start(args: list[str], script: str | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "audit", *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def cached_rows(path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM probs").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not created yet
            return 0


def test_kill_during_scoring_keeps_the_finished_batches(tmp_path):
    model = tmp_path / "slow.py"
    model.write_text(SLOW_MODEL)
    (tmp_path / "slow").touch()
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["run", "--model", f"{model}:predict", "--suite", "identity", "--out", str(out), "--cache-dir", str(cache),
            "-q", "--no-fail"]
    proc = start(args)
    deadline = time.time() + 120
    while cached_rows(cache / "predictions.sqlite") < 256 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    kill(proc)
    kept = cached_rows(cache / "predictions.sqlite")
    assert kept >= 256, proc.stderr.read()
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))
    (tmp_path / "slow").unlink()
    assert main(args) == 0
    scoring = json.loads((out / "results.json").read_text())["run"]["scoring"]
    assert scoring["cached"] == kept and scoring["scored"] == scoring["unique"] - kept  # only what was missing
    assert scoring["cache_stale"] is False
    print(f"re-run after kill -9 scored {scoring['scored']} of {scoring['unique']} ({kept} kept)")


def test_kill_while_writing_a_new_folder_leaves_no_results(tmp_path, capsys):
    files = write_fixtures(tmp_path)
    out = tmp_path / "out"
    args = [str(a) for a in run_args(files, f"{files['models']}:good", out, "--no-fail")]
    proc = start(["rendered", *args], PAUSING_RUN)
    assert proc.stdout.readline().strip() == "PAUSED", proc.stderr.read()
    kill(proc)
    assert not out.exists()  # nothing appeared: everything was in the staging folder
    staging = list(tmp_path.glob(".out.partial-*"))
    assert len(staging) == 1 and (staging[0] / "report.html").exists()
    expect_error(main, ["report", out], capsys, "no results.json there")
    assert main(args) == 0  # the next run removes the killed run's staging folder
    assert not list(tmp_path.glob(".out.partial-*"))
    assert {p.name for p in out.iterdir()} == {"results.json", "cases.parquet", "report.html", "summary.md", "junit.xml", ".fairaudit"}


def test_kill_while_publishing_into_an_existing_folder(tmp_path, capsys):
    files = write_fixtures(tmp_path)
    out = tmp_path / "out"
    args = [str(a) for a in run_args(files, f"{files['models']}:good", out, "--no-fail")]
    assert main(args) == 0
    assert main(["compare", str(out), str(out)]) == 0
    (out / "notes.txt").write_text("mine\n")
    proc = start(["publishing", *args], PAUSING_RUN)
    assert proc.stdout.readline().strip() == "PAUSED", proc.stderr.read()
    kill(proc)
    assert not (out / "results.json").exists()  # removed first, so a mixed set never looks complete
    expect_error(main, ["report", out], capsys, "an interrupted run? run it again")
    expect_error(main, ["compare", out, out, "--out", tmp_path / "cmp"], capsys, "an interrupted run?")
    expect_error(main, args + ["--baseline", str(out), "--out", str(tmp_path / "new")], capsys, "an interrupted run?",
                 tmp_path / "new")
    assert main(args) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"results.json", "cases.parquet", "report.html", "summary.md", "junit.xml", "notes.txt", ".fairaudit"}
    assert (out / "notes.txt").read_text() == "mine\n"  # the user's file stays; the stale compare.* are gone
    assert not list(tmp_path.glob(".out.partial-*"))
