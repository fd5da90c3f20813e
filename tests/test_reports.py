"""The reports: escaping, self-containment, the Markdown snapshot, and a real browser."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from audit.__main__ import main as audit_main
from reports.audit import render_markdown

SNAPSHOTS = Path(__file__).parent / "snapshots"
HOSTILE = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A user suite and a model whose texts and labels carry markup: it must show as text, never run."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "tpl").mkdir()
    (root / "tpl" / "evil.yaml").write_text(f"""suite: evil
description: "{HOSTILE}"
protected:
  who:
    groups:
      - {{attributes: {{gender: female}}, terms: ["{HOSTILE} woman", "my <b>aunt</b>"]}}
      - {{attributes: {{gender: male}}, terms: ["{HOSTILE} man", "my <b>uncle</b>"]}}
templates:
  - {{id: t1, text: "{{who}} said <img src=x onerror=alert(1)>."}}
  - {{id: t2, text: "I met {{who}} at https://example.com today."}}
""")
    (root / "model.py").write_text('''
import numpy as np
def predict(texts):
    return np.array([[0.8, 0.2] if "woman" in t or "aunt" in t else [0.3, 0.7] for t in texts])
predict.labels = ["<i>pos</i>", "neg\\"><script>alert(2)</script>"]
''')
    out = root / "out"
    code = audit_main(["run", "--model", f"{root / 'model.py'}:predict", "--templates", str(root / "tpl"),
                       "--suite", "evil", "--out", str(out), "--cache-dir", "", "-q"])
    assert code in (0, 1)
    return out


def test_user_and_model_strings_are_escaped(hostile_run):
    html = (hostile_run / "report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>aunt" not in html
    assert "<i>pos</i>" not in html
    assert "&lt;script&gt;alert(" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(scripts) == 1 and "querySelectorAll" in scripts[0]  # only our own sorting script


def test_report_is_self_contained(hostile_run):
    html = (hostile_run / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert "<link" not in html  # CSS is inline
    # the only URL is the user's own text, escaped, never a resource
    assert set(re.findall(r"https?://[^\s<\"']+", html)) == {"https://example.com"}


def test_markdown_snapshot():
    results = json.loads((SNAPSHOTS / "results.json").read_text())
    assert render_markdown(results) == (SNAPSHOTS / "summary.md").read_text()


def browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def load_in_chromium(page: Path, screenshot: Path) -> str:
    """Headless Chromium loads ``page`` from disk, logs the console to stderr and takes a screenshot."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={screenshot.parent / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
             "--window-size=1280,2000", f"--screenshot={screenshot}"]
    proc = subprocess.run([browser(), *flags, page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    return proc.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]


@pytest.mark.browser
@pytest.mark.skipif(browser() is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_report_loads_in_a_real_browser(hostile_run, tmp_path):
    # the check itself must be able to fail: a page with a script error is caught
    broken = tmp_path / "broken.html"
    broken.write_text("<!doctype html><html><body><script>notDefined();</script></body></html>")
    assert console_errors(load_in_chromium(broken, tmp_path / "broken.png"))
    log = load_in_chromium(hostile_run / "report.html", tmp_path / "report.png")
    assert console_errors(log) == []
    shot = tmp_path / "report.png"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    shutil.copy(shot, hostile_run / "report-screenshot.png")
