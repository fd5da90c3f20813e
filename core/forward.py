"""The one batched forward pass of a sequence classifier, and the one precision map.

Both the audit engine (``audit/adapters/huggingface.py``) and training's evaluation
(``finetune/training.py``) run inference through :func:`forward`: token ids in, one float32 row per text out
(logits, or probabilities = softmax of the logits), in input order. The training step keeps its own
forward/backward, under the same :func:`autocast`.
"""
from __future__ import annotations

import contextlib
import random
import time
from typing import Callable

import torch

from core.batching import iterate, token_budget_batches

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # --precision -> autocast dtype
EXACT_SAMPLE = 256   # texts scored in both precisions to measure eps (forward_exact)
EXACT_SAFETY = 4.0   # the re-scoring bound is 2 x EXACT_SAFETY x the largest difference seen on that sample
EXACT_MIN_BOUND = 1e-3  # ... and never below this: a sample that happens to agree closely proves little


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AVX-512 BF16 / AMX): oneDNN says so."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(precision: str, device: torch.device, model=None) -> torch.dtype | None:
    """``auto``: bf16 on CUDA (tensor cores, the fp32 exponent range); on a CPU with native bf16, bf16 if it is
    faster for ``model``, measured (:func:`bf16_pays`); fp32 elsewhere (emulated bf16 is slower than fp32)."""
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16
        return torch.bfloat16 if device.type == "cpu" and model is not None and native_bf16() \
            and bf16_pays(model, device) else None
    return PRECISIONS[precision]


def bf16_pays(model, device: torch.device, rows: int = 64, width: int = 24, repeats: int = 3) -> bool:
    """Time a batch of random token ids in fp32 and in bf16 (best of ``repeats`` after one warm-up each): bf16
    must be 1.3x faster to pay for the exact mode's calibration and re-scoring (:func:`forward_exact`)."""
    ids = torch.randint(1000, 2000, (rows, width), generator=torch.Generator().manual_seed(0)).to(device)
    best = {}
    with torch.inference_mode():
        for dtype in (None, torch.bfloat16):
            with autocast(device, dtype):
                model(input_ids=ids)
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    model(input_ids=ids)
                    times.append(time.perf_counter() - start)
            best[dtype] = min(times)
    return best[None] > 1.3 * best[torch.bfloat16]


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


def forward_exact(model, ids: list[list[int]], pad_id: int, device: torch.device, dtype: torch.dtype,
                  max_tokens: int, on_batch: Callable[[list[int], torch.Tensor], None] | None = None,
                  seed: int = 0, bound: float | None = None) -> tuple[torch.Tensor, dict]:
    """Probabilities scored in ``dtype`` whose predicted labels equal the fp32 labels, and a report.

    1. Calibration: a seeded sample of ``EXACT_SAMPLE`` texts is scored in fp32 and in ``dtype``;
       eps = max over the sample and classes of \|p_low - p_fp32\|.
    2. Every other text is scored in ``dtype``; each whose top-two margin m = p_(1) - p_(2) is below the bound
       b = max(2 x ``EXACT_SAFETY`` x eps, ``EXACT_MIN_BOUND``) is scored again in fp32.
    Why 2 eps: if \|p_low,c - p_fp32,c\| <= e for every class c, the fp32 probability of the low-precision top
    class exceeds any other class's by at least m - 2e, so m > 2e keeps the label. The sample measures e; the
    safety factor covers differences larger than any on the sample. Rows of the sample and of re-scored texts
    are fp32's; the report holds the sample size, eps, the bound and the share re-scored. A ``bound`` from an
    earlier call on the same model skips the calibration (eps is then None).
    """
    n = len(ids)
    out = torch.empty((n, model.config.num_labels))
    sample = [] if bound is not None else sorted(random.Random(seed).sample(range(n), min(EXACT_SAMPLE, n)))
    in_sample = set(sample)
    rest = [i for i in range(n) if i not in in_sample]

    def run(index: list[int], precision: torch.dtype | None, done=None) -> torch.Tensor:
        seqs = [ids[i] for i in index]  # batches as the engine plans them, over these texts only
        plan = token_budget_batches([len(x) for x in seqs], max_tokens)
        return forward(model, seqs, plan, pad_id, device, precision, softmax=True, on_batch=done)

    eps = None
    if bound is None:
        fp32 = run(sample, None) if sample else torch.empty((0, out.shape[1]))
        eps = float((fp32 - run(sample, dtype)).abs().max()) if sample else 0.0
        bound = max(2 * EXACT_SAFETY * eps, EXACT_MIN_BOUND)
        out[sample] = fp32
        if on_batch and sample:
            on_batch(sample, fp32)
    doubtful: list[int] = []

    def keep(batch: list[int], rows: torch.Tensor) -> None:  # ``batch``: positions in ``rest``
        top2 = rows.topk(min(2, rows.shape[1]), dim=1).values
        sure = top2[:, 0] - top2[:, -1] >= bound if rows.shape[1] > 1 else torch.ones(len(batch), dtype=torch.bool)
        index = [rest[j] for j in batch]
        doubtful.extend(i for i, ok in zip(index, sure.tolist()) if not ok)
        kept = [i for i, ok in zip(index, sure.tolist()) if ok]
        out[kept] = rows[sure]
        if on_batch and kept:
            on_batch(kept, rows[sure])

    if rest:
        run(rest, dtype, keep)
    if doubtful:
        rows = run(doubtful, None)
        out[doubtful] = rows
        if on_batch:
            on_batch(doubtful, rows)
    report = {"texts": n, "sample": len(sample), "eps": eps, "safety": EXACT_SAFETY, "bound": bound,
              "rescored": len(doubtful), "rescored_share": len(doubtful) / len(rest) if rest else 0.0}
    return out, report
