"""``python -m finetune bench``: training samples/s of this project's batching against the seed's, same run.

The seed padded every batch to 256 tokens with batch size 4 in fp32; this project groups texts of similar
length and pads each batch only to its longest text. Both run the same optimisation step on the same data.
"""
from __future__ import annotations

import time

import torch

from core.batching import collate, encode, length_grouped_batches
from core.data import load_data
from core.forward import autocast, autocast_dtype
from core.model import load_classifier, load_tokenizer, pick_device


def timed_steps(model, batches: list[dict], labels: list[torch.Tensor], device, dtype=None) -> float:
    """Samples per second of forward + backward + AdamW step over ``batches`` (after one warm-up step)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device.type == "cuda")
    model.train()

    def step(inputs, y):
        with autocast(device, dtype):
            logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
        loss = torch.nn.functional.cross_entropy(logits.float(), y.to(device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(batches[0], labels[0])
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for inputs, y in zip(batches[1:], labels[1:]):
        step(inputs, y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return sum(len(y) for y in labels[1:]) / (time.perf_counter() - start)


def make_model(args, n_labels: int):
    if args.config == "bert-base":
        from transformers import BertConfig, BertForSequenceClassification

        torch.manual_seed(0)
        return BertForSequenceClassification(BertConfig(num_labels=n_labels))  # random weights: throughput only
    return load_classifier(args.base_model, [str(i) for i in range(n_labels)])


def run_bench(args) -> dict:
    device = pick_device(args.device)
    data = load_data(args.data, args.data_dir, text_col=args.text_col, label_col=args.label_col,
                     split_col=args.split_col)
    train = data.split("train")
    tokenizer = load_tokenizer(args.base_model)
    n = min(args.samples, len(train))
    ids = encode(tokenizer, train.texts[:n], 256)
    y = train.labels[:n]
    pad = tokenizer.pad_token_id

    seed_batches = [list(range(i, min(i + 4, n))) for i in range(0, n, 4)]
    ours_batches = length_grouped_batches([len(x) for x in ids], args.batch_size, seed=0)
    results = {}
    for name, batches, pad_to, dtype in (("seed-style (pad 256, batch 4, fp32)", seed_batches, 256, None),
                                         (f"fairaudit (length-grouped, batch {args.batch_size}, dynamic padding"
                                          f"{', bf16' if device.type == 'cuda' else ''})", ours_batches, None,
                                          autocast_dtype("auto", device))):
        model = make_model(args, len(data.labels)).to(device)
        inputs = [collate([ids[i] for i in b], pad, pad_to) for b in batches]
        labels = [torch.tensor([y[i] for i in b]) for b in batches]
        results[name] = timed_steps(model, inputs, labels, device, dtype)
        del model
    (seed_name, seed_rate), (ours_name, ours_rate) = results.items()
    print(f"data {data.name}: {n} training samples, device {device}, model "
          f"{'bert-base (random)' if args.config == 'bert-base' else args.base_model}")
    print(f"{seed_name}: {seed_rate:8.1f} samples/s")
    print(f"{ours_name}: {ours_rate:8.1f} samples/s")
    print(f"speed-up: {ours_rate / seed_rate:.2f}x")
    return {"seed_samples_per_s": seed_rate, "ours_samples_per_s": ours_rate, "ratio": ours_rate / seed_rate}
