"""fairaudit: fine-tune text classifiers, audit them for bias, report, and gate releases in CI.

The ``fairaudit`` command (``fairaudit.cli``) dispatches to ``python -m audit`` and ``python -m finetune``;
``fairaudit.templates`` holds the built-in suites in an installed wheel. The shared library below both
commands is the ``core`` package. Importing this package imports nothing heavy.
"""
