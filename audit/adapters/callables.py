"""Python functions as models (kind ``callable``): ``package.module:function`` or ``path/to/file.py:function``,
``fn(texts) -> (n, k) probabilities``; labels from the function's ``labels`` attribute or ``--labels``.
Rule-based systems, scikit-learn pipelines and remote APIs fit here (``audit/adapters/vader.py`` is one).
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np

from core.classifier import Adapter, LoadOptions, check_labels
from core.errors import InputError


class CallableClassifier(Adapter):
    """Its fingerprint covers the spec, the labels, the source of the whole module and an optional ``version``
    attribute of the function (declare one when behaviour depends on data or services outside the module);
    cached predictions are also re-checked on a sample before use (``verify_cache``)."""
    kind = "callable"
    verify_cache = True
    worker_hint = (" (a callable must be importable on every Ray worker: install its package there, or give "
                   "path/to/file.py:function)")

    def __init__(self, spec: str, labels: list[str] | None = None):
        self.name = spec
        self.fn = load_callable(spec)
        self.labels = check_labels(spec, labels or getattr(self.fn, "labels", None))
        module_file = getattr(inspect.getmodule(self.fn), "__file__", None)
        try:  # the file itself, not inspect's line cache, which can be stale within one process
            source = Path(module_file).read_text(errors="replace") if module_file else inspect.getsource(self.fn)
        except (OSError, TypeError):
            source = spec
        version = getattr(self.fn, "version", None)
        self.fingerprint = hashlib.sha256(f"{spec}\n{self.labels}\n{version!r}\n{source}".encode()).hexdigest()

    @classmethod
    def accepts(cls, spec: str) -> bool:
        """``module:function`` / ``file.py:function``: a function name after the last colon, before it a module
        (no ``/``) or a ``.py`` file."""
        head, sep, tail = spec.rpartition(":")
        return bool(sep and tail.isidentifier() and (head.endswith(".py") or "/" not in head)
                    and not spec.startswith("bundled:"))

    @classmethod
    def load(cls, target: str, options: LoadOptions) -> CallableClassifier:
        return cls(target, options.labels)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        try:
            raw = self.fn(list(texts))
        except Exception as exc:
            raise InputError(f"model {self.name}: raised {type(exc).__name__}: {exc}"[:400]) from exc
        try:
            probs = np.asarray(raw)
        except ValueError:  # ragged rows
            probs = np.asarray(raw, dtype=object)
        if probs.dtype.kind not in "biuf":
            raise InputError(f"model {self.name}: returned {type(raw).__name__} of {probs.dtype} values, "
                             f"not a numeric array of probabilities")
        return probs.astype(float)

    def modules_by_value(self) -> list[ModuleType]:
        """A callable loaded from ``file.py`` lives in a module only this process has: send it by value."""
        return [sys.modules[self.fn.__module__]] if self.fn.__module__.startswith(USER_MODULE) else []


USER_MODULE = "fairaudit_user_"  # module name prefix of callables loaded from a file


def load_callable(spec: str) -> Callable:
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise InputError(f"model {spec}: expected package.module:function or path/to/file.py:function")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise InputError(f"model {spec}: file {path} not found")
        module_spec = importlib.util.spec_from_file_location(f"{USER_MODULE}{path.stem}", path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # SyntaxError, or anything the module raises while it is imported
            del sys.modules[module_spec.name]
            raise InputError(f"model {spec}: importing {path} failed: {_describe(exc)}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise InputError(f"model {spec}: cannot import {target}: {exc}") from exc
        except Exception as exc:
            raise InputError(f"model {spec}: importing {target} failed: {_describe(exc)}") from exc
    if not hasattr(module, attr):
        raise InputError(f"model {spec}: {target} has no function {attr!r}")
    fn = getattr(module, attr)
    if not callable(fn):
        raise InputError(f"model {spec}: {target}'s {attr!r} is a {type(fn).__name__}, not a function: name a "
                         "function that takes a list of texts and returns probabilities")
    return fn


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"[:300]
