"""Run folders: where a run writes, who may write there, and its JSONL logs.

A run folder (``<out_dir>/<name>/`` or ``--run-dir``) holds one run: ``config.yaml``,
``train_log.jsonl``, ``eval_log.jsonl``, ``tb/``, ``checkpoints/``, figures and, when the loaders skipped
bad files or rows, ``data_warnings.txt`` (docs/ARCHITECTURE.md).
Everything that writes one goes through this module, so the rules hold everywhere:

- `check_run_name`: ``name`` is one plain folder name, so a run never writes outside ``out_dir``.
- `prepare_run_dir`: checked before any data or model is built. A folder that already holds a run
  is refused unless the caller resumes it or asks to overwrite it (then the earlier run's files are
  removed first, so logs and checkpoints of two runs never mix); a file in the way is an error.
- `folder_lock`: one process at a time per folder (``train`` and ``compare`` share it); a lock left
  by a dead process is taken over.
- `RunBudget`: when a run stops (network calls, training seconds, wall clock) and when an
  equal-budget comparison evaluates it; the trainer and both RL arms use it.
- `append_jsonl` / `read_jsonl` / `truncate_jsonl`: one record per line, each written in one call;
  a torn last line (a crash mid-write) is dropped on reading, never an error.

Numpy/torch-free on purpose: configs (name checks) and every command can use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

LOCK_NAME = ".dis-rl.lock"
DATA_REPORT = "data_warnings.txt"  # what the data loaders skipped (files, rows), written at the start
# What a run leaves in its folder; `prepare_run_dir(overwrite=True)` removes these and nothing else.
RUN_OUTPUTS = ("config.yaml", "train_log.jsonl", "eval_log.jsonl", "tb", "checkpoints", DATA_REPORT,
               "accuracy_vs_calls.png", "hamming_per_step.png")


@dataclass
class RunBudget:
    """A run's limits: stop at ``max_network_calls``, ``max_train_seconds`` (evaluation and
    checkpoints excluded) or ``max_seconds`` of wall clock; evaluate each time a multiple of
    ``eval_every_calls`` / ``eval_every_seconds`` (training seconds) is crossed. 0 switches a
    limit off. `dis-rl compare` sets these so that every arm stops and evaluates alike."""

    max_network_calls: int = 0
    eval_every_calls: int = 0
    max_train_seconds: float = 0.0
    eval_every_seconds: float = 0.0
    max_seconds: float = 0.0

    def exhausted(self, calls: int, train_s: float, wall_s: float = 0.0) -> str:
        """Which limit is used up, for the log ('' while none is)."""
        if self.max_seconds and wall_s >= self.max_seconds:
            return f"time budget of {self.max_seconds:.0f}s"
        if self.max_train_seconds and train_s >= self.max_train_seconds:
            return f"training-time budget of {self.max_train_seconds:.0f}s"
        if self.max_network_calls and calls >= self.max_network_calls:
            return f"budget of {self.max_network_calls:,} network calls"
        return ""

    def crossed(self, calls_before: int, calls: int, s_before: float, s: float) -> bool:
        """Whether the last round crossed an evaluation point."""
        return bool((self.eval_every_calls and calls // self.eval_every_calls > calls_before // self.eval_every_calls)
                    or (self.eval_every_seconds and s // self.eval_every_seconds > s_before // self.eval_every_seconds))


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (holds another run, is busy, is a file)."""


class RunFolderBusy(RunFolderError):
    """Another live dis-rl process holds the folder's lock."""


# -- names and folders -----------------------------------------------------------------------------
def check_run_name(name: str, key: str = "name") -> None:
    """Refuse a ``name`` that is empty, absolute or leaves ``out_dir`` (``..``, ``a/../..``)."""
    parts = PurePath(name).parts
    if (not name or not parts or PurePath(name).is_absolute() or any(p in ("..", ".") for p in parts)
            or "\\" in name or "\x00" in name):
        raise ValueError(f"{key} {name!r} must be a relative folder name inside out_dir (no '..', no absolute path)")


def _file_in_the_way(folder: Path) -> Path | None:
    """``folder`` itself or its nearest existing ancestor when that is not a directory."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def check_creatable(folder: str | Path) -> Path:
    """Raise `RunFolderError` when a file sits where ``folder`` (or one of its parents) should be."""
    folder = Path(folder)
    blocker = _file_in_the_way(folder)
    if blocker is not None:
        raise RunFolderError(f"run folder {folder} cannot be created: {blocker} is a file, not a folder "
                             "(change out_dir, name or --run-dir)")
    return folder


def is_used(run_dir: Path) -> bool:
    """Does the folder hold (part of) an earlier run?"""
    return any((run_dir / name).exists() for name in RUN_OUTPUTS)


def _refusal(run_dir: Path, resume: bool, overwrite: bool) -> str:
    """Why a run may not start in ``run_dir`` ('' if it may)."""
    check_creatable(run_dir)
    if resume and overwrite:
        return "--resume continues a run and --overwrite discards it: pass one of them"
    if resume and not (run_dir / "checkpoints").is_dir():
        return f"nothing to resume in {run_dir}: it holds no checkpoints/ folder"
    if not resume and not overwrite and is_used(run_dir):
        return (f"run folder {run_dir} already holds a run; pass --resume to continue it, --overwrite to "
                "replace it, or choose another name / --run-dir")
    return ""


def check_run_dir(run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> Path:
    """Raise `RunFolderError` unless a run may start in ``run_dir``; changes nothing on disk.

    Called before any data or model is built: a file in the way, a folder holding an earlier run
    (without ``resume`` or ``overwrite``), nothing to resume, or a live process holding the folder."""
    run_dir = Path(run_dir)
    problem = _refusal(run_dir, resume, overwrite)
    if problem:
        raise RunFolderError(problem)
    holder = _holder(run_dir / LOCK_NAME)
    if holder is not None:
        raise _busy(run_dir, *holder)
    return run_dir


def prepare_run_dir(run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> Path:
    """Check ``run_dir`` again (now holding `folder_lock`) and make it; with ``overwrite`` the earlier
    run's files (`RUN_OUTPUTS`) are deleted first, other files are left alone."""
    run_dir = Path(run_dir)
    problem = _refusal(run_dir, resume, overwrite)
    if problem:
        raise RunFolderError(problem)
    if overwrite:
        for name in RUN_OUTPUTS:
            path = run_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


# -- the lock ----------------------------------------------------------------------------------------
def _holder(lock: Path) -> tuple[int, str] | None:
    """``(pid, command)`` of a live process holding ``lock``, or None (absent, unreadable or stale)."""
    try:
        pid_text, _, command = lock.read_text(encoding="utf-8", errors="replace").partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # its process is gone
    except PermissionError:
        pass  # alive, owned by someone else
    return pid, command.strip() or "process"


def _busy(run_dir: Path, pid: int, command: str) -> RunFolderBusy:
    return RunFolderBusy(f"another dis-rl {command} (pid {pid}) is running in {run_dir}; wait for it, or delete "
                         f"{run_dir / LOCK_NAME} if that process is not dis-rl")


@contextlib.contextmanager
def folder_lock(run_dir: str | Path, command: str) -> Iterator[Path]:
    """Hold ``run_dir`` for ``command`` (``train``, ``compare``) while the block runs.

    The lock file is created exclusively, so of two processes starting together one wins; a lock
    whose process is dead is removed and taken over. Raises `RunFolderBusy` naming the holder."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / LOCK_NAME
    for _ in range(2):  # the second try follows the removal of a stale lock
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            if holder is not None:
                raise _busy(run_dir, *holder) from None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()} {command}\n")
        break
    else:
        raise RunFolderBusy(f"could not take the lock {lock}: another process keeps creating it")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


def run_folder_of(checkpoint_path: Path) -> Path:
    """The run folder of a checkpoint step folder (``<run>/checkpoints/step_N``), else the folder itself."""
    checkpoint_path = Path(checkpoint_path)
    if checkpoint_path.parent.name == "checkpoints" and checkpoint_path.name.startswith("step_"):
        return checkpoint_path.parent.parent
    return checkpoint_path


def default_output(checkpoint_path: Path, what: str) -> Path:
    """Where a command writes about a checkpoint by default: ``runs/<what>/<run name>`` under the
    working directory. Never beside the checkpoint: a shipped one sits inside the installed package
    (or the source tree), and files written there outlive ``pip uninstall``."""
    return Path("runs") / what / run_folder_of(checkpoint_path).name


# -- JSONL logs --------------------------------------------------------------------------------------
def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append one record as one line, in one write (a crash can tear only the last line)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSONL log ([] if absent). A torn last line (a crash mid-write) is dropped
    with a warning; a bad line before the last one means the file was damaged, an error naming it."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"expected a JSON object, got {type(record).__name__}")
        except ValueError as err:
            if all(not rest.strip() for rest in lines[number:]):  # the last line: torn by a crash
                warnings.warn(f"{path}: dropped a torn last line {number} ({err})", stacklevel=2)
                break
            raise RunFolderError(f"{path}: line {number} is not a JSON record ({err}); the log is damaged") from None
        records.append(record)
    return records


def truncate_jsonl(path: str | Path, key: str, upto: int) -> None:
    """Keep the records with ``record[key] <= upto`` (drop what was logged after the checkpoint a run
    resumes from) and a torn last line; the file is replaced atomically."""
    path = Path(path)
    if not path.exists():
        return
    kept = [r for r in read_jsonl(path) if r.get(key, upto + 1) <= upto]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    os.replace(tmp, path)


def log_evaluation(run_dir: str | Path, record: dict[str, Any], writer: Any = None, step: int | None = None) -> None:
    """The one evaluation-record writer (training loop, PPO from scratch, policy-gradient fine-tuning): the
    record appended to ``eval_log.jsonl`` and, given a TensorBoard writer, its headline scalars
    ``eval/valid`` and ``eval/exact`` at ``step`` and ``eval/valid_vs_network_calls`` at the record's calls."""
    append_jsonl(Path(run_dir) / "eval_log.jsonl", record)
    if writer is not None:
        writer.add_scalar("eval/valid", record["valid"], step)
        if "exact" in record:
            writer.add_scalar("eval/exact", record["exact"], step)
        writer.add_scalar("eval/valid_vs_network_calls", record["valid"], record["network_calls"])
