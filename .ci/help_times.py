"""Seconds each command's --help takes (best of 3, fresh interpreter each time): the target is under 2 s.

    python .ci/help_times.py [--python PYTHON] [--repo DIR]

Run from a checkout (or with --repo) to time that checkout's code; prints a table, exits 0 (a figure, not a test).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = [["-m", "audit", "--help"], ["-m", "finetune", "--help"], ["-m", "fairaudit", "--help"]]
COMMANDS += [["-m", "audit", c, "--help"] for c in ("run", "report", "compare", "generate", "templates", "card", "bench")]
COMMANDS += [["-m", "finetune", c, "--help"] for c in ("train", "evaluate", "eda", "bench")]


def best_of(cmd: list[str], cwd: Path, n: int = 3) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(n):
        started = time.perf_counter()
        code = subprocess.run(cmd, cwd=cwd, capture_output=True).returncode
        times.append(time.perf_counter() - started)
    return min(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent))
    args = parser.parse_args()
    for cmd in COMMANDS:
        if cmd[1] == "fairaudit" and not (Path(args.repo) / "fairaudit").is_dir():
            continue
        seconds, code = best_of([args.python, *cmd], Path(args.repo))
        print(f"{seconds:6.2f} s  {'ok' if code == 0 else f'exit {code}':<7} python {' '.join(cmd)}")


if __name__ == "__main__":
    main()
