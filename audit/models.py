"""Model adapters: anything that maps a list of texts to an (n, k) array of class probabilities.

* :class:`HFClassifier`: a Hugging Face sequence classifier (folder or hub id); labels from ``id2label``.
* :class:`CallableClassifier`: ``package.module:function`` or ``path/to/file.py:function``; labels from the
  function's ``labels`` attribute or ``--labels``. Rule-based systems, scikit-learn pipelines and remote APIs
  fit here (see ``audit/adapters/vader.py``).
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from finetune.errors import InputError
from finetune.model import label_names, load_classifier, load_tokenizer, pick_device


class HFClassifier:
    kind = "huggingface"

    def __init__(self, name: str, device: str = "auto", precision: str = "auto", allow_pickle: bool = False,
                 trust_remote_code: bool = False):
        self.name = name
        self.device = pick_device(device)
        self.model = load_classifier(name, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
        self.model.to(self.device).eval()
        self.tokenizer = load_tokenizer(name, trust_remote_code=trust_remote_code)
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
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def n_non_embedding_parameters(self) -> int:
        emb = sum(p.numel() for n, p in self.model.named_parameters() if "embeddings" in n)
        return self.n_parameters - emb


class CallableClassifier:
    kind = "callable"

    def __init__(self, spec: str, labels: list[str] | None = None):
        self.name = spec
        self.fn = load_callable(spec)
        labels = labels or getattr(self.fn, "labels", None)
        if not labels:
            raise InputError(f"model {spec}: no labels (give the function a 'labels' attribute or pass --labels a,b,c)")
        self.labels = list(labels)
        try:
            source = inspect.getsource(self.fn)
        except (OSError, TypeError):
            source = spec
        self.fingerprint = hashlib.sha256(f"{spec}\n{self.labels}\n{source}".encode()).hexdigest()
        self.n_parameters = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        probs = np.asarray(self.fn(list(texts)), dtype=float)
        if probs.shape != (len(texts), len(self.labels)):
            raise InputError(f"model {self.name}: returned shape {probs.shape}, expected ({len(texts)}, {len(self.labels)})")
        if np.isnan(probs).any():
            raise InputError(f"model {self.name}: returned NaN probabilities")
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
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise InputError(f"model {spec}: cannot import {target}: {exc}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InputError(f"model {spec}: {target} has no function {attr!r}")
    return fn


def load_model(spec: str, labels: list[str] | None = None, **hf_options) -> HFClassifier | CallableClassifier:
    """A ``module:function`` / ``file.py:function`` spec is a callable; anything else a Hugging Face model."""
    head, sep, tail = spec.rpartition(":")  # labels only matter for callables; HF models carry id2label
    if sep and tail.isidentifier() and (head.endswith(".py") or "/" not in head) and not spec.startswith("bundled:"):
        return CallableClassifier(spec, labels)
    return HFClassifier(spec, **hf_options)
