"""Score the cache-missed texts on a Ray cluster: Ray Data ``map_batches`` over an actor pool.

Each actor holds one model replica (shipped once through the object store, so every replica has exactly the
weights the driver fingerprinted, and no node needs the model folder) and scores whole blocks with the local
engine's own :func:`audit.predict.score`, token-budget batches included. The driver plans the blocks: it
cuts the model's own batch plan (``Adapter.plan_batches``: length-sorted token-budget batches for Hugging
Face models, fixed-size chunks for callables) into runs of whole batches, so each actor forms exactly the
batches the local engine would have formed and the probabilities are the same, bit for bit. Results come
back in any order and are joined by text. The cache stays on the driver (:func:`audit.predict.score` looks
up before and writes after).

``address``: ``None`` joins ``$RAY_ADDRESS`` when set, else starts a local cluster that is shut down after
the run; ``"auto"`` or ``"ray://host:10001"`` join an existing cluster. An already initialised Ray session
(``ray.init`` in the caller) is used as it is.
"""
from __future__ import annotations

import logging
import math
import time

import numpy as np

from audit.predict import score
from core.classifier import Adapter
from core.errors import InputError

INSTALL = "pip install 'fairaudit[ray]'"
_LOAD_FAILED = "fairaudit: model replica could not be loaded on a Ray worker: "


def require_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] extra)
    except ImportError as exc:
        raise InputError(f"--engine ray needs Ray Data ({exc}); install it with: {INSTALL}") from exc
    return ray


def connect(address: str | None = None) -> bool:
    """Join ``address`` (else ``$RAY_ADDRESS``, else start a local cluster); True when this call started Ray."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    return True


def replica_slots() -> tuple[int, bool]:
    """How many model replicas the cluster holds (one per GPU, else one per CPU), and whether they get GPUs."""
    import ray

    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    return (gpus, True) if gpus else (max(int(resources.get("CPU", 0)), 1), False)


class RayEngine:
    """A scoring function for :func:`audit.predict.score`: ``engine(model, texts, max_tokens, progress)``.

    After a call, ``busy_seconds`` is the time the actors spent scoring, summed over actors (the rest of the
    wall time is start-up, shipping and scheduling)."""

    def __init__(self, address: str | None = None, workers: int | None = None, precision: str = "auto"):
        self.ray = require_ray()
        if workers is not None and workers < 1:
            raise InputError(f"--workers {workers}: needs at least 1")
        self.address, self.workers, self.precision = address, workers, precision
        self.busy_seconds = 0.0

    def __call__(self, model: Adapter, texts: list[str], max_tokens: int = 8192,
                 progress: bool = True) -> np.ndarray:
        started = connect(self.address)
        try:
            self.ray.data.DataContext.get_current().enable_progress_bars = progress
            if not progress:
                logging.getLogger("ray.data").setLevel(logging.WARNING)
            return self._score(model, texts, max_tokens)
        finally:
            if started:
                self.ray.shutdown()

    def _score(self, model: Adapter, texts: list[str], max_tokens: int) -> np.ndarray:
        import pandas as pd

        ray = self.ray
        slots, gpus = replica_slots()
        workers = self.workers or slots
        if workers > slots:
            raise InputError(f"--workers {workers}: the Ray cluster has only {slots} {'GPUs' if gpus else 'CPUs'} "
                             f"(one per model replica)")
        blocks = plan_blocks(model, texts, max_tokens, workers)
        ship_callable_module(model)
        dataset = ray.data.from_pandas([pd.DataFrame({"text": [texts[i] for i in block]}) for block in blocks])
        scored = dataset.map_batches(Replica, batch_size=None, batch_format="numpy",
                                     compute=ray.data.ActorPoolStrategy(size=workers),
                                     num_gpus=1 if gpus else 0, num_cpus=1,
                                     fn_constructor_kwargs={"model_ref": [ray.put(model)],
                                                            "precision": self.precision, "max_tokens": max_tokens})
        probs: dict[str, np.ndarray] = {}
        self.busy_seconds = 0.0
        try:
            for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
                probs.update(zip(batch["text"].tolist(), batch["probs"]))
                self.busy_seconds += float(batch["busy_s"].sum())
        except ray.exceptions.RayError as exc:
            cause = next((line for line in str(exc).splitlines() if _LOAD_FAILED in line), None)
            if cause is None:
                raise
            raise InputError(f"model {model.name}: {cause.split(_LOAD_FAILED, 1)[1]}{model.worker_hint}") from None
        return np.stack([probs[t] for t in texts])


def plan_blocks(model: Adapter, texts: list[str], max_tokens: int, workers: int,
                per_worker: int = 4) -> list[list[int]]:
    """The local engine's batches, in its order, grouped into about ``per_worker`` blocks per worker.

    A block always ends on a batch boundary and lists its texts in the local engine's order (ascending
    length), so re-batching a block inside an actor reproduces those batches exactly.
    """
    batches = model.plan_batches(texts, max_tokens)
    target = math.ceil(len(texts) / (workers * per_worker))
    blocks, current = [], []
    for batch in batches:
        current += batch
        if len(current) >= target:
            blocks.append(current)
            current = []
    return blocks + ([current] if current else [])


def ship_callable_module(model: Adapter) -> None:
    """Modules only the driver has (a callable loaded from ``file.py``): send them by value."""
    from ray import cloudpickle

    for module in model.modules_by_value():
        cloudpickle.register_pickle_by_value(module)


class Replica:
    """One Ray actor: one model replica (on its own GPU when the cluster has GPUs) scoring whole blocks."""

    def __init__(self, model_ref: list, precision: str, max_tokens: int):
        import ray

        try:
            self.model = ray.get(model_ref[0])
        except Exception as exc:  # an unimportable callable fails here, on the worker: say so on the driver
            detail = str(getattr(exc, "cause", None) or exc).strip().splitlines()[-1]
            raise RuntimeError(f"{_LOAD_FAILED}{type(exc).__name__}: {detail}") from None
        self.model.place("auto", precision)  # the GPU Ray assigned to this actor, if any
        self.max_tokens = max_tokens

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = batch["text"].tolist()
        started = time.perf_counter()
        probs, _ = score(self.model, texts, cache=None, max_tokens=self.max_tokens, progress=False)
        busy = np.zeros(len(texts))
        busy[0] = time.perf_counter() - started  # once per block
        return {"text": batch["text"], "probs": probs, "busy_s": busy}  # probs: float64 holding exact values
