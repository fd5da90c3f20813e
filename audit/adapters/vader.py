"""VADER (Hutto & Gilbert 2014), the classic lexicon-based sentiment system, as an auditable model.

Install the extra (``pip install 'fairaudit[vader]'``) and audit it with ``python -m audit run --model vader``
(kind ``vader``), or as a plain callable: ``--model audit.adapters.vader:predict``. Both score the same way.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from core.classifier import Adapter, LoadOptions
from core.errors import InputError

labels = ["negative", "neutral", "positive"]


def analyzer():
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:  # the optional extra is missing
        raise InputError("the VADER adapter needs the 'vader' extra: pip install 'fairaudit[vader]'") from exc
    return SentimentIntensityAnalyzer()


def probabilities(vader, texts: list[str]) -> np.ndarray:
    """VADER's neg / neu / pos proportions, renormalised to sum to one (they already nearly do)."""
    scores = np.array([[s["neg"], s["neu"], s["pos"]] for s in map(vader.polarity_scores, texts)], dtype=float)
    return scores / scores.sum(axis=1, keepdims=True).clip(min=1e-12)


def predict(texts: list[str]) -> np.ndarray:
    return probabilities(analyzer(), texts)


predict.labels = labels


class VaderClassifier(Adapter):
    """``--model vader``. Its fingerprint hashes VADER's code and lexicons and this file: nothing else changes
    its scores, so cached predictions need no re-check."""
    kind = "vader"
    verify_cache = False

    def __init__(self):
        self.name, self.labels = "vader", list(labels)
        self.analyzer = analyzer()
        package = Path(__import__("vaderSentiment").__file__).parent
        h = hashlib.sha256(repr(self.labels).encode())
        for file in [Path(__file__), *sorted(package.glob("*.py")), *sorted(package.glob("*.txt"))]:
            h.update(file.name.encode() + file.read_bytes())
        self.fingerprint = h.hexdigest()

    @classmethod
    def accepts(cls, spec: str) -> bool:
        return spec == "vader"

    @classmethod
    def load(cls, target: str, options: LoadOptions) -> VaderClassifier:
        if target != "vader":
            raise InputError(f"--model vader:{target}: the vader kind takes no argument (write --model vader)")
        return cls()

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return probabilities(self.analyzer, texts)
