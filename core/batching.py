"""Tokenise once, then batch with dynamic padding.

Inference batches are length-sorted: :func:`sorted_batches` (fixed size, training's evaluation) and
:func:`token_budget_batches` (a token budget, the audit engine).

Training batches are *length-grouped*: shuffle, cut into mega-batches of ``group`` batches, sort each
mega-batch by length and cut it into batches, then shuffle the batch order. Each batch pads only to its own
longest text, instead of the seed's fixed 256 tokens, which on tweets (about 30 tokens) wastes ~8x compute.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch
from transformers import PreTrainedTokenizerBase


def encode(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int) -> list[list[int]]:
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int, group: int = 50) -> list[list[int]]:
    """Indices of each batch for one epoch; a pure function of ``seed`` so a resumed run sees the same order."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(lengths), generator=gen).tolist()
    mega = batch_size * group
    batches = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start:start + mega], key=lambda i: lengths[i], reverse=True)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    shuffled = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in shuffled]


def sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches: longest first, so the padding per batch is minimal and memory peaks early."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def token_budget_batches(lengths: list[int], max_tokens: int, max_batch: int = 256,
                         min_uniform: int = 32) -> list[list[int]]:
    """Sort by length and cut batches under ``max_tokens`` (rows x longest length) and ``max_batch`` rows.

    A batch also ends where the length changes once it holds ``min_uniform`` rows, so most batches have one
    length: no padding, and no attention mask to build or apply (about 10% faster on short sentences).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches, current = [], []
    for i in order:
        width = lengths[i]  # ascending order: the newest is the longest
        if current and (width * (len(current) + 1) > max_tokens or len(current) >= max_batch
                        or (width != lengths[current[-1]] and len(current) >= min_uniform)):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def collate(ids: list[list[int]], pad_id: int, pad_to: int | None = None) -> dict[str, torch.Tensor]:
    """Right-pad token ids to the longest in the batch (or to ``pad_to``) with an attention mask."""
    width = pad_to or max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, :len(seq)] = torch.tensor(seq)
        mask[row, :len(seq)] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


def iterate(ids: list[list[int]], batches: list[list[int]], pad_id: int) -> Iterator[tuple[list[int], dict]]:
    for batch in batches:
        yield batch, collate([ids[i] for i in batch], pad_id)
