"""Simulated models with known bias, for the calibration tests and the coverage study (scripts/coverage_study.py).

A simulated model reads the case table, not the text. Logits: ``margin`` for the sentence's expected class,
plus a family effect ``u_f ~ N(0, family_sd)`` per class (the frame and fill words, shared by every member of a
family, so some families sit near a class boundary) plus sentence noise ``e ~ N(0, noise_sd)`` (the whole text
matters a little); probabilities are the softmax. Near a boundary the noise flips labels between
counterparts at random, alike for every group: symmetric instability, not disparity.

Planted bias (:class:`Effect`) on the cases selected by ``where``: ``shift`` raises p(cls) by exactly that
amount per sentence (a mixture toward cls, w = shift / (1 - p_cls)); ``flip`` moves that share of the
sentences labelled ``from_cls`` (any label when None) to ``cls``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

LABELS = ["happy", "sad", "angry", "neutral"]
TO_CLASS = {"joy": "happy", "positive": "happy", "sadness": "sad", "fear": "sad", "anger": "angry",
            "negative": "angry", "neutral": "neutral"}


@dataclass
class Effect:
    where: dict[str, str]
    cls: str
    shift: float = 0.0
    flip: float = 0.0
    from_cls: str | None = None


@dataclass
class SimulatedModel:
    effects: list[Effect] = field(default_factory=list)
    margin: float = 1.5
    family_sd: float = 0.6
    noise_sd: float = 0.3

    def score(self, cases: pd.DataFrame, seed: int, noise_seed: int | None = None) -> pd.DataFrame:
        """``cases`` with ``p_<label>``, ``pred`` and ``y_true`` columns, as a scored audit would have them.

        ``noise_seed``: draw the sentence noise from its own seed, so that two releases of one model family
        (same ``seed``: same family effects) differ in sentence noise only; None: one seed for everything."""
        rng = np.random.default_rng(seed)
        out = cases.copy()
        target = out["expected_label"].map(lambda x: LABELS.index(TO_CLASS.get(x, "neutral"))).to_numpy()
        fam = pd.factorize(out["family"])[0]
        logits = self.margin * np.eye(len(LABELS))[target]
        logits += rng.normal(0, self.family_sd, (fam.max() + 1, len(LABELS)))[fam]
        logits += (rng if noise_seed is None else np.random.default_rng(noise_seed)).normal(0, self.noise_sd,
                                                                                           logits.shape)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        for effect in self.effects:
            mask = np.ones(len(out), dtype=bool)
            for col, value in effect.where.items():
                mask &= (out[col] == value).to_numpy()
            c = LABELS.index(effect.cls)
            if effect.shift:
                w = np.clip(effect.shift / (1 - probs[:, c]), 0, 1)[:, None] * mask[:, None]
                probs = (1 - w) * probs + w * np.eye(len(LABELS))[c]
            if effect.flip:
                src = probs.argmax(axis=1) == LABELS.index(effect.from_cls) if effect.from_cls else True
                move = mask & src & (rng.random(len(out)) < effect.flip)
                probs[move] = 0.5 * probs[move] + 0.5 * np.eye(len(LABELS))[c]
        for i, label in enumerate(LABELS):
            out[f"p_{label}"] = probs[:, i]
        out["pred"] = np.array(LABELS)[probs.argmax(axis=1)]
        out["y_true"] = np.array(LABELS)[target]  # the truth by construction (unlabelled frames: neutral)
        return out
