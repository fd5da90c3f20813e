"""fairaudit: fine-tune text classifiers, audit them for bias, report, and gate releases in CI.

The ``fairaudit`` command (``fairaudit.cli``) dispatches to ``python -m audit`` and ``python -m finetune``;
``fairaudit.templates`` holds the built-in suites in an installed wheel; ``fairaudit.progress`` is the
progress output shared by the training and scoring loops. Importing this package imports nothing heavy.
"""
