"""Where an audit's time goes: a clock whose phases are laid end to end, so that they add up to the wall time.

:class:`PhaseClock` hands every second since it started to exactly one phase: ``mark(name)`` books the time
since the previous mark to ``name``. ``startup`` is the time from the process's creation to the first line
of the audit (interpreter start, the imports of the command, argument parsing), read from the kernel's record
of the process (Linux ``/proc``; elsewhere it is left out).
"""
from __future__ import annotations

import os
import time


def process_age() -> float | None:
    """Seconds since this process was created (Linux: ``/proc/self/stat`` field 22, in clock ticks since
    boot, against ``CLOCK_BOOTTIME``); None where the system does not say."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # the command name may contain spaces
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22; fields[0] is field 3
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class PhaseClock:
    """``mark(name)`` after each phase; ``seconds`` maps phases to seconds in the order they first ran (a phase
    marked twice adds up). ``startup``: seconds before the clock started that belong to the total too."""

    def __init__(self, startup: float | None = None):
        self.started = self._last = time.perf_counter()
        self.seconds: dict[str, float] = {"startup": startup} if startup else {}

    def mark(self, name: str) -> float:
        now = time.perf_counter()
        spent = now - self._last
        self.seconds[name] = self.seconds.get(name, 0.0) + spent
        self._last = now
        return spent

    @property
    def elapsed(self) -> float:
        """Seconds since the clock started (the startup not included)."""
        return time.perf_counter() - self.started

    def breakdown(self) -> dict:
        """``{"phases": {name: seconds}, "total_seconds": their sum, "process": True if startup is in}``."""
        phases = {k: round(v, 4) for k, v in self.seconds.items()}
        return {"phases": phases, "total_seconds": round(sum(phases.values()), 4), "process": "startup" in phases}
