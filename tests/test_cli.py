"""The `fairaudit` command, help without heavy imports, the 80-column console summary, the pre-commit hook."""
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from audit.console import print_summary
from fairaudit.cli import FINETUNE_NAMES, commands, main

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "datasets", "pandas", "sklearn", "fairlearn", "scipy", "statsmodels")


@pytest.mark.parametrize("module", ["audit.__main__", "finetune.__main__", "fairaudit.cli"])
def test_command_modules_import_nothing_heavy(module):
    # --help builds the parsers: importing the module and building them must not pay for torch & co.
    code = (f"import sys, {module} as m\n"
            "for mod in [m] + [__import__(n, fromlist=['x']) for n in ('audit.__main__', 'finetune.__main__')]:\n"
            "    getattr(mod, 'build_parser', lambda: None)()\n"
            f"print(sorted(set({HEAVY!r}) & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_fairaudit_has_every_audit_and_finetune_command(capsys):
    from audit.__main__ import COMMANDS

    table = commands()
    assert set(COMMANDS) | set(FINETUNE_NAMES) == set(table)
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert all(f"\n  {name} " in listing for name in table)
    assert "fine-tune a classifier" in listing and "list, validate or preview suites" in listing
    for name in table:  # every command answers --help under its fairaudit name
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0
        usage = capsys.readouterr().out
        assert usage.startswith(f"usage: fairaudit {name} " if name != "bench-train" else "usage: python -m finetune bench")


def test_fairaudit_dispatches_and_reports_usage_errors(capsys):
    assert main(["templates", "list"]) == 0
    assert {"eec", "identity", "names"} <= {line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}
    assert main(["nope"]) == 2
    assert "error: unknown command 'nope'" in capsys.readouterr().err
    assert main([]) == 2 and "usage: fairaudit COMMAND" in capsys.readouterr().err
    assert main(["compare", "/nonexistent/a", "/nonexistent/b"]) == 2  # the module's own error path and code
    assert capsys.readouterr().err.startswith("error: /nonexistent/a")


def test_console_script_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["fairaudit"] == "fairaudit.cli:main"


def results_with_long_names() -> dict:
    worst = {"id": "mean_shift/identity/sexual_orientation/bisexual/not-relevant", "value": 0.0612,
             "ci": [0.0411, 0.0813], "n": 30, "p_adjusted": 0.0021}
    record = {"id": worst["id"], "metric": "mean_shift", "suite": "identity", "attribute": "sexual_orientation",
              "group": "bisexual", "class": "not-relevant", "template": None}
    rule = {"name": "Counterfactual probability shift (group vs the others, per class)", "metric": "mean_shift",
            "bound": {"max_abs": 0.03}, "verdict": "fail", "worst": worst}
    return {"metrics": [record], "gate": {"verdict": "fail", "rules": [rule]},
            "run": {"cases": 1170, "wall_seconds": 3.2, "cases_per_s": 365.0}}


def test_console_summary_keeps_group_and_class_at_80_columns():
    console = Console(width=80, record=True, highlight=False)
    print_summary(results_with_long_names(), Path("runs/audit"), console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for piece in ("sexual_orientation: bisexual", "class not-relevant", "+0.0612", "[0.0411, 0.0813]", "fail",
                  "max_abs 0.03", "FAIL"):
        assert piece in text, piece


def test_pre_commit_hooks_validate_suites(tmp_path, capsys):
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"fairaudit-templates", "fairaudit-templates-system"}
    for hook in hooks:
        program, *argv = hook["entry"].split()
        assert program == "fairaudit" and argv == ["templates", "validate"] and hook["args"][0] == "--templates"
        assert hook["pass_filenames"] is False and hook["language"] in ("python", "system")
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "mine.yaml").write_text((ROOT / "templates" / "identity.yaml").read_text().replace(
        "suite: identity", "suite: mine"))
    assert main(argv + ["--templates", str(suites)]) == 0
    assert "suite mine:" in capsys.readouterr().out
    (suites / "bad.yaml").write_text("suite: bad\nversion: '1'\ntemplates:\n  - {id: t, text: 'no slot here'}\n")
    assert main(argv + ["--templates", str(suites)]) == 2
    assert "bad.yaml:" in capsys.readouterr().err
    assert main(argv + ["--templates", str(tmp_path / "nope")]) == 2  # a wrong path never passes silently
    assert "not a folder" in capsys.readouterr().err


def test_pre_commit_runs_the_hook(tmp_path):
    pre_commit = Path(sys.executable).with_name("pre-commit")
    script = Path(sys.executable).with_name("fairaudit")
    if not (pre_commit.exists() and script.exists() and (ROOT / ".git").exists()):
        pytest.skip("needs pre-commit and the fairaudit script in this environment, and a git checkout")
    team = tmp_path / "team"
    (team / "suites").mkdir(parents=True)
    (team / "suites" / "mine.yaml").write_text((ROOT / "templates" / "names.yaml").read_text().replace(
        "suite: names", "suite: mine"))
    env = {**os.environ, "PATH": f"{script.parent}{os.pathsep}{os.environ['PATH']}", "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    git = ["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "suites"]):
        subprocess.run(git + cmd, cwd=team, check=True, capture_output=True)
    hook = [str(pre_commit), "try-repo", str(ROOT), "fairaudit-templates-system", "--all-files"]
    ok = subprocess.run(hook, cwd=team, env=env, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and "Passed" in ok.stdout, ok.stdout + ok.stderr
    (team / "suites" / "mine.yaml").write_text("suite: mine\nversion: '1'\ntemplates: []\n")
    bad = subprocess.run(hook, cwd=team, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "Failed" in bad.stdout and "mine.yaml:" in bad.stdout, bad.stdout
