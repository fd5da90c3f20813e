"""Shared pieces of the bad-input tests: small callables, a two-template suite, and the one assertion they all make.

The promise checked everywhere: exit code 2, exactly one ``error: ...`` line on stderr naming the problem, and
an ``--out`` left as it was (absent stays absent).
"""
from __future__ import annotations

from pathlib import Path

MINI_SUITE = """suite: mini
protected:
  who:
    groups:
      - {attributes: {gender: female}, terms: [my sister, my mother, she]}
      - {attributes: {gender: male}, terms: [my brother, my father, he]}
fills:
  feeling:
    groups: [{label: happy, terms: [happy, glad]}, {label: sad, terms: [sad, miserable]}]
templates:
  - {id: t, text: "{who} feels {feeling}.", expect: label, label_from: feeling}
  - {id: u, text: "I saw {who} at the {feeling} party."}
"""

CALLABLES = '''
import numpy as np
labels = ["happy", "sad", "neutral"]
def good(texts):
    return np.tile([0.2, 0.3, 0.5], (len(texts), 1))
def negative(texts):
    return np.tile([-0.2, 0.7, 0.5], (len(texts), 1))
def unnormalised(texts):
    return np.tile([0.2, 0.3, 0.6], (len(texts), 1))
def infinite(texts):
    return np.tile([np.inf, 0.0, 0.0], (len(texts), 1))
def nan(texts):
    return np.tile([np.nan, 0.5, 0.5], (len(texts), 1))
def strings(texts):
    return ["happy" for _ in texts]
def numeric_strings(texts):
    return [["0.2", "0.3", "0.5"] for _ in texts]
def ragged(texts):
    return [[1.0] if i else [0.5, 0.5, 0.0] for i, _ in enumerate(texts)]
def wrong_shape(texts):
    return np.tile([0.5, 0.5], (len(texts), 1))
def too_few_rows(texts):
    return np.tile([0.2, 0.3, 0.5], (max(len(texts) - 1, 0), 1))
def raises(texts):
    raise RuntimeError("service unavailable")
def duplicate_labels(texts):
    return np.tile([0.2, 0.3, 0.5], (len(texts), 1))
def no_labels(texts):
    return np.tile([0.2, 0.3, 0.5], (len(texts), 1))
def bad_labels(texts):
    return np.tile([0.2, 0.3, 0.5], (len(texts), 1))
for f in (good, negative, unnormalised, infinite, nan, strings, numeric_strings, ragged, wrong_shape, too_few_rows,
          raises):
    f.labels = labels
duplicate_labels.labels = ["happy", "sad", "happy"]
bad_labels.labels = "hsn"
'''


def write_fixtures(root: Path) -> dict[str, Path]:
    """The suite folder and the callables module under ``root``."""
    (root / "suite").mkdir(parents=True, exist_ok=True)
    (root / "suite" / "mini.yaml").write_text(MINI_SUITE)
    (root / "models.py").write_text(CALLABLES)
    return {"suite": root / "suite", "models": root / "models.py"}


def run_args(files: dict, model, out, *extra) -> list:
    """``audit run`` of ``model`` on the mini suite, without a cache."""
    return ["run", "--model", model, "--templates", files["suite"], "--suite", "mini", "--out", out, "--cache-dir", "",
            "-q", *extra]


def snapshot(path: Path) -> dict | None:
    """Every file below ``path`` with its bytes (None when it does not exist)."""
    if not path.exists():
        return None
    if path.is_file():
        return {".": path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def expect_error(main, args: list[str], capsys, message: str, out: Path | None = None, code: int = 2) -> str:
    """Run ``main(args)`` in-process; assert the exit code, one ``error:`` line containing ``message``, and an
    untouched ``out``. Returns the line."""
    before = snapshot(out) if out is not None else None
    capsys.readouterr()
    assert main([str(a) for a in args]) == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0], lines[0]
    if out is not None:
        assert snapshot(out) == before, f"{out} changed"
        assert not list(out.parent.glob(f".{out.name}.partial-*")), "a staging folder was left behind"
    return lines[0]
