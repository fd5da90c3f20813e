"""Progress of the long loops (training epochs, scoring): a live bar on a terminal, plain lines in logs.

On a terminal (stderr is a TTY and ``$CI`` is unset) this is a tqdm bar. In a pipe, a file or CI a
carriage-return bar turns into thousands of partial lines (about 1 MB for ``make demo > log``), so there one
line is printed every 10% of the work or every 10 s, whichever comes first, with the rate and time left::

    scoring: 4320/8640 sent (50%) · 1523 sent/s · ETA 00:02
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

from tqdm import tqdm

EVERY_FRACTION = 0.10
EVERY_SECONDS = 10.0


def is_live(stream: IO[str] | None = None) -> bool:
    """A live bar only where a person watches: a terminal, and not a CI runner (which sets ``CI``)."""
    stream = stream if stream is not None else sys.stderr
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return bool(getattr(stream, "isatty", lambda: False)()) and not in_ci


class LogLines:
    """tqdm's small API (iterate, ``update``, ``set_postfix``, ``close``) printed as occasional plain lines."""

    def __init__(self, iterable: Iterable | None = None, total: int | None = None, desc: str = "",
                 unit: str = "it", file: IO[str] | None = None):
        self.iterable, self.desc, self.unit, self.file = iterable, desc, unit, file
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n = self.shown = 0
        self.postfix = ""
        self.started = self.last = time.monotonic()
        self.step = max(1, math.ceil(self.total * EVERY_FRACTION)) if self.total else None
        self.closed = False

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        due_by_count = self.step is not None and self.n // self.step > self.shown // self.step
        if due_by_count or now - self.last >= EVERY_SECONDS:
            self._line(now)

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k} {v}" for k, v in values.items())

    def close(self) -> None:
        if not self.closed and self.n != self.shown:
            self._line(time.monotonic())
        self.closed = True

    def _line(self, now: float) -> None:
        elapsed = now - self.started
        rate = self.n / elapsed if elapsed > 0 else 0.0
        done = f"{self.n}/{self.total} {self.unit} ({self.n / self.total:.0%})" if self.total else f"{self.n} {self.unit}"
        parts = [f"{self.desc}: {done}" if self.desc else done, f"{rate:.1f} {self.unit}/s"]
        if self.total and rate > 0:
            parts.append(f"ETA {tqdm.format_interval((self.total - self.n) / rate)}")
        if self.postfix:
            parts.append(self.postfix)
        print(" · ".join(parts), file=self.file or sys.stderr, flush=True)
        self.shown, self.last = self.n, now


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             disable: bool = False) -> tqdm | LogLines:
    """A progress reporter with tqdm's interface: a bar on a terminal, :class:`LogLines` elsewhere."""
    if disable or is_live():
        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, leave=False, dynamic_ncols=True)
    return LogLines(iterable, total=total, desc=desc, unit=unit)


def write(message: str) -> None:
    """Print a line to stdout without breaking a live bar."""
    tqdm.write(message)
