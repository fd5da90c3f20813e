"""Bias mitigation in fine-tuning: the held-out split, CDA copies, the CLP loss, and a small mitigated run."""
import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import torch

from core.perturb import GENDER_PAIRS, swap_gender
from core.suites import load_suite
from finetune.__main__ import main as finetune_main
from core.errors import InputError
from finetune.mitigation import (Mitigation, builtin_split, clp_loss, counterfactual_copies, template_pairs,
                                 write_split_suites)
from finetune.training import TrainConfig, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENDER_WORDS = {w for pair in GENDER_PAIRS for w in pair} | {"her", "hers", "his", "him"}


def all_terms(part: str) -> set[str]:
    return {t for sp in builtin_split(0).values() for ts in sp[part].values() for t in ts}


def test_heldout_split_is_disjoint_complete_and_stable():
    split = builtin_split(0)
    for name, sp in split.items():
        for slot in sp["heldout_terms"]:
            held, seen = set(sp["heldout_terms"][slot]), set(sp["seen_terms"][slot])
            assert held and seen and not held & seen
            assert 0.4 < len(held) / (len(held) + len(seen)) < 0.6
        assert sp["heldout_frames"] and sp["seen_frames"] and not set(sp["heldout_frames"]) & set(sp["seen_frames"])
    assert builtin_split(0) == split
    assert builtin_split(1) != split
    # the same split in a fresh interpreter with another hash seed (no Python hash() or RNG state involved)
    code = "import json; from finetune.mitigation import builtin_split; print(json.dumps(builtin_split(0)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "123"}).stdout
    assert json.loads(out) == split
    # documented examples of seed 0 (README "Mitigation"): a change here changes what the README claims
    assert {"lesbian", "bisexual", "Muslim", "Lakisha", "Darnell"} <= set(split["identity"]["heldout_terms"]["identity"]
                                                                          + split["names"]["heldout_terms"]["person"])
    assert "gay" in split["identity"]["seen_terms"]["identity"]


def test_heldout_suites_are_valid_and_keep_to_their_side(tmp_path):
    paths = write_split_suites(tmp_path, seed=0)
    assert sorted(p.name for p in paths) == ["identity-heldout.yaml", "identity-seen.yaml", "names-heldout.yaml",
                                             "names-seen.yaml"]
    held, seen = all_terms("heldout_terms"), all_terms("seen_terms")
    for path in paths:
        suite = load_suite(path)  # validates: every attribute keeps at least two groups
        terms = {t if isinstance(t, str) else t.text for slot in suite.spec.protected.values()
                 for g in slot.groups for t in g.terms}
        assert terms <= (held if "heldout" in path.name else seen)
        frames = {t.id for t in suite.spec.templates}
        assert frames == set(builtin_split(0)[suite.name.split("-")[0]]["heldout_frames"])
    # CLP's template pairs use seen terms in seen frames only
    pairs = template_pairs(0)
    assert len(pairs) > 500
    words = [re.compile(rf"(?<![A-Za-z]){re.escape(t)}(?![A-Za-z])") for t in held]
    assert not [p for p in pairs for w in words if w.search(p[0]) or w.search(p[1])]
    assert ("I am proud to be Christian!", "I am proud to be Buddhist!") in pairs  # "proud": a seen frame


def test_cda_copies_keep_the_label_and_change_only_the_term():
    texts = ["She loved the mummies with her sister.", "Jamal said the gallery was great.",
             "My gay friend hated the queue.", "Lakisha loved it.", "Nothing to swap here.",
             "The British Museum with my husband, @NationalGallery next."]
    labels = [0, 1, 2, 3, 4, 5]
    mit = Mitigation(["cda"])
    aug_texts, aug_labels = mit.augment(texts, labels)
    assert aug_texts[:6] == texts and aug_labels[:6] == labels
    copies = counterfactual_copies(texts)
    assert len(aug_texts) == 6 + len(copies) == 6 + mit.summary["cda_copies"]
    sources = {i for i, _ in copies}
    assert {0, 1, 2, 5} <= sources and 3 not in sources and 4 not in sources  # Lakisha is held out
    seen = all_terms("seen_terms")
    for (i, copy), label in zip(copies, aug_labels[6:]):
        assert label == labels[i]
        a, b = texts[i].split(), copy.split()
        assert len(a) == len(b)
        changed = [(x, y) for x, y in zip(a, b) if x != y]
        assert changed
        for x, y in changed:  # only protected words change, punctuation and case around them kept
            bare = lambda w: w.strip(".,!?").lower()
            assert bare(x) in GENDER_WORDS | {t.lower() for t in seen}, (x, y)
            assert bare(y) in GENDER_WORDS | {t.lower() for t in seen}, (x, y)
    assert "@NationalGallery" in next(c for i, c in copies if i == 5)


def test_swap_gender_keeps_other_words_exactly():
    assert swap_gender("@NationalGallery she told HER mum, NASA", "male") == "@NationalGallery he told HIS dad, NASA"


def test_clp_loss_is_zero_for_identical_logits_and_grows_with_distance():
    a = torch.randn(8, 6)
    assert clp_loss(a, a.clone(), 1.0).item() == 0.0
    losses = [clp_loss(a, a + d * torch.randn(8, 6).sign(), 1.0).item() for d in (0.1, 0.5, 1.0, 2.0)]
    assert losses == sorted(losses) and losses[0] > 0
    assert clp_loss(a, a + 1, 3.0).item() == pytest.approx(3.0)  # W * mean |a - b|
    mit = Mitigation(["clp"], clp_weight=2.0)
    assert mit.pair_loss(torch.cat([a, a + 0.5])).item() == pytest.approx(1.0)


def gendered_csv(small_csv, tmp_path):
    frame = pd.read_csv(small_csv)
    frame["text"] = [f"{t} with {'her sister' if i % 2 else 'Jamal'}" for i, t in enumerate(frame["text"])]
    path = tmp_path / "gendered.csv"
    frame.to_csv(path, index=False)
    return path


def config(tiny_base, data, out, **kw) -> TrainConfig:
    options = dict(data=str(data), out=str(out), base_model=str(tiny_base), epochs=2, batch_size=8, lr=5e-4,
                   patience=0, quiet=True, mitigate="cda,clp", clp_weight=0.5, clp_pairs=4)
    return TrainConfig(**{**options, **kw})


def test_mitigated_run_records_settings_and_resumes_exactly(tiny_base, small_csv, tmp_path):
    data = gendered_csv(small_csv, tmp_path)
    full = train(config(tiny_base, data, tmp_path / "full"))
    written = json.loads((tmp_path / "full" / "metrics.json").read_text())
    mit = written["mitigation"]
    assert mit["modes"] == ["cda", "clp"] and mit["clp_weight"] == 0.5 and mit["clp_pairs"] == 4
    assert mit["cda_copies"] > 0 and mit["clp_text_pairs"] > 0 and mit["clp_template_pairs"] > 0
    assert mit["heldout_split"] == builtin_split(0)
    assert written["config"]["mitigate"] == "cda,clp"
    assert all(h["clp_loss"] > 0 for h in written["history"])
    assert sorted(p.name for p in (tmp_path / "full" / "mitigation-suites").iterdir()) == [
        "identity-heldout.yaml", "identity-seen.yaml", "names-heldout.yaml", "names-seen.yaml"]
    # checkpointed and resumable like plain training
    part = train(config(tiny_base, data, tmp_path / "cut", stop_after=1))
    assert part["status"] == "stopped"
    with pytest.raises(InputError, match="mitigation"):
        train(config(tiny_base, data, tmp_path / "cut", resume=True, mitigate="cda"))
    resumed = train(config(tiny_base, data, tmp_path / "cut", resume=True))
    strip = lambda m: [{k: v for k, v in h.items() if k not in ("samples_per_s", "epoch_seconds")} for h in m["history"]]
    assert strip(resumed) == strip(full)


def test_unmitigated_metrics_carry_no_mitigation_keys(tiny_base, small_csv, tmp_path):
    metrics = train(config(tiny_base, small_csv, tmp_path, epochs=1, mitigate=""))
    assert "mitigation" not in metrics and "mitigate" not in metrics["config"]
    assert "clp_loss" not in metrics["history"][0] and not (tmp_path / "mitigation-suites").exists()


def test_unknown_mitigation_mode_is_a_usage_error(tiny_base, small_csv, tmp_path, capsys):
    code = finetune_main(["train", "--data", str(small_csv), "--out", str(tmp_path / "m"), "--base-model",
                          str(tiny_base), "--mitigate", "cda,magic", "-q"])
    assert code == 2 and "error: --mitigate: unknown mode 'magic'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("option, value, message", [("--clp-weight", "-1", "--clp-weight -1.0: must be > 0"),
                                                    ("--clp-weight", "nan", "must be a finite number"),
                                                    ("--clp-pairs", "0", "--clp-pairs 0: must be >= 1")])
def test_bad_clp_values_are_usage_errors(tiny_base, small_csv, tmp_path, capsys, option, value, message):
    code = finetune_main(["train", "--data", str(small_csv), "--out", str(tmp_path / "m"), "--base-model",
                          str(tiny_base), "--mitigate", "clp", option, value, "-q"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_mitigation_command_errors_are_one_line(tmp_path, capsys):
    from finetune.mitigation import main

    (tmp_path / "file").write_text("x")
    assert main(["suites", "--out", str(tmp_path / "file" / "below")]) == 2
    assert main(["outcome", *(str(tmp_path / n) for n in ("a", "b", "c", "d"))]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines)
    assert "metrics.json" in lines[1]


def fake_run(d, f1w, f1m, shifts, verdict, **config):
    """A model folder's metrics.json and an audit folder's results.json with the fields outcome() reads."""
    model, audit = d, d.with_name(d.name + "-heldout")
    for folder in (model, audit):
        folder.mkdir(parents=True)
    cfg = {"data": "smile", "seed": 17, "epochs": 3, "lr": 1e-4, "out": str(model), **config}
    (model / "metrics.json").write_text(json.dumps({"config": cfg, "final": {"val": {
        "f1_weighted": f1w, "f1_macro": f1m, "accuracy": f1w}}}))
    (audit / ".broken-on-purpose").touch()  # a partial stand-in, not a results document (tests/conftest.py)
    metrics = [{"metric": "mean_shift", "template": None, "value": v, "id": f"mean_shift/s/a/{i}"}
               for i, v in enumerate(shifts)]
    metrics.append({"metric": "mean_shift", "template": "t", "value": 0.9, "id": "per-template"})  # not a suite record
    (audit / "results.json").write_text(json.dumps({"metrics": metrics, "gate": {"rules": [
        {"name": "Counterfactual probability shift", "metric": "mean_shift", "verdict": verdict},
        {"name": "flips", "metric": "flip_rate_diff", "verdict": "pass"}]}}))
    return model, audit


def test_outcome_table_reads_f1_worst_shift_and_verdicts(tmp_path, capsys):
    from finetune.mitigation_outcome import outcome, print_outcome

    before = outcome(*fake_run(tmp_path / "b", 0.85, 0.5, [0.02, -0.12, 0.05], "fail"))
    after = outcome(*fake_run(tmp_path / "a", 0.84, 0.5, [0.03, -0.01], "pass", mitigate="cda,clp"))
    assert before["max_abs_mean_shift"] == 0.12 and before["worst_shift"] == "mean_shift/s/a/1"
    assert after["max_abs_mean_shift"] == 0.03 and after["shift_rule"] == "pass"
    assert after["gate"] == {"Counterfactual probability shift": "pass", "flips": "pass"}
    print_outcome(before, after)
    out, err = capsys.readouterr()
    assert "| gate: Counterfactual probability shift | fail | pass |" in out and "fell by 75%" in out
    assert "weighted F1 -0.0100" in out and err == ""  # same schedule: no warning


def test_outcome_warns_when_before_and_after_differ_in_schedule(tmp_path, capsys):
    from finetune.mitigation_outcome import outcome, print_outcome, schedule_differences

    assert schedule_differences({"epochs": 10, "seed": 17, "out": "a"},
                                {"epochs": 3, "seed": 17, "out": "b", "mitigate": "clp", "clp_weight": 1.0}) == [
        "epochs 10 vs 3"]
    before = outcome(*fake_run(tmp_path / "b", 0.85, 0.54, [0.1], "fail", epochs=10))
    after = outcome(*fake_run(tmp_path / "a", 0.84, 0.43, [0.02], "pass", mitigate="cda,clp"))
    print_outcome(before, after)
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "epochs 10 vs 3" in err and len(err.strip().splitlines()) == 1


def test_seed_table_reports_mean_and_spread_and_judges_targets_on_the_mean(tmp_path, capsys):
    from finetune.mitigation import main
    from finetune.mitigation_outcome import seed_rows, summarise

    runs = []
    for seed, (cw, cm, mw, mm, cs, ms) in {17: (0.85, 0.50, 0.84, 0.40, 0.10, 0.02),
                                           18: (0.84, 0.45, 0.835, 0.47, 0.08, 0.03),
                                           19: (0.83, 0.48, 0.83, 0.45, 0.12, 0.03)}.items():
        run = tmp_path / f"seed-{seed}"
        fake_run(run / "control", cw, cm, [cs], "fail", seed=seed)
        fake_run(run / "mitigated", mw, mm, [-ms], "pass", seed=seed, mitigate="cda,clp", clp_weight=1.0)
        runs.append(run)
    rows = seed_rows(runs)
    assert [r["seed"] for r in rows] == [17, 18, 19]
    assert [round(r["d_f1_macro"], 4) for r in rows] == [-0.1, 0.02, -0.03]
    assert [round(r["shift_reduction"], 4) for r in rows] == [0.8, 0.625, 0.75]
    s = summarise(rows)
    assert s["d_f1_macro"]["mean"] == pytest.approx(-0.11 / 3)
    assert s["d_f1_macro"]["sd"] == pytest.approx(0.0602771, abs=1e-6)  # sample sd of -0.10, 0.02, -0.03
    assert s["d_f1_macro"]["met"]  # the mean is within 0.05 although one seed is not
    assert s["d_f1_weighted"]["met"] and s["shift_reduction"]["met"] and s["shift_rule"]["met"]
    assert summarise(rows[:1])["d_f1_macro"] == {"mean": pytest.approx(-0.1), "sd": None, "min": pytest.approx(-0.1),
                                                 "max": pytest.approx(-0.1), "met": False}
    assert main(["seeds", *map(str, runs)]) == 0
    out = capsys.readouterr().out
    assert "| 17 | 0.8500 -> 0.8400 (-0.0100) | 0.5000 -> 0.4000 (-0.1000) | 0.100 -> 0.020 (-80%) | fail -> pass |" in out
    assert "macro F1: mean -0.0367, sd 0.0603, range -0.1000 .. +0.0200 over 3 seed(s); target >= -0.0500: met" in out
    assert "passes for 3 of 3 mitigated model(s): met" in out
    # a "control" trained on another schedule is refused, not compared
    bad = tmp_path / "bad"
    fake_run(bad / "control", 0.85, 0.54, [0.1], "fail", epochs=10)
    fake_run(bad / "mitigated", 0.84, 0.43, [0.02], "pass", mitigate="cda,clp")
    assert main(["seeds", str(runs[0]), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "epochs 10 vs 3" in err and len(err.splitlines()) == 1


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_mitigate_trains_each_control_with_the_mitigated_models_seed_and_schedule(tmp_path):
    out = subprocess.run(["make", "-n", "mitigate", f"MIT_OUT={tmp_path}", "SEEDS=5 6", "MIT_EPOCHS=2"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    fits = [line for line in out.splitlines() if "-m finetune train" in line]
    assert len(fits) == 4
    for seed in (5, 6):
        control, = [f for f in fits if f"seed-{seed}/control " in f]
        mitigated, = [f for f in fits if f"seed-{seed}/mitigated " in f]
        assert f"--seed {seed} " in control and "--epochs 2 " in control and "--mitigate" not in control
        assert mitigated.replace("mitigated", "control").startswith(control.split(" -q ")[0])
        assert "--mitigate cda,clp" in mitigated
    audits = [line for line in out.splitlines() if "-m audit run" in line]
    assert len(audits) == 8 and all("heldout" in a or "seen" in a for a in audits)
    assert f"finetune.mitigation seeds {tmp_path}/seed-5 {tmp_path}/seed-6" in out
    assert not [line for line in out.splitlines() if line.startswith("rm ")]  # no model deleted as intermediate
