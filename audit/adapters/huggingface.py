"""Hugging Face sequence classifiers (kind ``huggingface``, alias ``hf``): a ``save_pretrained`` folder, a hub id
or ``bundled:all-MiniLM-L6-v2``; labels from ``config.json`` ``id2label``.

Texts are tokenised once, sorted by length and cut into batches under a token budget
(:func:`core.batching.token_budget_batches`), then run through the shared forward loop
(:func:`core.forward.forward`: ``inference_mode``, autocast by precision, softmax). Reduced precision on a
CPU is exact (:func:`core.forward.forward_exact`): texts whose top-two margin is small are re-scored in fp32, so
the predicted labels are fp32's.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import re
from pathlib import Path
from typing import Callable

import numpy as np

from core.classifier import Adapter, LoadOptions
from core.errors import InputError

# torch and transformers (core.batching, core.forward, core.model) are imported when a model of this kind is
# loaded, not when the kind is registered: auditing a callable never pays for them (seconds of start-up)

DEFAULT_MAX_TOKENS = 8192  # padded tokens per batch when the caller names no budget


class HFClassifier(Adapter):
    kind = "huggingface"
    aliases = ("hf",)
    verify_cache = False  # the key hashes every weight, the vocabulary, precision and library versions

    def __init__(self, name: str, device: str = "auto", precision: str = "auto", allow_pickle: bool = False,
                 trust_remote_code: bool = False, allow_random_head: bool = False):
        from core.model import check_vocabulary, label_names, load_classifier, load_tokenizer, pick_device

        self.name = name
        self.device = pick_device(device)
        self.model = load_classifier(name, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code,
                                     allow_random_head=allow_random_head)
        self.model.to(self.device).eval()
        self.tokenizer = load_tokenizer(name, trust_remote_code=trust_remote_code)
        check_vocabulary(name, self.tokenizer, self.model)
        self.labels = label_names(self.model)
        self._set_precision(precision)
        self.max_length = min(getattr(self.tokenizer, "model_max_length", 512) or 512, 512)
        self._fingerprint: str | None = None

    @classmethod
    def accepts(cls, spec: str) -> bool:
        """Everything without a ``word:`` prefix (folders, hub ids), ``bundled:...``, and any existing path."""
        return not re.match(r"[A-Za-z][\w-]+:", spec) or spec.startswith("bundled:") or Path(spec).exists()

    @classmethod
    def load(cls, target: str, options: LoadOptions) -> HFClassifier:
        return cls(target, device=options.device, precision=options.precision, allow_pickle=options.allow_pickle,
                   trust_remote_code=options.trust_remote_code, allow_random_head=options.allow_random_head)

    @property
    def fingerprint(self) -> str:
        """sha256 over every weight tensor and the tokenizer vocabulary: changes whenever predictions could."""
        if self._fingerprint is None:
            import torch

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
        key = (self.fingerprint, str(self.dtype), self.max_length, versions, code) + (("exact",) if self.exact else ())
        return hashlib.sha256(repr(key).encode()).hexdigest()

    def _set_precision(self, precision: str) -> None:
        """The autocast dtype (``auto`` resolved on this device) and whether it runs exact (reduced precision
        on a CPU: labels equal fp32's, :func:`core.forward.forward_exact`)."""
        from core.forward import PRECISIONS, autocast_dtype

        self.dtype = autocast_dtype(precision, self.device, self.model)
        self.exact = self.dtype is not None and self.device.type == "cpu"
        self.precision = next(name for name, dtype in PRECISIONS.items() if dtype == self.dtype)
        self.exactness: dict | None = None  # counts over this model's exact-mode calls, and the calibration
        self._bound: float | None = None

    @property
    def folder(self) -> str | None:
        """The local folder the weights came from (size on disk), None for a hub id."""
        from core.model import resolve_model_path

        path = Path(resolve_model_path(self.name))
        return str(path) if path.is_dir() else None

    def cuda_peak_mb(self) -> float | None:
        import torch

        return torch.cuda.max_memory_allocated(self.device) / 2 ** 20 if self.device.type == "cuda" else None

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def n_non_embedding_parameters(self) -> int:
        emb = sum(p.numel() for n, p in self.model.named_parameters() if "embeddings" in n)
        return self.n_parameters - emb

    def encode(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]

    def plan_batches(self, texts: list[str], max_tokens: int) -> list[list[int]]:
        from core.batching import token_budget_batches

        return token_budget_batches([len(x) for x in self.encode(texts)], max_tokens)

    def predict_batches(self, texts: list[str], max_tokens: int,
                        on_batch: Callable[[list[int], np.ndarray], None] | None = None) -> np.ndarray:
        """Tokenised once: the plan and the forward pass share the token ids. Returns every probability too."""
        from core.batching import token_budget_batches
        from core.forward import forward, forward_exact

        ids = self.encode(texts)
        batches = token_budget_batches([len(x) for x in ids], max_tokens)

        def finished(batch: list[int], rows: torch.Tensor) -> None:
            probs = rows.numpy()
            if not np.isfinite(probs).all():  # before the cache sees it
                raise InputError(f"model {self.name}: produced NaN or infinite probabilities (damaged weights?)")
            if on_batch:
                on_batch(batch, probs)

        pad = self.tokenizer.pad_token_id or 0
        if self.exact:
            probs, report = forward_exact(self.model, ids, pad, self.device, self.dtype, max_tokens, finished,
                                          bound=self._bound)
            self._count(report)
            return probs.numpy()
        return forward(self.model, ids, batches, pad, self.device, self.dtype, softmax=True, on_batch=finished).numpy()

    def _count(self, report: dict) -> None:
        """The first exact call calibrates the bound; later calls reuse it and add to the counts."""
        if self._bound is None:
            self._bound, self.exactness = report["bound"], dict(report)
            return
        e = self.exactness
        e["texts"], e["rescored"] = e["texts"] + report["texts"], e["rescored"] + report["rescored"]
        e["rescored_share"] = e["rescored"] / max(1, e["texts"] - e["sample"])

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.predict_batches(texts, DEFAULT_MAX_TOKENS)

    def place(self, device: str, precision: str) -> None:
        """The GPU Ray assigned to this replica, if any; ``auto`` precision resolved there (the driver may have
        no GPU while the workers do)."""
        from core.model import pick_device

        self.device = pick_device(device)
        self.model.to(self.device)
        self._set_precision(precision)
