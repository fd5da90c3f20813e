"""The one batched forward pass of a sequence classifier, and the one precision map.

Both the audit engine (``audit/adapters/huggingface.py``) and training's evaluation
(``finetune/training.py``) run inference through :func:`forward`: token ids in, one float32 row per text out
(logits, or probabilities = softmax of the logits), in input order. The training step keeps its own
forward/backward, under the same :func:`autocast`.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch

from core.batching import iterate

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # --precision -> autocast dtype


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """``auto``: bf16 on CUDA (tensor cores, the fp32 exponent range), fp32 elsewhere (CPU autocast is slower)."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return PRECISIONS[precision]


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision for ``dtype``; plain fp32 when ``dtype`` is None."""
    return torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()


def forward(model, ids: list[list[int]], batches: list[list[int]], pad_id: int, device: torch.device,
            dtype: torch.dtype | None = None, softmax: bool = False,
            on_batch: Callable[[list[int], torch.Tensor], None] | None = None) -> torch.Tensor:
    """Logits (or, with ``softmax``, probabilities) of every text, ``(len(ids), num_labels)`` float32 on the CPU.

    ``batches`` (index lists, e.g. :func:`core.batching.token_budget_batches`) fix the order of work; each batch
    is right-padded to its longest text and run under ``inference_mode`` and :func:`autocast`. A batch of one
    length gets no attention mask (the model's default all-ones mask is the same; about 10% faster).
    ``on_batch(indices, rows)`` sees each batch as it finishes (the audit writes its cache there).
    """
    model.eval()
    out = torch.empty((len(ids), model.config.num_labels))
    with torch.inference_mode(), autocast(device, dtype):
        for batch, inputs in iterate(ids, batches, pad_id):
            if bool(inputs["attention_mask"].all()):
                del inputs["attention_mask"]
            logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits.float()
            rows = (torch.softmax(logits, dim=-1) if softmax else logits).cpu()
            out[batch] = rows
            if on_batch:
                on_batch(batch, rows)
    return out
