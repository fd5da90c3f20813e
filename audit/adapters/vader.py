"""VADER (Hutto & Gilbert 2014), the classic lexicon-based sentiment system, as an auditable model.

Install the extra (``pip install 'fairaudit[vader]'``) and audit it with
``python -m audit run --model audit.adapters.vader:predict``.
"""
from __future__ import annotations

import numpy as np

labels = ["negative", "neutral", "positive"]


def predict(texts: list[str]) -> np.ndarray:
    """VADER's neg / neu / pos proportions, renormalised to sum to one (they already nearly do)."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError as exc:  # the optional extra is missing
        from core.errors import InputError

        raise InputError("the VADER adapter needs the 'vader' extra: pip install 'fairaudit[vader]'") from exc
    analyzer = SentimentIntensityAnalyzer()
    scores = np.array([[s["neg"], s["neu"], s["pos"]] for s in map(analyzer.polarity_scores, texts)], dtype=float)
    return scores / scores.sum(axis=1, keepdims=True).clip(min=1e-12)


predict.labels = labels
