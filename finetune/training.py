"""The training loop, readable top to bottom: config as plain values, one epoch at a time, resumable.

One process by default; under ``torchrun --nproc_per_node N`` it trains with DistributedDataParallel (gloo on
CPU, nccl on CUDA): every rank draws the same seeded global batches of ``batch_size`` rows and takes every
N-th row of each, and only rank 0 logs, evaluates, checkpoints and writes the model.

Output folder (``save_pretrained`` form): ``config.json`` (with ``id2label``), ``model.safetensors``,
tokenizer files, ``metrics.json`` (per-epoch history + final evaluation), ``report.html``; while a run is
unfinished also ``checkpoint.pt`` (last completed epoch: weights, optimizer, scheduler, RNG, history).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from transformers import get_linear_schedule_with_warmup

from core import progress
from core.batching import collate, encode, iterate, length_grouped_batches, sorted_batches
from core.forward import autocast, autocast_dtype, forward
from finetune.config import TrainConfig  # kept apart so that --help needs no torch
from core.data import LabelledData, load_data
from core.errors import InputError
from finetune.metrics import class_weights, classification_metrics
from finetune.mitigation import Mitigation, parse_modes, write_split_suites
from core.model import label_names, load_classifier, load_tokenizer, pick_device
from reports.files import write_json

CHECKPOINT = "checkpoint.pt"


MITIGATION_FIELDS = ("mitigate", "clp_weight", "clp_pairs", "heldout_seed")  # TrainConfig fields of mitigation


EVAL_BATCH = 64  # texts per evaluation batch (length-sorted, longest first)


def evaluate_split(model, tokenizer, texts: list[str], labels: list[int], names: list[str], device: torch.device,
                   max_length: int, loss_fn=None, dtype=None) -> dict:
    """Accuracy, F1 and (with ``loss_fn``) the loss of one split, through the shared forward loop."""
    ids = encode(tokenizer, texts, max_length)
    batches = sorted_batches([len(x) for x in ids], EVAL_BATCH)
    logits = forward(model, ids, batches, tokenizer.pad_token_id, device, dtype)
    metrics = classification_metrics(labels, logits.argmax(-1).tolist(), names)
    if loss_fn is not None:
        metrics["loss"] = float(loss_fn(logits, torch.tensor(labels)))
    return metrics


def train(cfg: TrainConfig) -> dict:
    ddp = int(os.environ.get("RANK", -1)) != -1  # started by torchrun: one process per device
    device = pick_device(cfg.device)
    if ddp:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return train_loop(cfg, device, ddp)
    finally:
        if ddp:
            dist.destroy_process_group()


def train_loop(cfg: TrainConfig, device: torch.device, ddp: bool) -> dict:
    rank, world = (dist.get_rank(), dist.get_world_size()) if ddp else (0, 1)
    master = rank == 0  # the one process that logs, evaluates, checkpoints and writes the model
    out = Path(cfg.out)
    dtype = autocast_dtype(cfg.precision, device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    data = load_data(cfg.data, cfg.data_dir, text_col=cfg.text_col, label_col=cfg.label_col, split_col=cfg.split_col)
    train_split, val_split = data.split("train"), data.split("val")
    ckpt_path = out / CHECKPOINT
    if cfg.resume and not ckpt_path.exists():
        if (out / "metrics.json").exists():
            return json.loads((out / "metrics.json").read_text())  # already finished
        raise InputError(f"--resume: no {CHECKPOINT} in {out} to resume from")

    torch.manual_seed(cfg.seed)  # the new classification head's initialisation
    tokenizer = load_tokenizer(cfg.base_model)
    model = load_classifier(cfg.base_model, data.labels, allow_pickle=cfg.allow_pickle).to(device)
    train_texts, train_labels = train_split.texts, train_split.labels
    mitigation = None
    if parse_modes(cfg.mitigate):  # CDA adds counterfactual rows; CLP builds its pair pool (seen terms only)
        mitigation = Mitigation(parse_modes(cfg.mitigate), cfg.clp_weight, cfg.clp_pairs, cfg.heldout_seed)
        train_texts, train_labels = mitigation.augment(train_texts, train_labels)
        mitigation.build_pairs(train_split.texts, tokenizer, cfg.max_length)
    train_ids = encode(tokenizer, train_texts, cfg.max_length)
    lengths = [len(x) for x in train_ids]
    steps_per_epoch = math.ceil(len(train_ids) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs

    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]  # biases and LayerNorm
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=cfg.lr, fused=device.type == "cuda")
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup * total_steps), total_steps)
    weights = class_weights(train_split.labels, len(data.labels), cfg.class_weights)
    row_weight = [1.0 if weights is None else float(weights[y]) for y in train_labels]  # as the loss weighs rows
    loss_fn = torch.nn.CrossEntropyLoss(weight=None if weights is None else torch.tensor(weights, dtype=torch.float),
                                        label_smoothing=cfg.label_smoothing)
    eval_loss = torch.nn.CrossEntropyLoss()

    state = {"epoch": 0, "history": [], "best": None, "best_epoch": None, "bad_epochs": 0}
    settings = {k: getattr(cfg, k) for k in MITIGATION_FIELDS} if mitigation else None
    if settings:
        state["mitigation"] = settings
    if cfg.resume:
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        # each rank continues its own dropout stream (exact when resumed with as many processes as before)
        rng = ckpt["rng_ranks"][rank] if len(ckpt.get("rng_ranks", [])) == world else ckpt
        torch.set_rng_state(rng["rng_cpu"])
        if device.type == "cuda" and rng.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(rng["rng_cuda"])
        state = json.loads(ckpt["state"])
        if state.get("mitigation") != settings:
            raise InputError(f"--resume: {ckpt_path} was trained with mitigation {state.get('mitigation')}, "
                             f"not {settings}")
    raw_model = model  # unwrapped: what is evaluated and saved
    if ddp:
        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    loss_fn = loss_fn.to(device)
    out.mkdir(parents=True, exist_ok=True)
    epochs_this_run = 0

    while state["epoch"] < cfg.epochs:
        epoch = state["epoch"]
        model.train()
        batches = length_grouped_batches(lengths, cfg.batch_size, seed=cfg.seed * 1000 + epoch)
        started, seen, loss_sum, clp_sum = time.perf_counter(), 0, 0.0, 0.0
        # a distributed batch sampler: this rank's rows of each global batch are every world-th row
        shards = [batch[rank::world] or batch[:1] for batch in batches]
        bar = progress.progress(zip(batches, iterate(train_ids, shards, tokenizer.pad_token_id)), total=len(batches),
                                disable=cfg.quiet or not master, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch")
        for step, (batch, (rows, inputs)) in enumerate(bar):
            labels = torch.tensor([train_labels[i] for i in rows], device=device)
            pairs = mitigation.sample(cfg.seed, epoch, step, rank, world) if mitigation else []
            if pairs:  # CLP: the step's counterfactual pairs ride along in the same forward pass
                inputs = collate([train_ids[i] for i in rows] + pairs, tokenizer.pad_token_id)
            with autocast(device, dtype):
                logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
            loss = loss_fn(logits[:len(rows)].float(), labels)
            if ddp:
                # DDP averages gradients over ranks: scale each rank's weighted mean so that the average is the
                # global batch's weighted mean. A rank without rows (short last batch) joins with weight 0.
                mine = sum(row_weight[i] for i in batch[rank::world])
                loss = loss * (world * mine / sum(row_weight[i] for i in batch))
            if pairs:  # under DDP each rank pairs its share; DDP's gradient average is the mean over ranks
                clp = mitigation.pair_loss(logits[len(rows):].float())
                loss = loss + clp
                clp_sum += clp.item() / world * len(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            seen += len(batch)
            loss_sum += loss.item() / world * len(batch)  # this rank's part of the global batch's mean loss
            bar.set_postfix(loss=f"{loss.item():.3f}", samples_s=f"{seen / (time.perf_counter() - started):.0f}")
        train_time = time.perf_counter() - started
        rngs = rng_states(device)
        if ddp:
            loss_sum = all_reduce_sum(loss_sum, device)
            clp_sum = all_reduce_sum(clp_sum, device) if mitigation else clp_sum
            rngs = gather(rngs, world)
        if master:
            val = evaluate_split(raw_model, tokenizer, val_split.texts, val_split.labels, data.labels, device,
                                 cfg.max_length, eval_loss, dtype)
            record = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "val_loss": val["loss"],
                      "accuracy": val["accuracy"], "f1_weighted": val["f1_weighted"], "f1_macro": val["f1_macro"],
                      "per_class": {k: v["accuracy"] for k, v in val["per_class"].items()},
                      "samples_per_s": seen / train_time, "epoch_seconds": train_time}
            if mitigation and "clp" in mitigation.modes:
                record["clp_loss"] = clp_sum / seen  # the part of train_loss that is the pairing loss
            state["history"].append(record)
            score = val[cfg.select_metric]
            if state["best"] is None or score > state["best"]:
                state.update(best=score, best_epoch=epoch + 1, bad_epochs=0)
                save_model(raw_model, tokenizer, out)
            else:
                state["bad_epochs"] += 1
            state["epoch"] = epoch + 1
            if not cfg.quiet:
                progress.write(f"epoch {epoch + 1}: train_loss {record['train_loss']:.4f} val_loss {val['loss']:.4f} "
                               f"acc {val['accuracy']:.4f} f1_w {val['f1_weighted']:.4f} f1_macro {val['f1_macro']:.4f} "
                               f"({record['samples_per_s']:.0f} samples/s)")
            stop_early = cfg.patience and state["bad_epochs"] >= cfg.patience
            if stop_early:
                state["epoch"] = cfg.epochs
            save_checkpoint(ckpt_path, raw_model, optimizer, scheduler, state, rngs)
        if ddp:
            state = broadcast(state)  # rank 0's decisions (epoch, early stop) for every rank
        epochs_this_run += 1
        if cfg.stop_after is not None and epochs_this_run >= cfg.stop_after and state["epoch"] < cfg.epochs:
            return {"status": "stopped", "epoch": state["epoch"], "history": state["history"]}

    metrics = finish(cfg, data, state, device, dtype, eval_loss, ckpt_path, mitigation) if master else None
    return broadcast(metrics) if ddp else metrics


def finish(cfg: TrainConfig, data: LabelledData, state: dict, device, dtype, eval_loss, ckpt_path: Path,
           mitigation: Mitigation | None = None) -> dict:
    """Reload the best checkpoint from disk (as a user would) and evaluate it; write metrics and the report."""
    out = Path(cfg.out)
    model = load_classifier(str(out)).to(device)
    tokenizer = load_tokenizer(str(out))
    final = {}
    for split in ("val", "test"):
        if split in data.splits:
            s = data.splits[split]
            final[split] = evaluate_split(model, tokenizer, s.texts, s.labels, label_names(model), device,
                                          cfg.max_length, eval_loss, dtype)
    skip = ("resume", "stop_after", "quiet") + (() if mitigation else MITIGATION_FIELDS)
    config = {k: v for k, v in asdict(cfg).items() if k not in skip}
    metrics = {"status": "finished", "data": data.name, "labels": data.labels, "notes": data.notes,
               "sizes": {k: len(v) for k, v in data.splits.items()}, "config": config,
               "best_epoch": state["best_epoch"], "select_metric": cfg.select_metric,
               "history": state["history"], "final": final}
    if mitigation:  # settings, pair counts, the held-out split, and its audit suites next to the model
        metrics["mitigation"] = mitigation.record()
        write_split_suites(out / "mitigation-suites", cfg.heldout_seed)
    write_json(out / "metrics.json", metrics)
    from reports.training import write_training_report

    write_training_report(out / "report.html", metrics)
    ckpt_path.unlink(missing_ok=True)
    return metrics


def save_model(model, tokenizer, out: Path) -> None:
    """save_pretrained into a staging folder, then move each file into place (no half-written model)."""
    staging = out / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    for item in staging.iterdir():
        os.replace(item, out / item.name)
    staging.rmdir()


def rng_states(device: torch.device) -> dict:
    rng = {"rng_cpu": torch.get_rng_state()}
    if device.type == "cuda":
        rng["rng_cuda"] = torch.cuda.get_rng_state()
    return rng


def save_checkpoint(path: Path, model, optimizer, scheduler, state: dict, rng: dict | list[dict]) -> None:
    """``rng``: this process's RNG states, or under DDP a list of every rank's (``rng_ranks``; rank 0's also
    at the top level, where a single-process resume looks)."""
    ranks = rng if isinstance(rng, list) else None
    ckpt = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            **(ranks[0] if ranks else rng), "state": json.dumps(state)}
    if ranks:
        ckpt["rng_ranks"] = ranks
    tmp = path.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


def all_reduce_sum(value: float, device: torch.device) -> float:
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.item()


def gather(obj, world: int) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    out = [None] * world
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj):
    """Rank 0's ``obj`` on every rank."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def evaluate_saved(model_dir: str, data_spec: str, split: str, data_dir: str | None = None, device: str = "auto",
                   max_length: int = 128, **file_options) -> dict:
    """Reload a fine-tuned folder and score one split; labels are matched by name, not by position."""
    dev = pick_device(device)
    model = load_classifier(model_dir).to(dev)
    tokenizer = load_tokenizer(model_dir)
    names = label_names(model)
    data = load_data(data_spec, data_dir, **file_options)
    s = data.split(split)
    missing = sorted(set(data.labels) - set(names))
    if missing:
        raise InputError(f"model {model_dir} has no label {missing[0]!r} found in data set {data.name}")
    y = [names.index(data.labels[i]) for i in s.labels]
    return evaluate_split(model, tokenizer, s.texts, y, names, dev, max_length,
                          torch.nn.CrossEntropyLoss(), autocast_dtype("auto", dev))
