"""Progress output: a live bar only on a terminal; in pipes and CI a plain line every 10% or 10 s."""
import io

from tqdm import tqdm

from core import progress as progress_mod
from core.progress import LogLines, is_live, progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_every_tenth_with_rate_and_eta():
    out = io.StringIO()
    bar = LogLines(total=1000, desc="scoring", unit="sent", file=out)
    for _ in range(1000):
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 10  # 10%, 20%, ... 100%: no duplicate line from close()
    assert lines[0].startswith("scoring: 100/1000 sent (10%)") and "sent/s" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("scoring: 1000/1000 sent (100%)")


def test_plain_lines_every_ten_seconds_on_slow_loops(monkeypatch):
    clock = iter(range(0, 10_000, 4))  # each update happens 4 s after the previous one
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: float(next(clock)))
    out = io.StringIO()
    bar = LogLines(total=1_000_000, desc="epoch 1/3", unit="batch", file=out)
    for _ in range(9):  # 36 s in, far below 10% of the work
        bar.update(1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # at 12, 24 and 36 s: at least 10 s apart, never more often
    assert all("batch/s" in line and "ETA" in line for line in lines)


def test_iteration_postfix_and_final_line():
    out = io.StringIO()
    bar = LogLines(range(7), desc="epoch 1/1", unit="batch", file=out)
    seen = []
    for i in bar:
        seen.append(i)
        bar.set_postfix(loss="0.512")
    assert seen == list(range(7))
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("epoch 1/1: 7/7 batch (100%)") and last.endswith("loss 0.512")


def test_bar_on_a_terminal_lines_on_a_pipe_or_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert is_live(Tty()) and not is_live(io.StringIO())
    monkeypatch.setattr(progress_mod.sys, "stderr", Tty())
    assert isinstance(progress(total=3), tqdm)
    monkeypatch.setenv("CI", "true")
    assert isinstance(progress(total=3), LogLines)
    monkeypatch.setenv("CI", "false")
    assert isinstance(progress(total=3), tqdm)
    monkeypatch.delenv("CI")
    monkeypatch.setattr(progress_mod.sys, "stderr", io.StringIO())
    assert isinstance(progress(total=3), LogLines)
    assert isinstance(progress(total=3, disable=True), tqdm)  # tqdm's own no-op


def test_training_loop_logs_plain_lines_on_a_pipe(tiny_base, small_csv, tmp_path, capsys):
    from finetune.training import TrainConfig, train

    train(TrainConfig(data=str(small_csv), base_model=str(tiny_base), out=str(tmp_path / "m"), epochs=2,
                      batch_size=8, max_length=16, patience=0))
    captured = capsys.readouterr()
    assert "\r" not in captured.err
    epoch_lines = [l for l in captured.err.splitlines() if l.startswith("epoch ")]
    # 102 training rows / 8 = 13 batches; a 10% step is 2 batches: lines at 2, 4, ... 12 and 13 of each epoch
    assert len(epoch_lines) == 2 * 7 and all("batch/s" in l and "loss" in l for l in epoch_lines)
    assert epoch_lines[-1].startswith("epoch 2/2: 13/13 batch (100%)")
