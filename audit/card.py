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

from audit.records import registry
from audit.results import Results
from audit.run import load_results
from core.errors import InputError
from reports.files import check_writable, write_text
from reports.render import render

BEGIN = "<!-- fairaudit:bias-evaluation:begin (written by `fairaudit card`; a rerun replaces this section) -->"
END = "<!-- fairaudit:bias-evaluation:end -->"
SECTION = re.compile(re.escape(BEGIN.split(" (")[0]) + r".*?" + re.escape(END) + r"\n?", re.S)
HEADING = re.compile(r"^## Bias evaluation[ \t]*\n.*?(?=^#{1,2} |\Z)", re.S | re.M)  # a hand-made one, no markers
FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*(\n|\Z)", re.S)


def render_section(results: Results, top: int = 5) -> str:
    from reports.audit import top_disparities

    gate = results.gate
    counts = {v: sum(r.verdict == v for r in gate.rules) for v in ("pass", "fail", "inconclusive")}
    doc = results.to_json()  # the template reads the plain JSON form, as the other reports do
    body = render("card.md.j2", r=doc, gate=doc["gate"], counts=counts, top=top_disparities(doc["metrics"], top),
                  gate_name=Path(results.run.gate_file or "default_gate.yaml").name, data=doc.get("data"),
                  in_words={name: info.words for name, info in registry().items() if info.words},
                  fingerprint=results.model.fingerprint[:16])
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
    check_writable(model_dir, "--model-dir")  # a read-only folder: say so, not the temporary file's name
    path = model_dir / "README.md"
    try:
        card = path.read_text(encoding="utf-8") if path.exists() else minimal_card(model_dir)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return write_text(path, update_card(card, render_section(results, top)))
