"""How many texts of a data set each dialect rule rewrites (README "Dialect"), with a few examples per rule.

    python scripts/dialect_reach.py --data tweeteval-sentiment --split test [--examples 3]
"""
from __future__ import annotations

import argparse

from core.data import load_data
from core.perturbations.dialect import reach
from core.perturbations.dialect_rules import RULES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="tweeteval-sentiment")
    parser.add_argument("--split", default="test")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--examples", type=int, default=0, help="rewritten texts to print per rule")
    args = parser.parse_args(argv)
    texts = load_data(args.data, args.data_dir).split(args.split).texts
    counts = reach(texts)
    print(f"{args.data} {args.split}: {counts['any']:,} of {len(texts):,} texts changed "
          f"({100 * counts['any'] / len(texts):.1f}%); per rule (a text can count for several):")
    grammar = sum(any(r.apply(t) != t for r in RULES if r.id != "ing-in") for t in texts)
    print(f"  by the grammatical rules alone (all but the spelling rule ing-in): {grammar:,} "
          f"({100 * grammar / len(texts):.1f}%)")
    for r in RULES:
        print(f"  {r.id:20s} {counts[r.id]:6,}  {100 * counts[r.id] / len(texts):5.1f}%")
        for text in [t for t in texts if r.apply(t) != t][:args.examples]:
            print(f"      {text!r}\n   -> {r.apply(text)!r}")


if __name__ == "__main__":
    main()
