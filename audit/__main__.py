"""``python -m audit {run,report,compare,generate,templates,card,bench}``: see ``--help`` on each command.

Exit codes: 0 every gate rule passes, 1 a rule fails (or is inconclusive without --allow-inconclusive),
2 usage, configuration or input error (one line on stderr, nothing written), 3 a bug in fairaudit
(please report it; --debug shows the traceback).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.errors import CliParser, InputError, check_number, run_main

F = argparse.ArgumentDefaultsHelpFormatter
PROG = "python -m audit"  # the `fairaudit` command sets its own name


def add_case_options(p: argparse.ArgumentParser, default_suites: list[str] | None) -> None:
    p.add_argument("--suite", action="append", dest="suites", default=None,
                   help=f"template suite to audit; repeatable. Default: {', '.join(default_suites or []) or 'none'}, "
                   "also with --data (its swapped sentences are added to them); a --suite list replaces the "
                   "defaults; --suite none audits --data alone")
    p.add_argument("--templates", action="append", default=[], help="extra folder of suite files; repeatable")
    p.add_argument("--data", default=None, help="data set to perturb: smile | tweeteval-emotion | tweeteval-sentiment "
                                                "| a .csv/.jsonl/.parquet file")
    p.add_argument("--data-dir", default=None, help="folder of built-in data sets (default $FAIRAUDIT_DATA, ../shared/data)")
    p.add_argument("--split", default=None, help="split of a built-in data set (default: test if present, else val)")
    p.add_argument("--text-col", default="text", help="text column of --data")
    p.add_argument("--max-cases", type=int, default=None, help="sample whole families up to this many cases")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling and perturbation choices")


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="where the model runs: this process, or Ray Data actors (pip install 'fairaudit[ray]')")
    p.add_argument("--ray-address", default=None, help="Ray cluster to join ('auto', ray://host:10001); default "
                                                       "$RAY_ADDRESS, else a local cluster for this run")
    p.add_argument("--workers", type=int, default=None, help="Ray model replicas (default: one per GPU, else per CPU)")


def build_parser() -> argparse.ArgumentParser:
    from core.suites import DEFAULT_SUITES

    parser = CliParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="audit a model: results.json, cases.parquet, report.html, summary.md, junit.xml",
                       formatter_class=F)
    r.add_argument("--model", required=True, help="[KIND:]TARGET: fine-tuned folder, Hugging Face id, module:function / "
                   "file.py:function, or vader (kinds: huggingface/hf, callable, vader)")
    r.add_argument("--out", default="runs/audit", help="output folder")
    add_case_options(r, DEFAULT_SUITES)
    r.add_argument("--label-col", default=None, help="true label column of --data (enables accuracy / equalized odds)")
    r.add_argument("--group-col", default=None, help="group column of --data: slice the real rows by it")
    r.add_argument("--label-map", default=None, help="map suite labels onto model labels: joy=happy,anger=angry")
    r.add_argument("--labels", default=None, help="class names of a callable model: a,b,c")
    r.add_argument("--gate", default=None, help="gate rules: default | strict (shipped presets), a YAML file, or a "
                                                "pyproject.toml with [tool.fairaudit.gate]")
    r.add_argument("--baseline", default=None, help="results folder of the last release: fail if a gated metric got "
                   "significantly worse by more than the margin (paired per family when it scored the same sentences)")
    r.add_argument("--baseline-model", default=None, help="the last release as a model ([KIND:]TARGET, as --model): "
                   "score both on the same cases and compare them paired in one report")
    r.add_argument("--allow-inconclusive", action="store_true", help="inconclusive rules do not fail the run")
    r.add_argument("--no-fail", action="store_true", help="always exit 0 after writing the outputs (demos)")
    r.add_argument("--n-boot", type=int, default=0, help="fairlearn bootstrap resamples for group intervals "
                                                         "(0: fast binomial bootstrap / Wilson)")
    r.add_argument("--cache-dir", default=".fairaudit-cache", help="prediction cache folder ('' to disable)")
    r.add_argument("--device", default="auto", help="auto | cpu | cuda")
    r.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="auto: bf16 on CUDA, on a CPU bf16 only where native and measured faster; bf16/fp16 on a CPU "
                        "are exact (small-margin texts re-scored in fp32: the labels are fp32's)")
    r.add_argument("--max-tokens", type=int, default=8192, help="token budget per inference batch")
    r.add_argument("--allow-pickle", action="store_true", help="allow pickle weights (can run code)")
    r.add_argument("--trust-remote-code", action="store_true", help="allow model code from the model folder / hub")
    r.add_argument("--allow-random-head", action="store_true", help="audit a model whose classification head is not "
                                                                  "in its weights (initialised at random)")
    r.add_argument("--robustness", default="all", help="robustness perturbations of the template sentences and "
                   "--data texts: all | none | a comma-separated list of typos, case, punctuation, tweet, contractions")
    r.add_argument("--robustness-sample", type=int, default=50, help="robustness: at most this many texts per "
                   "source (each suite: one base sentence per family; --data), seeded sample")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_engine_options(r)

    rep = sub.add_parser("report", help="re-render the reports of a results folder without the model", formatter_class=F)
    rep.add_argument("results", help="folder with results.json and cases.parquet")

    c = sub.add_parser("compare", help="compare two audits of model releases", formatter_class=F)
    c.add_argument("old", help="baseline results folder")
    c.add_argument("new", help="new results folder")
    c.add_argument("--out", default=None, help="folder for compare.html / compare.md (default: NEW)")
    c.add_argument("--margin", type=float, default=None, help="regression margin (default: the gate's)")

    g = sub.add_parser("generate", help="write the cases without running a model", formatter_class=F)
    add_case_options(g, DEFAULT_SUITES)
    g.add_argument("--out", default="cases.parquet", help="output .parquet (or .csv / .jsonl)")

    t = sub.add_parser("templates", help="list, validate or preview suites", formatter_class=F)
    t.add_argument("action", choices=["list", "validate", "preview"])
    t.add_argument("target", nargs="?", help="validate: a file or folder; preview: a suite name")
    t.add_argument("--templates", action="append", default=[], help="extra folder of suite files")
    t.add_argument("--n", type=int, default=10, help="preview: how many sample sentences")
    t.add_argument("--seed", type=int, default=0, help="preview: sampling seed")

    k = sub.add_parser("card", help="write the bias evaluation into a model card (README.md of the model folder)",
                       formatter_class=F)
    k.add_argument("results", help="audit results folder (results.json)")
    k.add_argument("--model-dir", required=True, help="model folder whose README.md gets the 'Bias evaluation' section")
    k.add_argument("--top", type=int, default=5, help="how many of the largest disparities to list")

    b = sub.add_parser("bench", help="sentences/s of this engine vs transformers.pipeline on the EEC sentences",
                       formatter_class=F)
    b.add_argument("--model", required=True, help="a Hugging Face classifier folder or id")
    b.add_argument("--data-dir", default=None, help="folder holding eec/Equity-Evaluation-Corpus.csv")
    b.add_argument("--limit", type=int, default=None, help="time only the first N sentences")
    b.add_argument("--device", default="auto", help="auto | cpu | cuda")
    add_engine_options(b)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_main(build_parser(), argv, lambda args: COMMANDS[args.command](args))


def cmd_run(args) -> int:
    from audit.console import print_summary
    from audit.run import AuditOptions, parse_label_map, run_audit
    from audit.timing import process_age
    from core.suites import suite_names

    opts = AuditOptions(
        model=args.model, out=args.out, suites=suite_names(args.suites), templates=args.templates, data=args.data, data_dir=args.data_dir,
        text_col=args.text_col, label_col=args.label_col, group_col=args.group_col, split=args.split,
        label_map=parse_label_map(args.label_map), labels=args.labels.split(",") if args.labels else None,
        max_cases=args.max_cases, seed=args.seed, n_boot=args.n_boot, gate=args.gate, baseline=args.baseline,
        baseline_model=args.baseline_model,
        allow_inconclusive=args.allow_inconclusive, cache_dir=args.cache_dir or None, device=args.device,
        precision=args.precision, max_tokens=args.max_tokens, allow_pickle=args.allow_pickle,
        trust_remote_code=args.trust_remote_code, allow_random_head=args.allow_random_head, progress=not args.quiet,
        engine=args.engine, ray_address=args.ray_address, workers=args.workers, robustness=args.robustness,
        robustness_sample=args.robustness_sample, startup_seconds=process_age())
    results = run_audit(opts)
    print_summary(results, Path(args.out))
    return 0 if args.no_fail else exit_code(results["gate"]["verdict"], args.allow_inconclusive)


def exit_code(verdict: str, allow_inconclusive: bool) -> int:
    return 0 if verdict == "pass" or (verdict == "inconclusive" and allow_inconclusive) else 1


def cmd_report(args) -> int:
    from audit.run import load_cases, load_results
    from reports.audit import write_reports
    from reports.files import check_writable

    results = load_results(args.results)
    cases = load_cases(args.results, results.model.labels)
    check_writable(args.results, "results folder")
    write_reports(Path(args.results), results.to_json(), cases)
    print(f"wrote {Path(args.results) / 'report.html'}, summary.md, junit.xml")
    return 0


def cmd_compare(args) -> int:
    from audit.compare import compare
    from reports.files import check_outputs, check_writable

    check_number("--margin", args.margin, 0)
    check_outputs(args.out or args.new, "--out", ("compare.html", "compare.md"))
    check_writable(args.out or args.new, "--out")
    verdict = compare(args.old, args.new, args.out, args.margin)
    return 0 if verdict == "pass" else 1


def cmd_generate(args) -> int:
    from audit.run import AuditOptions, data_cases
    from core.cases import build_cases, finalize
    from core.perturb import case_attributes
    from core.suites import load_suites, select_suites, suite_names
    import pandas as pd

    from reports.files import check_writable

    check_number("--max-cases", args.max_cases, 0, low_open=True)
    if Path(args.out).suffix not in (".parquet", ".csv", ".jsonl"):
        raise InputError(f"--out {args.out}: use .parquet, .csv or .jsonl")
    check_writable(args.out, "--out", folder=False)
    all_suites = load_suites(args.templates)
    suites = select_suites(suite_names(args.suites), available=all_suites)
    cases = build_cases(suites, args.max_cases, args.seed)
    coverage = None
    if args.data:
        opts = AuditOptions(model="", out="", data=args.data, data_dir=args.data_dir, text_col=args.text_col,
                            split=args.split, seed=args.seed)
        extra, coverage, _ = data_cases(opts, all_suites)
        cases = finalize(pd.concat([cases, extra], ignore_index=True),
                         case_attributes(list(all_suites.values())),
                         unique=["family", "text"])
    write_cases(cases, Path(args.out))
    print(f"{len(cases)} cases, {cases['family'].nunique()} families -> {args.out}")
    if coverage:
        for kind, counts in coverage.items():
            print(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "examples"))
        for kind, counts in coverage.items():
            for e in counts.get("examples", []):
                print(f"  {kind} {e['attribute']} {e['from']} -> {e['to']}: {e['original']!r} -> {e['swapped']!r}")
    return 0


def write_cases(cases, out: Path) -> None:
    from reports.files import write_parquet, write_text

    if out.suffix == ".parquet":
        write_parquet(out, cases)
    elif out.suffix == ".csv":
        write_text(out, cases.to_csv(index=False))
    elif out.suffix == ".jsonl":
        write_text(out, cases.to_json(orient="records", lines=True))
    else:
        raise InputError(f"--out {out}: use .parquet, .csv or .jsonl")


def cmd_templates(args) -> int:
    from core.cases import attributes_of, build_cases
    from core.suites import load_suite, load_suites

    check_number("--n", args.n, 0, low_open=True)
    if args.action == "validate":
        target = Path(args.target) if args.target else None
        if target and not target.exists():
            raise InputError(f"templates validate {target}: no such file or folder")
        files = ([target] if target and target.is_file() else sorted(target.glob("*.y*ml")) if target else None)
        if files == []:
            raise InputError(f"templates validate {target}: no .yaml or .yml files there")
        if files is None:
            suites = load_suites(args.templates)
            files = [s.path for s in suites.values()]
        for f in files:
            s = load_suite(f)
            print(f"ok  {f}  suite {s.name}: {len(s.spec.templates)} templates")
        return 0
    suites = load_suites(args.templates)
    if args.action == "list":
        print(f"{'suite':<12} {'version':<8} {'templates':>9} {'cases':>7}  attributes: groups")
        for name, s in suites.items():
            cases = build_cases([s])
            attrs = attributes_of([s])
            desc = "; ".join(f"{a}: {', '.join(sorted(cases[a].dropna().unique()))}" for a in attrs) or "none (MFT / DIR tests)"
            print(f"{name:<12} {s.spec.version:<8} {len(s.spec.templates):>9} {len(cases):>7}  {desc}")
        return 0
    if not args.target or args.target not in suites:
        raise InputError(f"templates preview: name a suite ({', '.join(suites)})")
    cases = build_cases([suites[args.target]])
    sample = cases.sample(min(args.n, len(cases)), random_state=args.seed)
    for _, row in sample.iterrows():
        print(f"{row['family']:<28} {row['text']}")
    return 0


def cmd_card(args) -> int:
    from audit.card import write_card

    print(f"wrote the bias evaluation into {write_card(args.results, args.model_dir, args.top)}")
    return 0


def cmd_bench(args) -> int:
    from audit.bench import run_bench
    from core.model import pick_device

    check_number("--limit", args.limit, 0, low_open=True)
    pick_device(args.device)
    run_bench(args)
    return 0


COMMANDS = {"run": cmd_run, "report": cmd_report, "compare": cmd_compare, "generate": cmd_generate,
            "templates": cmd_templates, "card": cmd_card, "bench": cmd_bench}

if __name__ == "__main__":
    sys.exit(main())
