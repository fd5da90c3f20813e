"""Model adapters: anything that maps a list of texts to an (n, k) array of class probabilities.

* :class:`HFClassifier`: a Hugging Face sequence classifier (folder or hub id); labels from ``id2label``.
* :class:`CallableClassifier`: ``package.module:function`` or ``path/to/file.py:function``; labels from the
  function's ``labels`` attribute or ``--labels``. Rule-based systems, scikit-learn pipelines and remote APIs
  fit here (see ``audit/adapters/vader.py``).

Both keep one contract: ``labels``, ``fingerprint`` (what the model is), ``cache_key`` (what its predictions
depend on: the prediction cache's key) and ``verify_cache`` (whether cached predictions must be re-checked
against a fresh sample before use: callables, whose behaviour no hash of ours can pin down).
Every output is checked before use: numeric, the right shape, finite, in [0, 1], rows summing to 1.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as md
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from core.errors import InputError
from core.model import check_vocabulary, label_names, load_classifier, load_tokenizer, pick_device

SUM_TOLERANCE = 1e-4  # rows of probabilities must sum to 1 within this


class HFClassifier:
    kind = "huggingface"
    verify_cache = False  # the key hashes every weight, the vocabulary, precision and library versions

    def __init__(self, name: str, device: str = "auto", precision: str = "auto", allow_pickle: bool = False,
                 trust_remote_code: bool = False, allow_random_head: bool = False):
        self.name = name
        self.device = pick_device(device)
        self.model = load_classifier(name, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code,
                                     allow_random_head=allow_random_head)
        self.model.to(self.device).eval()
        self.tokenizer = load_tokenizer(name, trust_remote_code=trust_remote_code)
        check_vocabulary(name, self.tokenizer, self.model)
        self.labels = label_names(self.model)
        if precision == "auto":
            precision = "bf16" if self.device.type == "cuda" else "fp32"
        self.dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        self.max_length = min(getattr(self.tokenizer, "model_max_length", 512) or 512, 512)
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """sha256 over every weight tensor and the tokenizer vocabulary: changes whenever predictions could."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for key, tensor in sorted(self.model.state_dict().items()):
                h.update(key.encode())
                h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
            vocab = sorted(self.tokenizer.get_vocab().items())
            h.update(repr(vocab).encode())
            h.update(repr(self.labels).encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    @property
    def cache_key(self) -> str:
        """The fingerprint plus what else changes the numbers: precision, truncation, the libraries' versions."""
        versions = [md.version(p) for p in ("torch", "transformers")]
        folder = Path(self.name)  # model code shipped in the folder (--trust-remote-code) changes predictions too
        code = [hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob("*.py"))] if folder.is_dir() else []
        return hashlib.sha256(repr((self.fingerprint, str(self.dtype), self.max_length, versions, code)).encode()
                              ).hexdigest()

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def n_non_embedding_parameters(self) -> int:
        emb = sum(p.numel() for n, p in self.model.named_parameters() if "embeddings" in n)
        return self.n_parameters - emb


class CallableClassifier:
    """``fn(texts) -> (n, k) probabilities``. Its fingerprint covers the spec, the labels, the source of the whole
    module and an optional ``version`` attribute of the function (declare one when behaviour depends on data or
    services outside the module); cached predictions are also re-checked on a sample before use."""
    kind = "callable"
    verify_cache = True

    def __init__(self, spec: str, labels: list[str] | None = None):
        self.name = spec
        self.fn = load_callable(spec)
        labels = labels or getattr(self.fn, "labels", None)
        if not labels:
            raise InputError(f"model {spec}: no labels (give the function a 'labels' attribute or pass --labels a,b,c)")
        if not isinstance(labels, (list, tuple)) or not all(isinstance(label, str) and label.strip() for label in labels):
            raise InputError(f"model {spec}: labels must be a list of non-empty strings, got {labels!r}"[:300])
        self.labels = list(labels)
        if len(set(self.labels)) < len(self.labels):
            dup = next(label for label in self.labels if self.labels.count(label) > 1)
            raise InputError(f"model {spec}: label {dup!r} is declared twice: labels must be unique")
        module_file = getattr(inspect.getmodule(self.fn), "__file__", None)
        try:  # the file itself, not inspect's line cache, which can be stale within one process
            source = Path(module_file).read_text(errors="replace") if module_file else inspect.getsource(self.fn)
        except (OSError, TypeError):
            source = spec
        version = getattr(self.fn, "version", None)
        self.fingerprint = hashlib.sha256(f"{spec}\n{self.labels}\n{version!r}\n{source}".encode()).hexdigest()
        self.cache_key = self.fingerprint
        self.n_parameters = None

    def __call__(self, texts: list[str]) -> np.ndarray:
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
        return check_probabilities(self.name, probs.astype(float), len(texts), self.labels)


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


def load_callable(spec: str) -> Callable:
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise InputError(f"model {spec}: expected package.module:function or path/to/file.py:function")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise InputError(f"model {spec}: file {path} not found")
        module_spec = importlib.util.spec_from_file_location(f"fairaudit_user_{path.stem}", path)
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
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InputError(f"model {spec}: {target} has no function {attr!r}")
    return fn


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"[:300]


def load_model(spec: str, labels: list[str] | None = None, **hf_options) -> HFClassifier | CallableClassifier:
    """A ``module:function`` / ``file.py:function`` spec is a callable; anything else a Hugging Face model."""
    head, sep, tail = spec.rpartition(":")  # labels only matter for callables; HF models carry id2label
    if sep and tail.isidentifier() and (head.endswith(".py") or "/" not in head) and not spec.startswith("bundled:"):
        return CallableClassifier(spec, labels)
    return HFClassifier(spec, **hf_options)
