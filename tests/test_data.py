import json
from collections import Counter

import pandas as pd
import pytest

from finetune.__main__ import main as finetune_main
from core.data import DATA_ENV, clean_smile, load_data, read_smile_raw, resolve_data_dir
from core.errors import InputError


def test_smile_cleaning_matches_the_seed(data_dir):
    raw = read_smile_raw(data_dir)
    clean, dropped = clean_smile(raw)
    assert len(raw) == 3085
    assert dropped == {"nocode": 1572, "multi-label": 32, "empty text": 0}
    assert len(clean) == 1481
    data = load_data("smile", data_dir)
    assert data.labels == ["angry", "disgust", "happy", "not-relevant", "sad", "surprise"]
    assert (len(data.split("train")), len(data.split("val"))) == (1258, 223)
    counts = Counter(data.labels[i] for i in data.split("train").labels + data.split("val").labels)
    assert counts == {"happy": 1137, "not-relevant": 214, "angry": 57, "surprise": 35, "sad": 32, "disgust": 6}


def test_smile_split_is_stratified_and_fixed(data_dir):
    a, b = load_data("smile", data_dir), load_data("smile", data_dir)
    assert a.split("val").texts == b.split("val").texts
    val = Counter(a.split("val").labels)
    assert val[a.labels.index("happy")] == 171  # 15% of 1137, rounded by the stratified split


def test_tweeteval(data_dir):
    emo = load_data("tweeteval-emotion", data_dir)
    assert emo.labels == ["anger", "joy", "optimism", "sadness"]
    assert {k: len(v) for k, v in emo.splits.items()} == {"train": 3257, "val": 374, "test": 1421}
    sent = load_data("tweeteval-sentiment", data_dir)
    assert {k: len(v) for k, v in sent.splits.items()} == {"train": 1700, "val": 300, "test": 12284}
    assert "no official train split" in sent.notes[0]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_any_file_format(tmp_path, suffix):
    frame = pd.DataFrame({"sentence": [f"text {i}" for i in range(40)], "y": ["a", "b"] * 20})
    path = tmp_path / f"d{suffix}"
    {".csv": lambda: frame.to_csv(path, index=False), ".jsonl": lambda: frame.to_json(path, orient="records", lines=True),
     ".parquet": lambda: frame.to_parquet(path)}[suffix]()
    data = load_data(str(path), text_col="sentence", label_col="y")
    assert data.labels == ["a", "b"]
    assert len(data.split("train")) + len(data.split("val")) == 40


def test_split_column(tmp_path):
    frame = pd.DataFrame({"text": list("abcdef"), "label": ["x", "y"] * 3,
                          "split": ["train", "train", "train", "validation", "validation", "test"]})
    frame.to_csv(tmp_path / "s.csv", index=False)
    data = load_data(str(tmp_path / "s.csv"), split_col="split")
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 3, "val": 2, "test": 1}


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    assert resolve_data_dir("/x") == resolve_data_dir("/x")
    assert str(resolve_data_dir("/elsewhere")) == "/elsewhere"
    monkeypatch.delenv(DATA_ENV)
    assert str(resolve_data_dir(None)) == "../shared/data"


@pytest.mark.parametrize("frame, options, message", [
    (pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]}), {"label_col": "missing"}, "missing column 'missing'"),
    (pd.DataFrame({"text": ["a", None], "label": ["x", "y"]}), {}, "row 2: column 'text' is empty or NaN"),
    (pd.DataFrame({"text": [], "label": []}), {}, "empty"),
])
def test_bad_files(tmp_path, frame, options, message):
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=message):
        load_data(str(path), **options)


def test_missing_builtin_file_names_file_and_source(tmp_path):
    with pytest.raises(InputError) as err:
        load_data("smile", tmp_path)
    assert "smile/smile-annotations-final.csv" in str(err.value) and "SMILE" in str(err.value)


def test_eda_cli(data_dir, tmp_path, capsys):
    assert finetune_main(["eda", "--data", "smile", "--data-dir", str(data_dir), "--out", str(tmp_path)]) == 0
    eda = json.loads((tmp_path / "eda.json").read_text())
    assert eda["before_cleaning"]["rows"] == 3085 and eda["after_cleaning"]["rows"] == 1481
    assert eda["dropped"]["nocode"] == 1572
    assert sum(h["count"] for h in eda["tokens"]["histogram"]) == 1481
    html = (tmp_path / "data_card.html").read_text()
    assert "<svg" in html and "Dropped rows" in html
