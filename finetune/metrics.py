"""Classification quality: accuracy, weighted / macro F1, per-class accuracy and the confusion matrix."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


def classification_metrics(y_true: list[int], y_pred: list[int], labels: list[str]) -> dict:
    """Per-class accuracy is the seed's "correct / total" for the rows whose true label is that class (recall)."""
    ids = list(range(len(labels)))
    cm = confusion_matrix(y_true, y_pred, labels=ids)
    per_class = {}
    for i, name in enumerate(labels):
        total = int(cm[i].sum())
        per_class[name] = {"correct": int(cm[i, i]), "total": total,
                           "accuracy": float(cm[i, i] / total) if total else None}
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_weighted": float(f1_score(y_true, y_pred, labels=ids, average="weighted", zero_division=0)),
        "f1_macro": float(f1_score(y_true, y_pred, labels=ids, average="macro", zero_division=0)),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "labels": list(labels),
    }


def class_weights(labels: list[int], n_classes: int, scheme: str) -> np.ndarray | None:
    """Loss weights against imbalance: ``balanced`` = n / (k * n_c); ``sqrt`` = its square root; ``none``."""
    if scheme == "none":
        return None
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    weights = len(labels) / (n_classes * np.maximum(counts, 1.0))
    return np.sqrt(weights) if scheme == "sqrt" else weights
