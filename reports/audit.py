"""Audit outputs beside ``results.json``: ``report.html`` (people), ``summary.md`` (pull requests) and
``junit.xml`` (CI), all rendered from the results and the scored cases, never from the model."""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from audit import matching
from audit import records
from core.perturbations import counterfactual
from reports.files import write_bytes, write_text
from reports.render import render

DEDICATED = ("counterfactual", "group")  # families with their own charts and tables; others get a generic table


def write_reports(out: Path, results: dict, cases: pd.DataFrame) -> None:
    write_text(out / "report.html", render_html(results, cases))
    md = render_markdown(results)
    write_text(out / "summary.md", md)
    write_bytes(out / "junit.xml", render_junit(results))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(md + "\n")


# ------------------------------------------------------------------ what the pages show
def top_disparities(metrics: list[dict], limit: int = 15, gate: dict | None = None) -> list[dict]:
    """The disparities that matter most first: those a gate rule fails, then the inconclusive ones, each by how
    far its interval lies beyond the rule's bound (so shifts, label rates and parity gaps are ranked on their
    own bounds, never against each other by raw value), then the rest by adjusted p. Mirror images of a
    two-group contrast ("male -0.06" next to "female +0.06") are shown once, from the harmed group's side."""
    verdicts, bounds = {}, {}
    for rule in (gate or {}).get("rules", []):
        if rule.get("baseline") or "metric" not in rule:
            continue
        bounds.setdefault(rule["metric"], rule["bound"])
        for row in rule.get("not_passing", []):
            verdicts.setdefault(row["id"], row.get("verdict"))

    def key(m: dict) -> tuple:
        kind, bound = next(iter(bounds.get(m["metric"], {"max_abs": float("inf")}).items()))
        lo, hi = m["ci"] if m.get("ci") and m["ci"][0] is not None else (m["value"], m["value"])
        near = {"max_abs": 0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi)), "max": lo, "min": -hi}[kind]
        excess = near - (-bound if kind == "min" else bound)
        rank = {"fail": 0, "inconclusive": 1}.get(verdicts.get(m["id"]), 2)
        term = m["metric"] in records.names("term")  # a group's record leads its terms'
        return rank, term, -excess if rank < 2 else 0.0, m.get("p_adjusted", 1.0), -abs(m["value"])

    # single terms join only where the gate flags them (one name a model reacts to); else their groups speak
    disparities = records.names("contrast") + records.names("gap")
    flagged = {i for i, v in verdicts.items() if v in ("fail", "inconclusive")}
    rows = [m for m in metrics if (m["metric"] in disparities or m["metric"] in records.names("term") and m["id"] in flagged)
            and m.get("value") is not None
            and m.get("template") is None and m.get("p_adjusted") is not None
            and (m.get("details") or {}).get("harm", 1) >= 0]
    return sorted(rows, key=key)[:limit]


def term_effects(rows: list[dict], bound: float | None, limit: int = 24) -> dict:
    """Per term, its largest class shift (the record with the strongest evidence), outliers first: the rows of
    the forest plot (at most ``limit``) and the full table."""
    best: dict[str, dict] = {}
    for m in rows:
        if m.get("value") is None:
            continue
        score = (-(m.get("p_adjusted") if m.get("p_adjusted") is not None else 1.0), abs(m["value"]))
        if m["group"] not in best or score > best[m["group"]]["_score"]:
            best[m["group"]] = {**m, "_score": score}
    ranked = sorted(best.values(), key=lambda m: m["_score"], reverse=True)
    plot = [(f"{m['group']} ({m['details'].get('term_of')}) p({m['class']})", m["value"], *(m["ci"] or (None, None)))
            for m in ranked[:limit]]
    return {"plot": plot, "bound": bound, "rows": sorted(rows, key=lambda m: (m.get("p_adjusted") or 1.0,
                                                                               -abs(m["value"] or 0))),
            "shown": len(plot), "terms": len(ranked)}


def _bound(gate: dict | None, metric: str) -> float | None:
    for rule in (gate or {}).get("rules", []):
        if rule.get("metric") == metric and not rule.get("baseline"):
            return next(iter(rule["bound"].values()))
    return None


def insufficient_records(gate: dict) -> list[dict]:
    """What the gate could not judge, per rule: each suite/attribute/group whose records have too few families
    (fewer than min_n, or too few to tell a shift from noise where the rule says so). The coverage section lists
    them and JUnit reports each as a skipped test."""
    return [{"rule": r["name"], "metric": r["metric"], "id": unit,
             "reason": "too few families to test"}
            for r in gate.get("rules", []) for unit in r.get("insufficient", [])]


def split_term(text: str, term: str | None) -> list[tuple[str, bool]]:
    """Text pieces with the swapped term flagged, for highlighting (each piece is escaped by the template)."""
    if not term or term == "(original)":
        return [(text, False)]
    at = text.lower().find(term.lower())
    if at < 0:
        return [(text, False)]
    return [(text[:at], False), (text[at:at + len(term)], True), (text[at + len(term):], False)]


def worst_families(cases: pd.DataFrame, labels: list[str], suite: str, attribute: str, attributes: list[str],
                   limit: int = 5) -> list[dict]:
    """The matched comparisons (one stratum of a family: members that differ in ``attribute`` alone) whose
    labels flip or whose probabilities spread the most."""
    sub = cases[cases["suite"] == suite]
    m = matching.match(sub, attribute, attributes) if attribute in sub else None
    if m is None:
        return []
    sub = sub.iloc[m.rows]
    probs = sub[[f"p_{l}" for l in labels]].to_numpy()
    # per stratum, vectorised (a Python loop over strata took most of the writing time at 10^4 families)
    by = pd.DataFrame(probs).groupby(m.stratum, sort=True)
    spread = (by.max() - by.min()).max(axis=1)
    flips = pd.Series(sub["pred"].to_numpy()).groupby(m.stratum, sort=True).nunique() > 1
    ids = spread.index.to_numpy()
    top = np.lexsort((ids, -spread.to_numpy(), -flips.to_numpy(dtype=int)))[:limit]  # flips, then spread; ties: first
    out = []
    for k in top:
        idx, flips_k, spread_k = np.flatnonzero(m.stratum == ids[k]), bool(flips.iloc[k]), float(spread.iloc[k])
        rows = sub.iloc[idx]
        cls = int(np.argmax(probs[idx].max(axis=0) - probs[idx].min(axis=0)))
        members = [{"pieces": split_term(r["text"], r["term"]), "group": r[attribute], "pred": r["pred"],
                    "p": float(r[f"p_{labels[cls]}"])} for _, r in rows.iterrows()]
        members.sort(key=lambda x: -x["p"])
        shown = members if len(members) <= 12 else members[:6] + members[-6:]  # both ends of the spread
        out.append({"family": rows["family"].iloc[0], "template": rows["template"].iloc[0], "flips": flips_k,
                    "spread": spread_k, "cls": labels[cls], "members": shown, "more": len(members) - len(shown)})
    return out


def sections(results: dict, cases: pd.DataFrame) -> list[dict]:
    """One section per suite x attribute with its charts, tables and worst families."""
    labels = results["model"]["labels"]
    metrics = [m for m in results["metrics"] if m["kind"] not in ("functional", "robustness")]  # own sections
    pairs = list(dict.fromkeys((m["suite"], m["attribute"]) for m in metrics))
    out = []
    for suite, attribute in pairs:
        ms = [m for m in metrics if m["suite"] == suite and m["attribute"] == attribute]
        pick = lambda name, **kw: [m for m in ms if m["metric"] == name and all(m.get(k) == v for k, v in kw.items())]
        dp = pick("dp_difference")
        focus = max(dp, key=lambda m: m["value"] or 0)["class"] if dp else labels[0]
        bars = lambda name: [(m["group"], m["value"], *(m["ci"] or (None, None))) for m in pick(name, **{"class": focus})]
        heat = pick("group_flip_rate")
        contrasts = [x for x in ms if x["metric"] in records.names("contrast")
                     and (x.get("details") or {}).get("harm", 1) >= 0]
        templates = sorted({m["template"] for m in heat if m["template"]})
        groups = sorted({m["group"] for m in heat})
        grid = {(m["template"], m["group"]): m["value"] for m in heat if m["template"]}
        summary = {m["metric"]: m for m in ms if m["metric"] in ("flip_rate", "mean_abs_delta", "max_abs_delta")
                   and m.get("template") is None}
        out.append({
            "suite": suite, "attribute": attribute, "focus": focus, "summary": summary,
            "sel_bars": bars("selection_rate"), "prob_bars": bars("mean_prob"),
            "heat": {"rows": templates, "cols": groups,
                     "values": [[grid.get((t, g)) for g in groups] for t in templates]},
            "shifts": sorted(contrasts, key=lambda m: (m.get("p_adjusted") or 1.0, -abs(m["value"] or 0))),
            "parity": pick("dp_difference"), "eo": pick("eo_difference"),
            "accuracy": pick("accuracy"),
            "auc": [m for m in ms if m["kind"] == "auc"],
            "terms": term_effects(pick("term_shift"), _bound(results.get("gate"), "term_shift")),
            "families": worst_families(cases, labels, suite, attribute, results.get("attributes", [attribute])),
            "plugins": [(f.title, rows) for f in records.load_families().values() if f.name not in DEDICATED
                        for rows in [[m for m in ms if m["metric"] in f.metrics and m.get("template") is None]]
                        if rows],
        })
    return out


def rewritten_examples(cases: pd.DataFrame, per_rule: int = 2, limit: int = 30) -> list[dict]:
    """For each counterfactual plug-in with a ``caveat`` whose attribute the case table holds: its caveat and,
    per rule, up to ``per_rule`` texts next to their rewrites, real data first, then suite sentences. The rule
    is a variant's ``term`` in perturbed data and its slot's ``surface`` in a suite; the first member of each
    matched set (family and pair) is the original, the others its rewrites."""
    out = []
    for plugin in counterfactual():
        if not plugin.caveat or plugin.attribute not in cases or cases[plugin.attribute].isna().all():
            continue
        cols = ["suite", "family", "pair", "text", "term", "surface", plugin.attribute]
        sub = cases.loc[cases[plugin.attribute].notna(), cols]
        data = sub["suite"] == f"perturb-{plugin.name}"
        sub = pd.concat([sub[data], sub[~data & ~sub["suite"].str.startswith("perturb-")]])
        examples, seen, first = [], {}, {}
        for row in sub.to_dict("records"):
            key = (row["family"], row["pair"] if isinstance(row["pair"], str) else "")
            if key not in first:
                first[key] = row
                continue
            orig, rule = first[key], row["surface"] if isinstance(row["surface"], str) else row["term"]
            groups = (orig[plugin.attribute], row[plugin.attribute])
            if seen.get(rule, 0) < per_rule and len(examples) < limit and groups[0] != groups[1]:
                seen[rule] = seen.get(rule, 0) + 1
                examples.append({"rule": rule, "original": orig["text"], "rewrite": row["text"], "source": row["suite"],
                                 "groups": groups})
        out.append({"name": plugin.name, "attribute": plugin.attribute, "description": plugin.description,
                    "caveat": plugin.caveat, "examples": sorted(examples, key=lambda e: e["rule"])})
    return out


def render_html(results: dict, cases: pd.DataFrame) -> str:
    from audit.calibration import MEASURED  # the default gate's measured error rates (methodology section)

    return render("audit.html.j2", r=results, top=top_disparities(results["metrics"], gate=results.get("gate")),
                  sections=sections(results, cases), insufficient=insufficient_records(results["gate"]),
                  rewrites=rewritten_examples(cases), calibration=MEASURED,
                  families=records.methodology({m["metric"] for m in results["metrics"]}))


def render_markdown(results: dict) -> str:
    return render("summary.md.j2", r=results, top=top_disparities(results["metrics"], 10, results.get("gate")))


def render_junit(results: dict) -> bytes:
    """One test case per gate rule; a failure carries the measured value and the bound. Records with fewer than
    min_n families are skipped test cases of their own: they decide nothing, and CI shows that they were not
    tested."""
    gate = results["gate"]
    allow = gate.get("allow_inconclusive", False)
    rules = gate["rules"]
    small = insufficient_records(gate)
    failures = sum(r["verdict"] == "fail" or (r["verdict"] == "inconclusive" and not allow) for r in rules)
    skipped = sum(r["verdict"] == "inconclusive" and allow for r in rules) + len(small)
    suite = ET.Element("testsuite", name="fairaudit", tests=str(len(rules) + len(small)), failures=str(failures),
                       errors="0", skipped=str(skipped), time=str(results["run"]["wall_seconds"]))
    for rule in rules:
        case = ET.SubElement(suite, "testcase", classname=f"fairaudit.gate.{rule['metric']}", name=rule["name"])
        worst = rule.get("worst") or {}
        bound = ", ".join(f"{k} {v}" for k, v in rule["bound"].items())
        message = f"{rule['verdict']}: {rule['reason']} (bound: {bound}; worst: {worst.get('id')}, value {worst.get('value')})"
        if rule["verdict"] == "fail" or (rule["verdict"] == "inconclusive" and not allow):
            node = ET.SubElement(case, "failure", message=message, type=rule["verdict"])
            node.text = "\n".join(f"{x['id']}: {x.get('reason', '')}" for x in rule.get("not_passing", []))
        elif rule["verdict"] == "inconclusive":
            ET.SubElement(case, "skipped", message=message)
    for x in small:
        case = ET.SubElement(suite, "testcase", classname=f"fairaudit.insufficient.{x['metric']}", name=x["id"])
        ET.SubElement(case, "skipped", message=f"insufficient: {x['reason']} ({x['rule']})")
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="utf-8", xml_declaration=True)
