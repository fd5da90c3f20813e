"""The wheel a team installs in CI: package data, no build warnings, and `fairaudit run` outside the checkout.

The wheel is built without build isolation (offline: setuptools comes from this environment) from a copy of
the source tree, installed with `--no-deps --no-index` into a fresh virtual environment whose only other
path is this environment's site-packages (for torch & co.; its `.pth` files, such as an editable install of
this checkout, are not processed there), and run from a temporary folder with a clean PYTHONPATH.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(".git", ".venv", "runs", "build", "dist", "*.egg-info", "__pycache__", ".fairaudit-cache",
                              ".pytest_cache", "tests")
PACKAGE_DATA = ["fairaudit/templates/eec.yaml", "fairaudit/templates/identity.yaml", "fairaudit/templates/names.yaml",
                "fairaudit/templates/common_words.txt", "fairaudit/templates/first_names.tsv",
                "fairaudit/templates/README.md", "audit/default_gate.yaml",
                "reports/templates/audit.html.j2", "reports/templates/summary.md.j2", "reports/templates/card.md.j2",
                "reports/templates/base.css", "reports/templates/sortable.js", "reports/templates/methodology.html.j2",
                "audit/results.schema.json"]
MODEL = '''
import numpy as np
labels = ["happy", "sad", "neutral"]
def predict(texts):  # p(happy) moves for sentences about a woman: the default gate must fail it
    female = {"she", "her", "woman", "girl", "mother", "daughter", "sister", "wife", "girlfriend", "mom", "aunt", "bride"}
    bump = [0.2 if {w.strip(".,!?").lower() for w in t.split()} & female else 0.0 for t in texts]
    return np.array([[0.2 + b, 0.2, 0.6] for b in bump]) / np.array([[1.0 + b] for b in bump])
predict.labels = labels
'''


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    src = tmp_path_factory.mktemp("src") / "fairaudit"
    shutil.copytree(ROOT, src, ignore=SKIP)
    dist = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # else distutils warns about it
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-v", "-w", str(dist), str(src)], capture_output=True, text=True, timeout=600, env=env)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return next(dist.glob("fairaudit-*.whl")), build.stdout + build.stderr


def test_wheel_carries_package_data_and_builds_without_warnings(wheel):
    path, log = wheel
    names = set(zipfile.ZipFile(path).namelist())
    assert set(PACKAGE_DATA) <= names, set(PACKAGE_DATA) - names
    assert {"fairaudit/cli.py", "core/progress.py", "finetune/config.py", "audit/card.py",
            "core/perturbations/typos.py", "reports/templates/robustness.html.j2"} <= names
    assert not any(n.startswith(("tests/", "templates/")) for n in names)  # suites live under fairaudit/ only
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "fairaudit = fairaudit.cli:main" in zipfile.ZipFile(path).read(entry_points).decode()
    warnings = [line for line in log.splitlines() if "Warning" in line or "warning:" in line.lower()]
    assert warnings == [], "\n".join(warnings)


def test_installed_wheel_audits_a_callable_from_outside_the_checkout(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch & co., after the wheel
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                              str(wheel[0])], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    assert "warning" not in install.stderr.lower(), install.stderr

    work = tmp_path / "team"  # a team's repository: its own model code, no fairaudit checkout
    work.mkdir()
    (work / "model.py").write_text(MODEL)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", HF_HUB_OFFLINE="1")
    where = subprocess.run([python, "-c", "import core.suites, fairaudit, reports; print(core.suites.__file__); "
                            "print(core.suites.BUILTIN_DIR); print(fairaudit.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout  # not the checkout

    fairaudit = env_dir / "bin" / "fairaudit"
    listing = subprocess.run([fairaudit, "templates", "list"], cwd=work, env=env, capture_output=True, text=True,
                             timeout=300)
    assert listing.returncode == 0, listing.stderr
    assert {"eec", "identity", "names"} <= {line.split()[0] for line in listing.stdout.splitlines()[1:]}
    run = subprocess.run([fairaudit, "run", "--model", "model.py:predict", "--suite", "eec", "--out", "audit",
                          "--cache-dir", ""], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]  # the planted bias fails the gate
    for name in ("results.json", "cases.parquet", "report.html", "summary.md", "junit.xml"):
        assert (work / "audit" / name).is_file(), name
    results = json.loads((work / "audit" / "results.json").read_text())
    assert results["gate"]["verdict"] == "fail" and results["suites"][0]["path"].startswith(str(site))
    assert results["run"]["gate_file"].startswith(str(site))
    assert "Kiritchenko" in results["suites"][0]["source"] and "shared/data" not in results["suites"][0]["source"]
    assert "fail" in run.stdout and "eec · gender: female · class happy" in run.stdout
    help_ = subprocess.run([fairaudit, "train", "--help"], cwd=work, env=env, capture_output=True, text=True,
                           timeout=120)
    assert help_.returncode == 0 and help_.stdout.startswith("usage: fairaudit train")
