"""The ``Classifier`` contract, the ``Adapter`` base class with its optional capabilities, and the registry of
model kinds that turns a ``--model`` spec into an adapter.

**Contract** (:class:`Classifier`): ``labels`` (class names, unique, non-empty), ``fingerprint`` (a string that
changes whenever predictions could) and ``predict_proba(texts) -> (n, k) array``: one row per text, one column
per label in ``labels`` order, finite values in [0, 1], rows summing to 1 within ``SUM_TOLERANCE``. The engine
checks every batch against it (:func:`check_probabilities`).

**Optional capabilities** (:class:`Adapter` attributes and methods; subclass it and override what differs):

========================  ===========================================================================
``name``                  the model as given (error messages)
``cache_key``             what predictions depend on (the prediction cache's key); default ``fingerprint``
``verify_cache``          re-score a sample of cached predictions before trusting them; default True
                          (safe for anything whose fingerprint cannot pin its behaviour down)
``plan_batches``          how texts are batched; default: chunks of ``batch_size`` (256) in input order.
                          Transformers: length-sorted batches under a token budget
``predict_batches``       score along that plan, reporting each batch as it finishes; default: one
                          ``predict_proba`` call per planned batch
``device``                where it computes (``results.json`` ``model.device``); default ``"cpu"``
``n_parameters``          parameter count, or None; default None
``place``                 move to a worker's device (a Ray replica); default: nothing to move
``modules_by_value``      modules only this process has, pickled by value to workers; default none
``worker_hint``           what to tell the user when a worker cannot load the model; default empty
========================  ===========================================================================

**Registry.** Each adapter class declares ``kind`` (its name: the ``--model KIND:...`` prefix and
``results.json`` ``model.kind``), optional ``aliases``, ``accepts(spec)`` (which un-prefixed specs it
recognises) and ``load(target, options)``; ``register(cls)`` adds it. :func:`resolve` reads ``KIND:TARGET``
when KIND is registered, else asks each kind in registration order whether it accepts the whole spec.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, ClassVar, Protocol, runtime_checkable

import numpy as np

from core.errors import InputError

SUM_TOLERANCE = 1e-4  # rows of probabilities must sum to 1 within this


@runtime_checkable
class Classifier(Protocol):
    """What every model the audit scores is: see the module docstring for the rules of ``predict_proba``."""

    labels: list[str]
    fingerprint: str

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class LoadOptions:
    """The ``audit run`` options a kind may use while loading; each kind ignores the ones it has no use for."""

    labels: list[str] | None = None  # --labels: class names for models that do not carry their own
    device: str = "auto"
    precision: str = "auto"          # auto | fp32 | bf16 | fp16
    allow_pickle: bool = False
    trust_remote_code: bool = False
    allow_random_head: bool = False


class Adapter:
    """Base class of model adapters: the optional capabilities' defaults (module docstring). A subclass sets
    ``kind``, ``labels``, ``fingerprint``, implements ``predict_proba``, and for the registry ``accepts``/``load``."""

    kind: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    name: str = ""
    labels: list[str]
    fingerprint: str
    verify_cache: bool = True
    batch_size: int = 256
    device: object = "cpu"
    n_parameters: int | None = None
    worker_hint: str = ""

    @classmethod
    def accepts(cls, spec: str) -> bool:
        """Whether an un-prefixed ``--model`` spec is this kind's (only via ``KIND:`` by default)."""
        return False

    @classmethod
    def load(cls, target: str, options: LoadOptions) -> Adapter:
        """The adapter for ``target``: the spec without its ``KIND:`` prefix."""
        raise NotImplementedError(f"{cls.__name__}.load")

    @property
    def cache_key(self) -> str:
        return self.fingerprint

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.predict_proba")

    def plan_batches(self, texts: list[str], max_tokens: int) -> list[list[int]]:
        """Indices of each batch in scoring order; ``max_tokens`` is for models that count tokens."""
        return [list(range(i, min(i + self.batch_size, len(texts)))) for i in range(0, len(texts), self.batch_size)]

    def predict_batches(self, texts: list[str], max_tokens: int,
                        on_batch: Callable[[list[int], np.ndarray], None]) -> None:
        """Score ``texts`` along :meth:`plan_batches`; ``on_batch(indices, probs)`` as each batch finishes."""
        for batch in self.plan_batches(texts, max_tokens):
            on_batch(batch, self.predict_proba([texts[i] for i in batch]))

    def place(self, device: str, precision: str) -> None:
        """On a worker (a Ray replica): move to ``device`` and resolve ``precision`` there."""

    def modules_by_value(self) -> list[ModuleType]:
        return []


def check_labels(name: str, labels) -> list[str]:
    """Class names: a non-empty list of unique, non-empty strings."""
    if not labels:
        raise InputError(f"model {name}: no labels (give the function a 'labels' attribute or pass --labels a,b,c)")
    if not isinstance(labels, (list, tuple)) or not all(isinstance(label, str) and label.strip() for label in labels):
        raise InputError(f"model {name}: labels must be a list of non-empty strings, got {labels!r}"[:300])
    if len(set(labels)) < len(labels):
        dup = next(label for label in labels if labels.count(label) > 1)
        raise InputError(f"model {name}: label {dup!r} is declared twice: labels must be unique")
    return list(labels)


def check_probabilities(name: str, probs: np.ndarray, n: int, labels: list[str]) -> np.ndarray:
    """An (n, k) array of finite values in [0, 1] whose rows sum to 1 within ``SUM_TOLERANCE``."""
    if probs.shape != (n, len(labels)):
        raise InputError(f"model {name}: returned shape {probs.shape}, expected ({n}, {len(labels)}): "
                         f"one row per text, one column per label ({', '.join(labels)})")
    bad = ~np.isfinite(probs).all(axis=1)
    if bad.any():
        raise InputError(f"model {name}: returned a non-finite probability (NaN or inf) in row {int(bad.argmax())}")
    bad = ((probs < 0) | (probs > 1)).any(axis=1)
    if bad.any():
        row = int(bad.argmax())
        raise InputError(f"model {name}: returned a probability outside [0, 1] in row {row}: {probs[row].tolist()}"[:400])
    sums = probs.sum(axis=1)
    bad = np.abs(sums - 1) > SUM_TOLERANCE
    if bad.any():
        row = int(bad.argmax())
        raise InputError(f"model {name}: row {row} sums to {sums[row]:.6g}, not 1 (within {SUM_TOLERANCE}): "
                         f"return probabilities (apply a softmax)")
    return probs


# ------------------------------------------------------------------ the registry of model kinds

KINDS: dict[str, type[Adapter]] = {}  # kind and alias names -> adapter class, in registration order
_PREFIX = re.compile(r"([A-Za-z][\w-]+):(.*)", re.DOTALL)  # KIND:TARGET (two characters at least: not C:\)


def register(adapter: type[Adapter]) -> type[Adapter]:
    """Add a model kind (usable as a class decorator). Names are lower-case words; a name is taken once."""
    for name in (adapter.kind, *adapter.aliases):
        if not re.fullmatch(r"[a-z][a-z0-9_-]+", name or ""):
            raise ValueError(f"model kind name {name!r}: use a lower-case word")
        if KINDS.get(name, adapter) is not adapter:
            raise ValueError(f"model kind {name!r} is registered already ({KINDS[name].__name__})")
        KINDS[name] = adapter
    return adapter


def known_kinds() -> str:
    """``callable, huggingface (hf), vader``: each kind once, aliases in brackets."""
    kinds = dict.fromkeys(KINDS.values())
    return ", ".join(k.kind + (f" ({', '.join(k.aliases)})" if k.aliases else "") for k in kinds)


def resolve(spec: str) -> tuple[type[Adapter], str]:
    """The kind of a ``--model`` spec and its target: ``KIND:TARGET`` with a registered KIND, else the first
    kind (in registration order) that accepts the whole spec."""
    prefixed = _PREFIX.fullmatch(spec)
    if prefixed and prefixed.group(1) in KINDS:
        kind, target = prefixed.groups()
        if not target.strip():
            raise InputError(f"--model {spec}: nothing after {kind + ':'!r} (known kinds: {known_kinds()})")
        return KINDS[kind], target
    for adapter in dict.fromkeys(KINDS.values()):
        if adapter.accepts(spec):
            return adapter, spec
    if prefixed:
        raise InputError(f"--model {spec}: unknown model kind {prefixed.group(1)!r} (known kinds: {known_kinds()}; "
                         f"write KIND:TARGET, e.g. hf:path/to/model or callable:package.module:function)")
    raise InputError(f"--model {spec!r}: no model kind accepts it (known kinds: {known_kinds()})")


def load_adapter(spec: str, options: LoadOptions | None = None) -> Adapter:
    """Resolve ``spec``, load it, and check the contract's static part (the protocol and the labels)."""
    adapter, target = resolve(spec)
    model = adapter.load(target, options or LoadOptions())
    if not isinstance(model, Classifier):
        raise TypeError(f"{adapter.__name__}.load returned {type(model).__name__}, not a Classifier")
    check_labels(model.name or spec, model.labels)
    return model
