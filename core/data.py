"""Labelled text data sets: SMILE (the seed), TweetEval, and any CSV / JSONL / Parquet file.

Every loader returns a :class:`LabelledData` with fixed ``train`` / ``val`` (/ ``test``) splits and
the label names in id order, so training, evaluation and the audit see the same splits.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from core.errors import InputError

DATA_ENV = "FAIRAUDIT_DATA"
DEFAULT_DATA_DIR = Path("../shared/data")
BUILTIN = ("smile", "tweeteval-emotion", "tweeteval-sentiment")

SMILE_FILE = "smile/smile-annotations-final.csv"
SMILE_SPLIT = dict(val_fraction=0.15, seed=17)  # the seed workflow's split
SOURCES = {
    "smile": "SMILE Twitter Emotion data set (Wang et al. 2016, figshare, CC BY 4.0)",
    "tweeteval-emotion": "TweetEval emotion (Barbieri et al. 2020)",
    "tweeteval-sentiment": "TweetEval sentiment (Barbieri et al. 2020)",
    "eec": "Equity Evaluation Corpus (Kiritchenko & Mohammad 2018)",
}


@dataclass
class Split:
    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class LabelledData:
    name: str
    labels: list[str]  # label names, index = class id
    splits: dict[str, Split]
    notes: list[str] = field(default_factory=list)

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise InputError(f"data set {self.name!r} has no {name!r} split (has: {', '.join(self.splits)})")
        return self.splits[name]


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``--data-dir``, then ``$FAIRAUDIT_DATA``, then ``../shared/data``."""
    return Path(data_dir or os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR)


def data_file(data_dir: Path, relative: str, source: str) -> Path:
    path = data_dir / relative
    if not path.is_file():
        raise InputError(
            f"missing data file {path} ({source}); set --data-dir or ${DATA_ENV} to the folder holding {relative}"
        )
    return path


# ---------------------------------------------------------------- SMILE
def read_smile_raw(data_dir: Path) -> pd.DataFrame:
    path = data_file(data_dir, SMILE_FILE, SOURCES["smile"])
    return pd.read_csv(path, header=None, names=["id", "text", "category"], dtype=str, keep_default_na=False)


def clean_smile(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The seed's cleaning: drop ``nocode`` and multi-label rows (``happy|sad``). Returns rows kept and drop counts."""
    nocode = raw["category"] == "nocode"
    multi = raw["category"].str.contains("|", regex=False)
    empty = raw["text"].str.strip() == ""
    kept = raw[~(nocode | multi | empty)].reset_index(drop=True)
    return kept, {"nocode": int(nocode.sum()), "multi-label": int(multi.sum()), "empty text": int((empty & ~nocode & ~multi).sum())}


def load_smile(data_dir: Path) -> LabelledData:
    clean, _ = clean_smile(read_smile_raw(data_dir))
    return from_frame("smile", clean, "text", "category", **SMILE_SPLIT)


# ---------------------------------------------------------------- TweetEval
def load_tweeteval(name: str, data_dir: Path) -> LabelledData:
    folder = name  # tweeteval-emotion / tweeteval-sentiment
    mapping = data_file(data_dir, f"{folder}/mapping.txt", SOURCES[name])
    labels = [line.split("\t", 1)[1].strip() for line in mapping.read_text().splitlines() if line.strip()]
    splits: dict[str, Split] = {}
    for split in ("train", "val", "test"):
        text_path = data_dir / folder / f"{split}_text.txt"
        if not text_path.exists():
            continue
        label_path = data_file(data_dir, f"{folder}/{split}_labels.txt", SOURCES[name])
        texts = text_path.read_text(encoding="utf-8").rstrip("\n").split("\n")
        ids = [int(x) for x in label_path.read_text().split()]
        if len(texts) != len(ids):
            raise InputError(f"{text_path}: {len(texts)} texts but {label_path.name} has {len(ids)} labels")
        splits[split] = Split([t.strip() for t in texts], ids)
    if not splits:
        raise InputError(f"missing data files {data_dir / folder}/{{train,val,test}}_text.txt ({SOURCES[name]})")
    notes = []
    if "train" not in splits:
        # TweetEval sentiment ships without its train split here: train on 85% of val, keep 15% for model
        # selection, and report on the untouched official test split.
        val = splits.pop("val")
        tr_i, va_i = _stratified(val.labels, 0.15, 17)
        splits = {"train": _take(val, tr_i), "val": _take(val, va_i), **splits}
        notes.append("no official train split: train = 85% of official val, val = 15% of it (stratified, seed 17)")
    return LabelledData(name, labels, splits, notes)


# ---------------------------------------------------------------- any file
def read_table(path: Path) -> pd.DataFrame:
    """Read CSV / TSV / JSONL / Parquet through the `datasets` library."""
    if not path.is_file():
        raise InputError(f"missing data file {path}")
    kinds = {".csv": "csv", ".tsv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
    kind = kinds.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"{path}: unsupported file type {path.suffix!r} (use .csv, .tsv, .jsonl or .parquet)")
    if kind != "parquet":
        check_utf8(path)
    import datasets

    datasets.disable_progress_bars()
    kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
    try:
        ds = datasets.load_dataset(kind, data_files=str(path), split="train", **kwargs)
    except Exception as exc:  # datasets raises many types for malformed files
        if "corresponds to no data" in str(exc):
            raise InputError(f"{path}: the data set is empty (no rows)") from exc
        raise InputError(f"{path}: cannot read as {kind}: {_root_cause(exc)}") from exc
    return ds.to_pandas()


def check_utf8(path: Path) -> None:
    """Text data must be UTF-8: a wrong encoding would otherwise turn into replacement characters silently."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                         f"convert the file to UTF-8") from exc


def _root_cause(exc: BaseException) -> str:
    """datasets wraps the parser's error in "An error occurred while generating the dataset": show the parser's."""
    while exc.__cause__ or exc.__context__:
        exc = exc.__cause__ or exc.__context__
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]


def require_columns(frame: pd.DataFrame, columns: list[str], where: str, filled: tuple[str, ...] = ()) -> None:
    """Every named column present (empty names skipped); in the ``filled`` ones no cell NaN, empty or blank."""
    missing = [c for c in columns if c and c not in frame.columns]
    if missing:
        raise InputError(f"{where}: missing column {missing[0]!r} (columns: {', '.join(map(str, frame.columns))})")
    for col in filter(None, filled):
        bad = frame[col].isna() | (frame[col].astype(str).str.strip() == "")
        if bad.any():
            raise InputError(f"{where}: row {int(bad.to_numpy().nonzero()[0][0]) + 1}: column {col!r} is empty or NaN "
                             f"(or whitespace only)")


def load_file(path: Path, text_col: str = "text", label_col: str = "label", split_col: str | None = None,
              val_fraction: float = 0.15, seed: int = 17, labels: list[str] | None = None) -> LabelledData:
    frame = read_table(path)
    require_columns(frame, [text_col, label_col, split_col or ""], str(path))
    return from_frame(path.name, frame, text_col, label_col, split_col, val_fraction, seed, labels, where=str(path))


def from_frame(name: str, frame: pd.DataFrame, text_col: str, label_col: str, split_col: str | None = None,
               val_fraction: float = 0.15, seed: int = 17, labels: list[str] | None = None,
               where: str | None = None) -> LabelledData:
    where = where or name
    if frame.empty:
        raise InputError(f"{where}: the data set is empty")
    require_columns(frame, [text_col, label_col], where, filled=(text_col, label_col))
    values = frame[label_col].astype(str)
    names = labels or sorted(values.unique())
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(values) - set(index))
    if unknown:
        raise InputError(f"{where}: column {label_col!r} has unknown label {unknown[0]!r} (known: {', '.join(names)})")
    texts = frame[text_col].astype(str).tolist()
    ids = [index[v] for v in values]
    full = Split(texts, ids)
    if split_col:
        splits = {}
        for split_name in ("train", "val", "validation", "dev", "test"):
            mask = (frame[split_col].astype(str) == split_name).to_numpy()
            if mask.any():
                key = "val" if split_name in ("validation", "dev") else split_name
                splits[key] = _take(full, mask.nonzero()[0].tolist())
        if "train" not in splits or "val" not in splits:
            raise InputError(f"{where}: column {split_col!r} needs 'train' and 'val' rows")
    else:
        tr_i, va_i = _stratified(ids, val_fraction, seed)
        splits = {"train": _take(full, tr_i), "val": _take(full, va_i)}
    return LabelledData(name, names, splits)


def _stratified(labels: list[int], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    idx = list(range(len(labels)))
    counts = pd.Series(labels).value_counts()
    n_val = math.ceil(val_fraction * len(labels))
    # a singleton class, or fewer validation rows than classes, cannot be stratified
    stratify = labels if counts.min() >= 2 and min(n_val, len(labels) - n_val) >= len(counts) else None
    train, val = train_test_split(idx, test_size=val_fraction, random_state=seed, stratify=stratify)
    return train, val


def _take(split: Split, idx: list[int]) -> Split:
    return Split([split.texts[i] for i in idx], [split.labels[i] for i in idx])


def load_data(spec: str, data_dir: str | os.PathLike | None = None, **file_options) -> LabelledData:
    """``smile``, ``tweeteval-emotion``, ``tweeteval-sentiment`` or a path to a CSV / JSONL / Parquet file."""
    root = resolve_data_dir(data_dir)
    if spec == "smile":
        return load_smile(root)
    if spec in ("tweeteval-emotion", "tweeteval-sentiment"):
        return load_tweeteval(spec, root)
    path = Path(spec)
    if not path.suffix:
        raise InputError(f"unknown data set {spec!r}: use one of {', '.join(BUILTIN)} or a .csv/.jsonl/.parquet path")
    return load_file(path, **{k: v for k, v in file_options.items() if v is not None})
