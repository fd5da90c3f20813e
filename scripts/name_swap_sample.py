"""Print a seeded sample of name swaps on real text for review by eye (README "Names on real text").

    python -m audit generate --data tweeteval-sentiment --data-dir ../shared/data --out /tmp/ts.parquet
    python scripts/name_swap_sample.py /tmp/ts.parquet --n 200 --seed 17

One line per source text (its gender-swap variant): the original with the swapped name in [[ ]], then the
variant. The printed texts come from the data set: read them, do not commit them.
"""
from __future__ import annotations

import argparse
import difflib
import random
import re

import pandas as pd


def marked(original: str, swapped: str) -> str:
    """``original`` with the spans that the swap replaced in ``[[ ]]``."""
    a, b = re.split(r"(\W+)", original), re.split(r"(\W+)", swapped)  # word by word
    out = []
    for op, i, j, _, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        out.append("".join(a[i:j]) if op == "equal" else f"[[{''.join(a[i:j])}]]")
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", help="cases file written by `python -m audit generate --data ...`")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    cases = pd.read_parquet(args.cases)
    names = cases[(cases["suite"] == "perturb-names") & cases["family"].str.endswith(":gender")]
    pairs = [(int(row), fam["text"].iloc[0], fam["text"].iloc[1]) for row, fam in names.groupby("source_row")]
    sample = sorted(random.Random(args.seed).sample(pairs, min(args.n, len(pairs))))
    print(f"{len(pairs)} texts with a name swap; {len(sample)} sampled with seed {args.seed}")
    for i, (row, original, swapped) in enumerate(sample, start=1):
        print(f"{i:3d} row {row}: {marked(original, swapped)}\n      -> {swapped}".replace("\r", " "))


if __name__ == "__main__":
    main()
