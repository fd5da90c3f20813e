"""``torchrun --nproc_per_node 2 -m finetune train`` on CPU (gloo): the same training as one process, resumable.

Tolerance. Two processes take the same optimisation steps as one: the same global batches, and each rank's loss
scaled so that DDP's gradient average is the global batch's weighted-mean gradient. What differs is float32
summation order (each rank sums its half of the batch, then gloo adds the halves), about 1e-7 relative per
step; AdamW divides by sqrt(v), which can amplify that for parameters with tiny second moments, and the
differences compound over the 39 steps. Measured here: at most 2e-8 on the epoch losses (0 on validation).
The test allows 1e-5, 500x that, while a real bug (a wrong gradient scale, rows seen twice or never) moves
the losses by 1e-2 or more. The base model has no dropout for this comparison: one process and two would
draw different dropout masks.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, tiny_config
from finetune.training import TrainConfig, train

TRAIN = dict(epochs=3, batch_size=8, lr=3e-3, patience=0)


def torchrun(out: Path, base: Path, data: Path, *extra: str, **popen) -> list[str] | subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "finetune", "train", "--data", str(data), "--out", str(out), "--base-model", str(base),
           "--quiet", *[f"--{k.replace('_', '-')}={v}" for k, v in TRAIN.items()], *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    if popen:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def curve(metrics: dict) -> list[dict]:
    return [{k: v for k, v in h.items() if k not in ("samples_per_s", "epoch_seconds")} for h in metrics["history"]]


@pytest.fixture(scope="module")
def still_base(tmp_path_factory, tokenizer) -> Path:
    """The tiny random BERT without dropout (with dropout, 1 and 2 processes draw different masks)."""
    from transformers import BertModel

    path = tmp_path_factory.mktemp("still-base")
    torch.manual_seed(0)
    BertModel(tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_two_processes_follow_the_one_process_loss_curve(still_base, small_csv, tmp_path):
    one = train(TrainConfig(data=str(small_csv), out=str(tmp_path / "one"), base_model=str(still_base), quiet=True,
                            **TRAIN))
    stdout = torchrun(tmp_path / "two", still_base, small_csv)
    assert len([line for line in stdout if line.startswith("val: ")]) == 1  # rank 0 reports, rank 1 does not
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert (tmp_path / "two" / "model.safetensors").exists() and not (tmp_path / "two" / "checkpoint.pt").exists()
    assert len(two["history"]) == len(one["history"]) == 3
    for a, b in zip(curve(one), curve(two)):
        assert b["train_loss"] == pytest.approx(a["train_loss"], abs=1e-5)
        assert b["val_loss"] == pytest.approx(a["val_loss"], abs=1e-5)
        assert b["accuracy"] == a["accuracy"] and b["f1_macro"] == pytest.approx(a["f1_macro"], abs=1e-9)
    # it learnt something, so the comparison is not between two flat curves
    assert one["history"][-1]["train_loss"] < one["history"][0]["train_loss"] - 0.02
    assert two["final"]["val"]["accuracy"] == one["final"]["val"]["accuracy"]


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # fields: state, ppid, ...
            found.append(int(stat.parent.name))
    return found


def test_killed_run_resumes_under_torchrun_with_the_same_metrics(tiny_base, small_csv, tmp_path):
    torchrun(tmp_path / "full", tiny_base, small_csv, "--epochs=4")
    full = json.loads((tmp_path / "full" / "metrics.json").read_text())

    cut = tmp_path / "cut"
    proc = torchrun(cut, tiny_base, small_csv, "--epochs=4", popen=True)
    deadline = time.monotonic() + 300
    while not (cut / "checkpoint.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    # a machine going down: the launcher and both workers (torchrun starts each in its own session) at once
    for pid in [proc.pid, *children(proc.pid)]:
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    assert (cut / "checkpoint.pt").exists() and not (cut / "metrics.json").exists()
    done = json.loads(torch.load(cut / "checkpoint.pt", weights_only=True)["state"])["epoch"]
    assert 1 <= done < 4
    assert len(torch.load(cut / "checkpoint.pt", weights_only=True)["rng_ranks"]) == 2

    torchrun(cut, tiny_base, small_csv, "--epochs=4", "--resume")
    resumed = json.loads((cut / "metrics.json").read_text())
    assert not (cut / "checkpoint.pt").exists()
    for a, b in zip(curve(full), curve(resumed), strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], abs=1e-6)
        assert b["val_loss"] == pytest.approx(a["val_loss"], abs=1e-6)
        assert b["accuracy"] == a["accuracy"]
    assert resumed["final"]["val"]["accuracy"] == full["final"]["val"]["accuracy"]
    assert resumed["final"]["val"]["loss"] == pytest.approx(full["final"]["val"]["loss"], abs=1e-6)
