"""Errors and exit codes, shared by every command line in the project (``python -m audit``, ``python -m finetune``).

Exit codes: 0 success (the gate passed), 1 the gate failed, 2 an error the user can fix (one ``error: ...``
line on stderr, nothing written), 3 a bug in fairaudit (a short "please report" line; the traceback only under
``--debug``), 130 interrupted. Library logging (transformers, datasets, huggingface_hub) and Python warnings
stay quiet unless ``--verbose``, so that nothing precedes our own error line.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import traceback
import warnings
from typing import Callable

USAGE, BUG, INTERRUPTED = 2, 3, 130
LIBRARY_LOGGERS = ("transformers", "datasets", "huggingface_hub", "torch", "fsspec", "filelock", "urllib3",
                   "sentence_transformers", "pyarrow")


class InputError(Exception):
    """Bad input (missing file or column, malformed template, wrong model path ...).

    Command lines print ``error: <message>`` on one line and exit with code 2. The message must say
    what is wrong and where (file, line, field, column).
    """

    exit_code = USAGE


class CliParser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) and ``--debug`` / ``--verbose`` on every (sub)command."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show the full traceback of an unexpected error")
        self.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                          help="show the log lines and warnings of the libraries (transformers, datasets ...)")

    def error(self, message: str):
        raise InputError(f"{self.prog}: {message} (see --help)")


def check_number(option: str, value: float | None, low: float | None = None, high: float | None = None,
                 low_open: bool = False) -> None:
    """Refuse a numeric option that is not finite or lies outside [low, high] (or (low, high] with ``low_open``)."""
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{option} {value}: must be a finite number")
    if low is not None and (value < low or (low_open and value == low)):
        raise InputError(f"{option} {value}: must be {'>' if low_open else '>='} {low}")
    if high is not None and value > high:
        raise InputError(f"{option} {value}: must be <= {high}")


def quiet_libraries(verbose: bool) -> None:
    """Library log lines and warnings only with ``--verbose`` (env vars for libraries imported later)."""
    level = "info" if verbose else "critical"  # even their ERROR lines: ours is the one line that explains
    for var in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "HF_HUB_VERBOSITY"):
        os.environ[var] = level
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.CRITICAL)
    if not verbose:
        warnings.simplefilter("ignore")


def run_main(parser: argparse.ArgumentParser, argv: list[str] | None, dispatch: Callable[[argparse.Namespace], int]) -> int:
    """Parse ``argv`` and run ``dispatch(args)`` under the project's one error policy; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = parser.parse_args(argv)
        with warnings.catch_warnings():
            quiet_libraries(getattr(args, "verbose", False))
            return dispatch(args)
    except InputError as exc:
        return _fail(str(exc), exc.exit_code, exc if debug else None)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except MemoryError as exc:
        return _fail("out of memory (lower --max-cases, --max-tokens or --batch-size)", USAGE, exc if debug else None)
    except OSError as exc:  # disk full, permission denied, a path that vanished: the user's to fix
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", USAGE, exc if debug else None)
    except Exception as exc:  # a bug in fairaudit or a library: say so, never look like a failed gate (1)
        if debug:
            traceback.print_exc()
        summary = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        print(f"error: internal error ({summary}); this is a bug, please report it with the command line"
              f"{'' if debug else ' and the traceback from --debug'}", file=sys.stderr)
        return BUG


def _fail(message: str, code: int, exc: BaseException | None) -> int:
    if exc is not None:
        traceback.print_exception(exc)
    print("error: " + " ".join(message.split()), file=sys.stderr)  # always exactly one line
    return code
