"""Score texts fast: deduplicate, cache, and batch as the model plans (a Hugging Face model: sorted by token
length under a token budget, ``inference_mode``); any :class:`core.classifier.Adapter` fits.

The cache is a SQLite file keyed by (model ``cache_key``, sha1 of text), so re-running an audit after adding
one template file only scores the new sentences, and a re-trained model never reuses stale scores. It is written
as batches finish (a run killed half-way keeps what it scored). A cache hit must never change a result: models
whose key cannot pin their behaviour down (callables: a helper module, a data file or a service can change)
have a fixed, seeded sample of their cached texts scored again first, and any difference drops all their entries.
"""
from __future__ import annotations

import hashlib
import random
import sqlite3
import time
from pathlib import Path
from typing import Callable

import numpy as np

from core.classifier import Adapter, check_probabilities
from core.errors import InputError
from core.progress import progress as progress_bar

VERIFY_SAMPLE = 32  # cached texts re-scored before a callable's cache entries are trusted
VERIFY_TOLERANCE = 1e-6  # entries are stored as float32


class PredictionCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path)
            self.db.execute("CREATE TABLE IF NOT EXISTS probs (model TEXT, text_sha1 TEXT, probs BLOB, "
                            "PRIMARY KEY (model, text_sha1))")
        except sqlite3.Error as exc:
            raise InputError(f"--cache-dir: {self.path} is not a usable prediction cache ({exc}); delete it "
                             f"or choose another --cache-dir") from exc

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def get(self, model: str, texts: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        keys = {self.key(t): t for t in texts}
        items = list(keys)
        for start in range(0, len(items), 500):
            chunk = items[start:start + 500]
            q = f"SELECT text_sha1, probs FROM probs WHERE model = ? AND text_sha1 IN ({','.join('?' * len(chunk))})"
            for k, blob in self.db.execute(q, [model, *chunk]):
                found[keys[k]] = np.frombuffer(blob, dtype=np.float32)
        return found

    def drop(self, model: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM probs WHERE model = ?", [model])

    def put(self, model: str, texts: list[str], probs: np.ndarray) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO probs VALUES (?, ?, ?)",
                                [(model, self.key(t), p.astype(np.float32).tobytes()) for t, p in zip(texts, probs)])

    def close(self) -> None:
        self.db.close()


def predict(model: Adapter, texts: list[str], max_tokens: int = 8192, progress: bool = True,
            on_batch: Callable[[list[int], np.ndarray], None] | None = None) -> np.ndarray:
    """Probabilities in input order, batched as the model plans (:meth:`Adapter.predict_batches`); every batch
    is checked against the contract before ``on_batch(indices, probs)`` sees it (the cache)."""
    parts: list[tuple[list[int], np.ndarray]] = []
    bar = progress_bar(total=len(texts), disable=not progress, unit="sent", desc="scoring")

    def finished(batch: list[int], probs: np.ndarray) -> None:
        probs = check_probabilities(model.name, np.asarray(probs), len(batch), model.labels)
        parts.append((list(batch), probs))
        if on_batch:
            on_batch(batch, probs)
        bar.update(len(batch))

    model.predict_batches(texts, max_tokens, finished)
    bar.close()
    out = np.empty((len(texts), len(model.labels)), dtype=np.result_type(*(p.dtype for _, p in parts), np.float32))
    for batch, probs in parts:
        out[batch] = probs
    return out


def score(model: Adapter, texts: list[str], cache: PredictionCache | None = None,
          max_tokens: int = 8192, progress: bool = True, engine=None) -> tuple[np.ndarray, dict]:
    """Probabilities for ``texts`` in input order, plus timing stats (``scored``, ``cached``, ``sentences_per_s``,
    and ``cache_verified`` / ``cache_stale`` for models whose cache entries are checked).

    ``engine``: scores the cache-missed texts elsewhere, ``engine(model, texts, max_tokens, progress)``
    (:class:`audit.ray_engine.RayEngine`); default: here, in this process, writing the cache batch by batch."""
    unique = list(dict.fromkeys(texts))
    known = cache.get(model.cache_key, unique) if cache else {}
    known = {t: p for t, p in known.items() if p.shape == (len(model.labels),) and np.isfinite(p).all()}
    check = verify_cached(model, cache, known) if known and model.verify_cache else {}
    todo = [t for t in unique if t not in known]
    started = time.perf_counter()
    if todo:
        store = (lambda idx, p: cache.put(model.cache_key, [todo[i] for i in idx], p)) if cache else None
        if engine is not None:  # the replicas return everything at once: cache it on the driver
            fresh = engine(model, todo, max_tokens, progress)
            if store:
                store(range(len(todo)), fresh)
        else:
            fresh = predict(model, todo, max_tokens, progress, on_batch=store)
        known.update(zip(todo, fresh))
    seconds = time.perf_counter() - started
    out = np.stack([known[t] for t in texts]) if texts else np.empty((0, len(model.labels)))
    stats = {"texts": len(texts), "unique": len(unique), "scored": len(todo), "cached": len(unique) - len(todo),
             "seconds": seconds, "sentences_per_s": len(todo) / seconds if todo and seconds > 0 else None, **check}
    return out.astype(np.float64), stats


def verify_cached(model: Adapter, cache: PredictionCache, known: dict[str, np.ndarray]) -> dict:
    """Re-score a fixed, seeded sample of the cached texts; on any difference drop the model's entries (in
    ``known`` and on disk) so that everything is scored again. A cache hit can then not change a result unless
    the model changed on texts outside the sample only (a sample of 32 catches any change that touches more
    than ~10% of texts with probability > 0.96)."""
    sample = random.Random(0).sample(sorted(known), min(VERIFY_SAMPLE, len(known)))
    fresh = predict(model, sample, progress=False).astype(np.float32)
    stale = not np.allclose(fresh, np.stack([known[t] for t in sample]), atol=VERIFY_TOLERANCE, rtol=0)
    if stale:
        cache.drop(model.cache_key)
        known.clear()
    return {"cache_verified": len(sample), "cache_stale": stale}
