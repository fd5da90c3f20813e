"""``fairaudit COMMAND ...``: one command for the whole project (the console script of the package).

The audit commands are those of ``python -m audit`` (``run``, ``report``, ``compare``, ``generate``,
``templates``, ``card``, ``bench``); the fine-tuning ones those of ``python -m finetune`` (``train``,
``evaluate``, ``eda``; its ``bench`` is ``bench-train`` here). Each is handed to that module's ``main``
unchanged, so options, exit codes (0 pass, 1 gate failure, 2 bad input) and errors are the same.
"""
from __future__ import annotations

import argparse
import sys
from importlib import metadata
from types import ModuleType

FINETUNE_NAMES = {"train": "train", "evaluate": "evaluate", "eda": "eda", "bench-train": "bench"}


def _modules(command: str = "") -> tuple[ModuleType, ModuleType]:
    import audit.__main__ as audit_cli
    import finetune.__main__ as finetune_cli

    audit_cli.PROG = "fairaudit"
    # usage lines read "PROG COMMAND": finetune's bench is renamed here, so its usage keeps the module's name
    finetune_cli.PROG = "python -m finetune" if command == "bench-train" else "fairaudit"
    return audit_cli, finetune_cli


def commands() -> dict[str, tuple[str, str]]:
    """``{fairaudit command: (module, its command)}``, audit first, in the order of each module's parser."""
    audit_cli, _ = _modules()
    out = {name: ("audit", name) for name in audit_cli.COMMANDS}
    out.update({name: ("finetune", target) for name, target in FINETUNE_NAMES.items()})
    return out


def _helps() -> dict[str, str]:
    """One-line help of every command, read from the two parsers (argparse keeps it on the subparsers action)."""
    helps: dict[str, str] = {}
    for module in _modules():
        action = next(a for a in module.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
        helps.update({f"{module.__name__.split('.')[0]}:{c.dest}": c.help or "" for c in action._choices_actions})
    return helps


def usage() -> str:
    helps = _helps()
    rows = [f"  {name:<12} {helps.get(f'{module}:{target}', '')}" for name, (module, target) in commands().items()]
    return ("usage: fairaudit COMMAND [options]   (fairaudit COMMAND --help for its options)\n\n"
            + "Fine-tune text classifiers, audit them for bias, report, and gate releases in CI.\n\ncommands:\n" + "\n".join(rows) + "\n\n"
            "exit codes: 0 every gate rule passes, 1 a rule fails, 2 usage or input error\n")


def version() -> str:
    try:
        return metadata.version("fairaudit")
    except metadata.PackageNotFoundError:  # a source checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"fairaudit {version()}")
        return 0
    table = commands()
    if argv[0] not in table:
        print(f"error: unknown command {argv[0]!r} (commands: {', '.join(table)})", file=sys.stderr)
        return 2
    module, target = table[argv[0]]
    audit_cli, finetune_cli = _modules(argv[0])
    return (audit_cli if module == "audit" else finetune_cli).main([target, *argv[1:]])
