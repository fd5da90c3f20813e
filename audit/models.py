"""The model kinds the audit knows, and ``load_model``: a ``--model`` spec -> an adapter (``core.classifier``).

A spec is ``KIND:TARGET`` (``hf:runs/demo/model``, ``callable:my.module:predict``, ``vader``) or, without a
prefix, whatever the first kind in the order below accepts: ``module:function`` / ``file.py:function`` is a
callable, ``vader`` is VADER, anything else a Hugging Face folder, hub id or ``bundled:...`` name. A new kind is
one module with an :class:`core.classifier.Adapter` subclass plus one ``register`` line here.
"""
from __future__ import annotations

from audit.adapters.callables import CallableClassifier
from audit.adapters.huggingface import HFClassifier
from audit.adapters.vader import VaderClassifier
from core.classifier import Adapter, LoadOptions, load_adapter, register

register(CallableClassifier)
register(VaderClassifier)
register(HFClassifier)  # last: it accepts every un-prefixed spec that no other kind recognises

__all__ = ["CallableClassifier", "HFClassifier", "VaderClassifier", "load_model"]


def load_model(spec: str, labels: list[str] | None = None, **options) -> Adapter:
    """The adapter for ``spec``; ``options``: the other :class:`core.classifier.LoadOptions` fields."""
    return load_adapter(spec, LoadOptions(labels=labels, **options))
