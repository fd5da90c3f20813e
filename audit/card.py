"""``audit card RUN_DIR --model-dir M``: the audit's bias evaluation as a section of the model card.

A Hugging Face model card is the ``README.md`` of the model folder: optional YAML front matter between
``---`` lines (metadata the hub reads), then Markdown. This module writes one ``## Bias evaluation`` section
into it: the gate verdict, the largest disparities with their 95% intervals, the suites and their versions,
and a summary in words. The section sits between two HTML comments (invisible when rendered); a second
run replaces what is between them, so the card never grows. The front matter and every other line are
kept byte for byte. Without a card a minimal one is created. The section has no links: the HTML report
stays with the audit, while the card travels with the weights.
"""
from __future__ import annotations

import re
from pathlib import Path

from audit.run import load_results
from core.errors import InputError
from reports.files import write_text
from reports.render import render

BEGIN = "<!-- fairaudit:bias-evaluation:begin (written by `fairaudit card`; a rerun replaces this section) -->"
END = "<!-- fairaudit:bias-evaluation:end -->"
SECTION = re.compile(re.escape(BEGIN.split(" (")[0]) + r".*?" + re.escape(END) + r"\n?", re.S)
HEADING = re.compile(r"^## Bias evaluation[ \t]*\n.*?(?=^#{1,2} |\Z)", re.S | re.M)  # a hand-made one, no markers
# what each gated metric means, in words a model card reader needs (formulas: the HTML report and audit/metrics.py)
IN_WORDS = {
    "mean_shift": "the mean change in p(class) for one group against the others on otherwise identical sentences",
    "group_flip_rate": "the share of one group's sentences whose predicted label differs from the rest of the family",
    "flip_rate": "the share of sentence families whose predicted label changes with the protected term",
    "dp_difference": "the largest gap in the rate of predicting the class between groups",
    "eo_difference": "the largest gap in true- or false-positive rate between groups",
    "accuracy_difference": "the largest gap in accuracy between groups",
}
FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*(\n|\Z)", re.S)


def render_section(results: dict, top: int = 5) -> str:
    from reports.audit import top_disparities

    gate = results["gate"]
    counts = {v: sum(r["verdict"] == v for r in gate["rules"]) for v in ("pass", "fail", "inconclusive")}
    largest = top_disparities(results["metrics"], top)
    body = render("card.md.j2", r=results, gate=gate, counts=counts, top=largest,
                  gate_name=Path(results["run"].get("gate_file") or "default_gate.yaml").name,
                  data=results.get("data"), in_words=IN_WORDS, fingerprint=results["model"]["fingerprint"][:16])
    return f"{BEGIN}\n{body.strip()}\n{END}\n"


def minimal_card(model_dir: Path) -> str:
    """Front matter the hub understands, and a title: the rest of the card is the owner's to write."""
    return ("---\npipeline_tag: text-classification\ntags:\n- fairaudit\n- bias-evaluation\n---\n\n"
            f"# {model_dir.resolve().name}\n\n")


def update_card(card: str, section: str) -> str:
    """The card with its bias evaluation replaced (markers or a hand-made heading) or appended at the end."""
    if SECTION.search(card):
        return SECTION.sub(lambda _: section, card, count=1)
    if HEADING.search(card):
        return HEADING.sub(lambda _: f"## Bias evaluation\n\n{section}\n", card, count=1)
    front = FRONT_MATTER.match(card)
    head, rest = (card[:front.end()], card[front.end():]) if front else ("", card)
    rest = rest.rstrip("\n")
    return head + (rest + "\n\n" if rest else "\n" if head else "") + f"## Bias evaluation\n\n{section}"


def write_card(results_dir: str | Path, model_dir: str | Path, top: int = 5) -> Path:
    results = load_results(results_dir)
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(f"--model-dir {model_dir}: not a folder")
    if top < 1:
        raise InputError(f"--top {top}: must be at least 1")
    path = model_dir / "README.md"
    try:
        card = path.read_text(encoding="utf-8") if path.exists() else minimal_card(model_dir)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return write_text(path, update_card(card, render_section(results, top)))
