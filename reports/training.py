"""The fine-tuning report: learning curves, confusion matrix and per-class accuracy of the final model."""
from __future__ import annotations

from pathlib import Path

from reports.files import write_text
from reports.render import render


def write_training_report(path: str | Path, metrics: dict) -> Path:
    history = metrics["history"]
    curves = {"train loss": [h["train_loss"] for h in history], "val loss": [h["val_loss"] for h in history]}
    scores = {"accuracy": [h["accuracy"] for h in history], "weighted F1": [h["f1_weighted"] for h in history],
              "macro F1": [h["f1_macro"] for h in history]}
    return write_text(path, render("training.html.j2", m=metrics, curves=curves, scores=scores))


def write_data_card(path: str | Path, eda: dict) -> Path:
    counts = lambda d: [(str(k), float(v), None, None) for k, v in d.items()]
    bars = {"before": counts(eda["before_cleaning"]["classes"]) if "before_cleaning" in eda else [],
            "after": counts(eda["after_cleaning"]["classes"]),
            "lengths": counts({h["bin"]: h["count"] for h in eda["tokens"]["histogram"]})}
    return write_text(path, render("data_card.html.j2", eda=eda, bars=bars))
