"""Bias mitigation during fine-tuning: counterfactual data augmentation (CDA) and counterfactual logit pairing
(CLP), with terms and template frames drawn only from a *seen* half of the lexicons.

**The held-out split** (no test leakage). For each built-in suite in ``SPLIT_SUITES``, every term and every
template frame gets a rank ``sha256(f"{seed}:{text}")``; sorting by it is a seeded, stable shuffle (no
Python hash randomisation, no RNG state). Held-out are the items at even positions of that order:

* a protected group with several terms (8 names per gender x race group; ``straight``/``heterosexual``) is
  split within itself, so every group keeps terms on both sides;
* the one-term groups of one attribute (``gay``, ``lesbian``, ``bisexual`` of ``sexual_orientation``) are
  split across the attribute, so the held-out side still compares at least two groups;
* template frames of a suite are split the same way, among the frames that use the same fill slots (so the
  held-out side keeps frames with many fills, hence enough families for the gate's ``min_n``).

The audit judges a mitigated model on ``<suite>-heldout`` (held-out terms in held-out frames) and, to show
what generalised, ``<suite>-seen`` (seen terms in the same held-out frames): ``write_split_suites`` writes both
as suite files for ``python -m audit run --templates DIR --suite identity-heldout ...``. Mitigation uses seen
terms only, in seen frames (templates) or in training texts; a pair or copy whose text contains a held-out
term anywhere is dropped. Gendered words (``core.perturb.GENDER_PAIRS``) are not split: the EEC gender
results of a mitigated model are therefore not held-out evidence.

**CDA** (Lu et al. 2018, "Gender Bias in Neural Natural Language Processing"; Zmigrod et al. 2019): every
training sentence that mentions a gendered word, a first name or an identity term gets its counterfactual
copies from the audit's own engine (``core.perturb.perturb_texts``, seen lexicons), with the same label.

**CLP** (Garg et al. 2019, "Counterfactual Fairness in Text Classification through Robustness", AIES): pairs
(x, x') that differ only in a protected term; each step adds ``clp_pairs`` of them (sampled with a generator
seeded by seed, epoch and step, so a resumed run sees the same pairs) to the batch and the loss

    L = CE(batch) + W * mean_pairs mean_classes |f(x)_c - f(x')_c|

where f are the logits (Garg et al. use the L1 distance of the single toxicity logit; here averaged over
classes). Pairs: original/counterfactual training sentences, and neighbouring members of each template family
of the seen terms in seen frames.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

SPLIT_SUITES = ("identity", "names")
MODES = ("cda", "clp")


def parse_modes(spec: str) -> list[str]:
    """``"cda,clp"`` -> ``["cda", "clp"]``; empty or ``none`` -> no mitigation."""
    modes = [m.strip() for m in spec.split(",") if m.strip() and m.strip() != "none"]
    bad = [m for m in modes if m not in MODES]
    if bad:
        from core.errors import InputError

        raise InputError(f"--mitigate: unknown mode {bad[0]!r} (choose from {', '.join(MODES)}, comma-separated)")
    return modes


def _rank(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def _heldout_half(items: list[str], seed: int) -> list[str]:
    return sorted(items, key=lambda t: _rank(seed, t))[0::2]


def _term_text(term) -> str:
    return term if isinstance(term, str) else term["text"]


def split_suite(raw: dict, seed: int) -> dict:
    """``{"heldout_terms": {slot: [...]}, "heldout_frames": [...], "seen_terms": ..., "seen_frames": ...}``."""
    out = {"heldout_terms": {}, "seen_terms": {}}
    for slot, lex in raw.get("protected", {}).items():
        heldout, singles = [], {}
        for group in lex["groups"]:
            terms = [_term_text(t) for t in group["terms"]]
            if len(terms) > 1:
                heldout += _heldout_half(terms, seed)
            else:
                singles.setdefault(tuple(sorted(group["attributes"])), []).append(terms[0])
        for terms in singles.values():
            heldout += _heldout_half(terms, seed)
        every = [_term_text(t) for g in lex["groups"] for t in g["terms"]]
        out["heldout_terms"][slot] = [t for t in every if t in heldout]
        out["seen_terms"][slot] = [t for t in every if t not in heldout]
    frames = [t["id"] for t in raw.get("templates", [])]
    by_fills: dict[tuple, list[str]] = {}  # frames with the same fill slots are split among themselves
    for t in raw.get("templates", []):
        fills = tuple(sorted(set(re.findall(r"\{(\w+)", t["text"])) & set(raw.get("fills", {}))))
        by_fills.setdefault(fills, []).append(t["id"])
    held = {f for group in by_fills.values() for f in _heldout_half(group, seed)}
    out["heldout_frames"] = [f for f in frames if f in held]
    out["seen_frames"] = [f for f in frames if f not in held]
    return out


def builtin_split(seed: int = 0) -> dict[str, dict]:
    """The split of every suite in ``SPLIT_SUITES`` (what ``metrics.json`` records as ``heldout_split``)."""
    from core.suites import BUILTIN_DIR

    return {name: split_suite(yaml.safe_load((BUILTIN_DIR / f"{name}.yaml").read_text()), seed)
            for name in SPLIT_SUITES}


def restrict_suite(raw: dict, name: str, terms: dict[str, list[str]], frames: list[str]) -> dict:
    """A copy of suite ``raw`` named ``name`` with only ``terms`` per protected slot and the ``frames`` templates.
    Groups left without a term are dropped, then groups of an attribute value left alone (nothing to compare)."""
    new = {**raw, "suite": name, "description": f"{raw.get('description', '')} Restricted for mitigation: {name}."}
    new["protected"] = {}
    for slot, lex in raw.get("protected", {}).items():
        keep = set(terms[slot])
        groups = [{**g, "terms": [t for t in g["terms"] if _term_text(t) in keep]} for g in lex["groups"]]
        groups = [g for g in groups if g["terms"]]
        values: dict[str, set] = {}
        for g in groups:
            for attr, value in g["attributes"].items():
                values.setdefault(attr, set()).add(value)
        groups = [g for g in groups if all(len(values[a]) > 1 for a in g["attributes"])]
        new["protected"][slot] = {**lex, "groups": groups}
    new["templates"] = [t for t in raw.get("templates", []) if t["id"] in set(frames)]
    return new


def split_suites(seed: int = 0) -> dict[str, dict]:
    """Suite dicts by file stem: ``<s>-heldout`` and ``<s>-seen`` (held-out frames, for the audit) and
    ``<s>-train`` (seen terms in seen frames, for CLP)."""
    from core.suites import BUILTIN_DIR

    out = {}
    for name in SPLIT_SUITES:
        raw = yaml.safe_load((BUILTIN_DIR / f"{name}.yaml").read_text())
        sp = split_suite(raw, seed)
        out[f"{name}-heldout"] = restrict_suite(raw, f"{name}-heldout", sp["heldout_terms"], sp["heldout_frames"])
        out[f"{name}-seen"] = restrict_suite(raw, f"{name}-seen", sp["seen_terms"], sp["heldout_frames"])
        out[f"{name}-train"] = restrict_suite(raw, f"{name}-train", sp["seen_terms"], sp["seen_frames"])
    return out


def write_split_suites(folder: str | Path, seed: int = 0) -> list[Path]:
    """Write the audit's held-out and seen suite files (not the ``-train`` ones) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, raw in split_suites(seed).items():
        if not stem.endswith("-train"):
            path = folder / f"{stem}.yaml"
            path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
            paths.append(path)
    return paths


def _suite(raw: dict):
    from core.suites import Suite, SuiteFile

    return Suite(SuiteFile.model_validate(raw), Path(f"<{raw['suite']}>"), "")


def heldout_pattern(split: dict[str, dict]) -> re.Pattern:
    """Matches any held-out term as a whole word, exactly as the audit's ``Lexicon`` matches terms."""
    from core.perturb import Lexicon

    return Lexicon({t: {} for sp in split.values() for ts in sp["heldout_terms"].values() for t in ts}).pattern()


def counterfactual_copies(texts: list[str], seed: int = 0) -> list[tuple[int, str]]:
    """(source row, counterfactual text) for every text with a protected word, from ``perturb_texts`` with the
    seen lexicons; a copy is dropped if it or its source contains a held-out term."""
    from core.perturb import perturb_texts

    suites = {name.removesuffix("-train"): _suite(raw) for name, raw in split_suites(seed).items()
              if name.endswith("-train")}
    frame, _ = perturb_texts(texts, suites, seed=seed)
    leak = heldout_pattern(builtin_split(seed))
    variants = frame[frame["term"] != "(original)"]
    return [(int(i), t) for i, t in zip(variants["source_row"], variants["text"])
            if not leak.search(t) and not leak.search(texts[int(i)])]


def template_pairs(seed: int = 0) -> list[tuple[str, str]]:
    """Neighbouring members of every family of the ``-train`` suites (seen terms, seen frames)."""
    from core.cases import build_cases

    cases = build_cases([_suite(raw) for name, raw in split_suites(seed).items() if name.endswith("-train")])
    pairs = []
    for _, fam in cases.groupby("family", sort=False):
        texts = list(fam["text"])
        pairs += list(zip(texts, texts[1:] + texts[:1])) if len(texts) > 1 else []
    return pairs


def clp_loss(logits_a: torch.Tensor, logits_b: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight * mean over pairs and classes of |a - b|`` (Garg et al. 2019, counterfactual logit pairing)."""
    return weight * (logits_a - logits_b).abs().mean()


@dataclass
class Mitigation:
    """What ``train`` needs: the augmented training rows and the CLP pair pool (as token ids)."""
    modes: list[str]
    clp_weight: float = 1.0
    clp_pairs: int = 16
    seed: int = 0
    pair_ids: list[tuple[list[int], list[int]]] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def augment(self, texts: list[str], labels: list[int]) -> tuple[list[str], list[int]]:
        """CDA: the training rows plus their counterfactual copies, same labels (copies appended at the end)."""
        if "cda" not in self.modes:
            return texts, labels
        copies = counterfactual_copies(texts, self.seed)
        self.summary["cda_copies"] = len(copies)
        return texts + [t for _, t in copies], labels + [labels[i] for i, _ in copies]

    def build_pairs(self, texts: list[str], tokenizer, max_length: int) -> None:
        """CLP pool: training sentences with their counterfactual copies, and template pairs."""
        if "clp" not in self.modes:
            return
        from core.batching import encode

        text_pairs = [(texts[i], t) for i, t in counterfactual_copies(texts, self.seed)]
        tpl = template_pairs(self.seed)
        self.summary.update(clp_text_pairs=len(text_pairs), clp_template_pairs=len(tpl))
        pairs = text_pairs + tpl
        a, b = encode(tokenizer, [p[0] for p in pairs], max_length), encode(tokenizer, [p[1] for p in pairs], max_length)
        self.pair_ids = list(zip(a, b))

    def sample(self, seed: int, epoch: int, step: int, rank: int = 0, world: int = 1) -> list[list[int]]:
        """This step's pairs as ``[a_1..a_n, b_1..b_n]`` token ids (this rank's share under DDP); a pure function
        of (seed, epoch, step), so a resumed run draws the same pairs."""
        if not self.pair_ids:
            return []
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch * 10_007 + step)
        idx = torch.randint(len(self.pair_ids), (self.clp_pairs,), generator=gen).tolist()[rank::world]
        return [self.pair_ids[i][0] for i in idx] + [self.pair_ids[i][1] for i in idx]

    def pair_loss(self, logits: torch.Tensor) -> torch.Tensor:
        half = logits.shape[0] // 2
        return clp_loss(logits[:half], logits[half:], self.clp_weight)

    def record(self) -> dict:
        """What ``metrics.json`` keeps under ``mitigation``."""
        return {"modes": self.modes, "clp_weight": self.clp_weight, "clp_pairs": self.clp_pairs,
                "heldout_seed": self.seed, **self.summary, "heldout_split": builtin_split(self.seed),
                "audit_suites": [s for s in split_suites(self.seed) if not s.endswith("-train")]}


def main(argv: list[str] | None = None) -> int:
    """``python -m finetune.mitigation suites --out DIR`` writes the held-out and seen audit suites;
    ``python -m finetune.mitigation outcome BEFORE_MODEL BEFORE_AUDIT AFTER_MODEL AFTER_AUDIT`` prints the
    before/after table; ``python -m finetune.mitigation seeds RUN_DIR...`` the per-seed table of ``make
    mitigate`` runs (mitigated model vs its control) with the mean and spread of the differences."""
    from core.errors import CliParser, run_main

    p = CliParser(prog="python -m finetune.mitigation", description=main.__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("suites", help="write <suite>-heldout.yaml and <suite>-seen.yaml")
    s.add_argument("--out", required=True, help="folder for the suite files")
    s.add_argument("--seed", type=int, default=0, help="held-out split seed (as train --heldout-seed)")
    o = sub.add_parser("outcome", help="before/after table: validation F1, largest |mean_shift|, gate verdicts")
    for name in ("before_model", "before_audit", "after_model", "after_audit"):
        o.add_argument(name)
    r = sub.add_parser("seeds", help="per-seed table of make mitigate runs, mean and sd of the differences")
    r.add_argument("runs", nargs="+", metavar="RUN_DIR",
                   help="folders with control/, mitigated/, control-heldout/, mitigated-heldout/")
    return run_main(p, argv, _dispatch)


def _dispatch(args) -> int:
    from finetune.mitigation_outcome import outcome, print_outcome, print_seeds, seed_rows

    if args.command == "suites":
        from reports.files import check_writable

        check_writable(args.out, "--out")
        for path in write_split_suites(args.out, args.seed):
            print(path)
    elif args.command == "outcome":
        print_outcome(outcome(args.before_model, args.before_audit), outcome(args.after_model, args.after_audit))
    else:
        print_seeds(seed_rows(args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
