"""``python -m finetune eda``: the seed's exploratory analysis as ``eda.json`` plus an HTML data card.

Class counts before and after cleaning, dropped rows and why, token length distribution, duplicates.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from core.data import clean_smile, load_data, read_smile_raw, resolve_data_dir
from core.model import load_tokenizer
from reports.files import write_json
from reports.training import write_data_card


def run_eda(args) -> dict:
    data = load_data(args.data, args.data_dir, text_col=args.text_col, label_col=args.label_col,
                     split_col=args.split_col)
    tokenizer = load_tokenizer(args.tokenizer)
    rows = [(t, data.labels[y], split) for split, s in data.splits.items() for t, y in zip(s.texts, s.labels)]
    frame = pd.DataFrame(rows, columns=["text", "label", "split"])
    eda: dict = {"data": data.name, "labels": data.labels, "notes": data.notes}
    if args.data == "smile":
        raw = read_smile_raw(resolve_data_dir(args.data_dir))
        _, dropped = clean_smile(raw)
        eda["before_cleaning"] = {"rows": len(raw), "classes": dict(Counter(raw["category"]).most_common())}
        eda["dropped"] = dropped
    eda["after_cleaning"] = {"rows": len(frame), "classes": dict(Counter(frame["label"]).most_common())}
    eda["splits"] = {split: {"rows": int((frame["split"] == split).sum()),
                             "classes": dict(Counter(frame.loc[frame["split"] == split, "label"]).most_common())}
                     for split in data.splits}
    lengths = np.array([len(x) for x in tokenizer(frame["text"].tolist())["input_ids"]])
    edges = [0, 16, 32, 48, 64, 96, 128, 256, 512, 10 ** 6]
    hist = np.histogram(lengths, bins=edges)[0]
    eda["tokens"] = {"tokenizer": args.tokenizer, "mean": float(lengths.mean()), "median": float(np.median(lengths)),
                     "p95": float(np.percentile(lengths, 95)), "max": int(lengths.max()),
                     "over_128": int((lengths > 128).sum()), "over_256": int((lengths > 256).sum()),
                     "histogram": [{"bin": f"{lo}-{hi - 1}" if hi < 10 ** 6 else f"{lo}+", "count": int(c)}
                                   for lo, hi, c in zip(edges[:-1], edges[1:], hist)]}
    dup = frame[frame.duplicated("text", keep=False)]
    conflicting = dup.groupby("text")["label"].nunique()
    eda["duplicates"] = {"rows_with_repeated_text": int(len(dup)), "distinct_repeated_texts": int(dup["text"].nunique()),
                         "texts_with_conflicting_labels": int((conflicting > 1).sum()),
                         "examples": dup["text"].drop_duplicates().head(5).tolist()}
    eda["summary"] = {"rows": len(frame), "classes": len(data.labels), "splits": {k: len(v) for k, v in data.splits.items()},
                      "mean_tokens": round(eda["tokens"]["mean"], 1), "duplicates": eda["duplicates"]["rows_with_repeated_text"],
                      **({"dropped": eda["dropped"]} if "dropped" in eda else {})}
    out = Path(args.out)
    write_json(out / "eda.json", eda)
    write_data_card(out / "data_card.html", eda)
    eda["summary"]["outputs"] = [str(out / "eda.json"), str(out / "data_card.html")]
    return eda
