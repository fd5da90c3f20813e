"""Atomic output: write to a temporary file beside the target, then rename, so no reader sees half a file; a set
of files (one run's outputs) is staged in a sibling folder and published together."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n")


def write_parquet(path: str | os.PathLike, frame) -> Path:
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return write_bytes(path, buf.getvalue())


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ------------------------------------------------------------------ output folders
def check_writable(path: str | os.PathLike, option: str, folder: bool = True) -> Path:
    """Fail early (before any work) when ``path`` cannot become a folder (or file) we can write.

    Refused: an existing file where a folder is wanted (or a folder where a file is wanted), a path below a file,
    a place where a test file cannot be created (permissions, read-only file system).
    """
    from core.errors import InputError

    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}: is a file, not a folder")
    if not folder and path.is_dir():
        raise InputError(f"{option} {path}: is a folder, not a file")
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{option} {path}: lies below {existing}, which is a file")
    try:
        fd, probe = tempfile.mkstemp(prefix=".fairaudit-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write in {existing}: {exc.strerror}") from exc
    return path


MARKER = ".fairaudit"  # in every folder fairaudit publishes into: its outputs there may be replaced by a later run
MODEL_FILES = ("model.safetensors", "pytorch_model.bin", "tf_model.h5", "tokenizer.json", "tokenizer_config.json")


def check_outputs(path: str | os.PathLike, option: str, names: tuple[str, ...],
                  protected: dict[str, tuple[str | os.PathLike, bool]] | None = None) -> None:
    """Refuse (before any work) an output folder where writing would damage what is not ours.

    Refused: a symbolic link to nothing; a folder that is one of ``protected`` (``{"the --model folder": (path,
    True)}``; True: anything inside it too, e.g. a model folder, which travels whole to a hub) or that looks like a saved model (``config.json`` beside weights or
    a tokenizer); a folder holding a file named like one of our outputs (``names``) that fairaudit did not write
    (no :data:`MARKER` and no fairaudit ``results.json`` there).
    """
    from core.errors import InputError

    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise InputError(f"{option} {path}: is a symbolic link to {os.readlink(path)}, which does not exist; "
                         "create that folder or choose another output folder")
    real = path.resolve()
    for what, (folder, inside) in (protected or {}).items():
        base = Path(folder).resolve()
        if base.is_dir() and (real == base or (inside and real.is_relative_to(base))):
            raise InputError(f"{option} {path}: is {what} {folder}{' (or inside it)' if real != base else ''}; "
                             "fairaudit never writes there: choose another output folder")
    if real.is_dir() and (real / "config.json").is_file() and any((real / f).is_file() for f in MODEL_FILES):
        raise InputError(f"{option} {path}: holds a saved model (config.json and weights); fairaudit never writes "
                         "into a model folder: choose another output folder")
    clash = [n for n in names if (real / n).exists()] if real.is_dir() else []
    if clash and not ours(real):
        raise InputError(f"{option} {path}: holds {clash[0]}, which fairaudit did not write there; it never replaces "
                         "a file it did not create: choose another output folder or move the file")


def ours(folder: Path) -> bool:
    """Whether fairaudit published into ``folder`` (its marker, or a results.json of an older fairaudit run)."""
    if (folder / MARKER).is_file():
        return True
    try:
        with open(folder / "results.json", encoding="utf-8", errors="replace") as fh:
            return '"schema": "fairaudit.results/' in fh.read(4096)
    except OSError:
        return False


def mark(folder: Path) -> None:
    """Leave the marker that :func:`check_outputs` accepts."""
    if not (folder / MARKER).is_file():
        write_text(folder / MARKER, "Written by fairaudit: its outputs in this folder may be replaced by a later run.\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def published_folder(out: str | os.PathLike, last: str, stale: tuple[str, ...] = ()) -> Iterator[Path]:
    """Write a set of files into a staging sibling of ``out``; they appear in ``out`` together or not at all.

    The set includes :data:`MARKER`, moved first, so that a later run may replace these files (and only these).
    A new (or empty) ``out`` is one ``rename`` of the staging folder. Into an existing folder the files move one
    by one, but ``last`` (the completion marker, ``results.json``) is removed first and moved in last, so a reader
    that requires it never sees a mixed or half-written set; files named in ``stale`` (outputs that would now
    describe another run) are removed, every other file in ``out`` is left alone. Staging folders of killed
    processes are removed by the next writer.
    """
    out = Path(os.path.abspath(out))  # "." has no name to build the staging folder's from
    out.parent.mkdir(parents=True, exist_ok=True)
    for old in [*out.parent.glob(f".{out.name}.partial-*"), *out.glob(".partial-*")]:
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)  # our pid: left by an earlier process that had it
    try:
        staging.mkdir()
    except OSError:  # a parent we may not write in: stage inside ``out`` (then files move in one by one)
        staging = out / f".partial-{os.getpid()}"
        staging.mkdir(parents=True)
    try:
        yield staging
        mark(staging)
        if not out.exists() or (out.is_dir() and not any(out.iterdir())):
            try:
                os.rename(staging, out)
                return
            except OSError:
                pass  # created meanwhile: move file by file below
        out.mkdir(exist_ok=True)
        (out / last).unlink(missing_ok=True)
        for name in stale:
            (out / name).unlink(missing_ok=True)
        for item in sorted(staging.iterdir(), key=lambda p: (p.name == last, p.name != MARKER)):  # marker first
            os.replace(item, out / item.name)
        staging.rmdir()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
