"""Run folders: where a run writes, who may write there, and its JSONL logs.

A run folder (``<out_dir>/<name>/`` or ``--run-dir``) holds one run: ``config.yaml``,
``train_log.jsonl``, ``eval_log.jsonl``, ``tb/``, ``checkpoints/``, figures and, when the loaders skipped
bad files or rows, ``data_warnings.txt`` (docs/ARCHITECTURE.md).
Everything that writes one goes through this module, so the rules hold everywhere:

- `check_run_name`: ``name`` is one plain folder name, so a run never writes outside ``out_dir``.
- `prepare_run_dir`: checked before any data or model is built. A folder that already holds a run
  is refused unless the caller resumes it or asks to overwrite it (then the earlier run's files are
  removed first, so logs and checkpoints of two runs never mix); a file in the way is an error.
  A run folder carries `RUN_MARKER`, written by dis-rl: only a folder that is recognisably dis-rl's
  (`is_dis_rl_run`) is resumed or overwritten, so ``--overwrite`` never deletes a user's own
  ``config.yaml``, ``tb/`` or ``checkpoints/``.
- `folder_lock`: one process at a time per folder (``train`` and ``compare`` share it); a lock left
  by a dead process is taken over; a folder that cannot be written (read-only, disk full) is a
  `RunFolderError` and leaves no lock behind.
- `check_output`: an output path of a command that reads a checkpoint (``--submission``, ``--out``)
  is never one of its inputs, a file inside a checkpoint or a file a run folder owns.
- `stop_signals` / `interrupted_advice`: SIGINT and SIGTERM end training at a round boundary (the
  trainer checkpoints first), and the advice printed afterwards matches what is on disk.
- `RunBudget`: when a run stops (network calls, training seconds, wall clock) and when an
  equal-budget comparison evaluates it; the trainer and both RL arms use it.
- `append_jsonl` / `read_jsonl` / `truncate_jsonl`: one record per line, each written in one call;
  a torn last line (a crash mid-write) is dropped on reading, never an error.

Numpy/torch-free on purpose: configs (name checks) and every command can use it.
One module (past 400 lines) on purpose: every rule about what may be written where is in one place, so
a new command that writes cannot miss one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

LOCK_NAME = ".dis-rl.lock"
# Written into every run folder dis-rl makes: what `--overwrite` may replace is dis-rl's own run.
RUN_MARKER = ".dis-rl-run"
CHECKPOINT_FORMAT = "dis-rl-checkpoint"  # meta.json's "format" (dis_rl.checkpoint.FORMAT)
NAME_MAX = 255  # bytes in one folder name on the usual file systems (ext4, APFS, NTFS)
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
    long = [p for p in parts if len(p.encode("utf-8", "surrogateescape")) > NAME_MAX]
    if long:
        raise ValueError(f"{key} {_clip(name)} has a folder name of {len(long[0].encode('utf-8', 'surrogateescape'))} "
                         f"bytes; file systems allow at most {NAME_MAX}")


def _clip(text: str, most: int = 60) -> str:
    """A user's value quoted for a message, cut to ``most`` characters."""
    return repr(text) if len(text) <= most else repr(text[:most]) + f"... ({len(text)} characters)"


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
    return bool(_present(run_dir, RUN_OUTPUTS))


def _present(folder: Path, names: tuple[str, ...]) -> list[str]:
    return [name + ("/" if (folder / name).is_dir() else "") for name in names if (folder / name).exists()]


def is_dis_rl_run(run_dir: str | Path) -> bool:
    """Whether dis-rl made ``run_dir``: it carries `RUN_MARKER`, or (a run of a dis-rl from before
    the marker) a ``config.yaml`` beside ``checkpoints/step_*`` folders whose ``meta.json`` is a
    dis-rl checkpoint's. Merely holding ``config.yaml``, ``tb/`` or ``checkpoints/`` is not enough."""
    run_dir = Path(run_dir)
    if is_marked(run_dir, "run"):
        return True
    if not (run_dir / "config.yaml").is_file():
        return False
    return any(is_checkpoint_meta(meta) for meta in (run_dir / "checkpoints").glob("step_*/meta.json"))


def is_checkpoint_meta(path: Path, max_bytes: int = 1 << 24) -> bool:
    """Whether ``path`` is a regular file holding a dis-rl checkpoint's metadata (never blocks on a FIFO)."""
    try:
        if not path.is_file() or path.stat().st_size > max_bytes:
            return False
        meta = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(meta, dict) and meta.get("format") == CHECKPOINT_FORMAT


def check_not_foreign(folder: str | Path, outputs: tuple[str, ...], mine: bool, what: str) -> None:
    """Refuse ``folder`` when it holds files named like a command's ``outputs`` although dis-rl did
    not make it (``mine`` False): writing there would replace or mix into the user's own files."""
    folder = Path(folder)
    found = [] if mine else _present(folder, outputs)
    if found:
        raise RunFolderError(
            f"{folder} holds {', '.join(found)} but is not a dis-rl {what} (it has no {RUN_MARKER}); "
            f"dis-rl writes, resumes and overwrites only its own {what}s: choose another folder, or "
            "move those files away yourself")


def _refusal(run_dir: Path, resume: bool, overwrite: bool) -> str:
    """Why a run may not start in ``run_dir`` ('' if it may)."""
    check_creatable(run_dir)
    if resume and overwrite:
        return "--resume continues a run and --overwrite discards it: pass one of them"
    check_not_foreign(run_dir, RUN_OUTPUTS, is_dis_rl_run(run_dir), "run folder")
    if resume and not (run_dir / "checkpoints").is_dir():
        return f"nothing to resume in {run_dir}: it holds no checkpoints/ folder"
    if not resume and not overwrite and is_used(run_dir):
        return (f"run folder {run_dir} already holds a run; pass --resume to continue it, --overwrite to "
                "replace it, or choose another name / --run-dir")
    return ""


def run_folder_path(run_dir: str | Path) -> Path:
    """``--run-dir`` as a path; an empty one (which would mean the working directory) is refused."""
    if not str(run_dir).strip():
        raise RunFolderError("--run-dir is empty: name a folder for the run (or leave --run-dir out to use "
                             "<out_dir>/<name> of the config)")
    return Path(run_dir)


def check_run_dir(run_dir: str | Path, resume: bool = False, overwrite: bool = False) -> Path:
    """Raise `RunFolderError` unless a run may start in ``run_dir``; changes nothing on disk.

    Called before any data or model is built: an empty path, a file in the way, a folder holding an
    earlier run (without ``resume`` or ``overwrite``) or files dis-rl did not write, nothing to
    resume, or a live process holding the folder."""
    run_dir = run_folder_path(run_dir)
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
    try:
        if overwrite:
            for name in RUN_OUTPUTS:
                path = run_dir / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        run_dir.mkdir(parents=True, exist_ok=True)
        mark_folder(run_dir)
    except OSError as err:
        raise RunFolderError(unwritable(run_dir, err)) from None
    return run_dir


def mark_folder(folder: Path, kind: str = "run") -> None:
    """Write `RUN_MARKER`: from now on dis-rl may resume or replace what it writes in ``folder``.
    ``kind`` (``run``, ``comparison``) keeps one command from taking another's folder for its own."""
    if not is_marked(folder, kind):
        (folder / RUN_MARKER).write_text(f"dis-rl {kind} folder: dis-rl may replace the files it wrote here\n")


def is_marked(folder: str | Path, kind: str) -> bool:
    """Whether ``folder`` carries the `RUN_MARKER` of a dis-rl ``kind`` folder."""
    marker = Path(folder) / RUN_MARKER
    try:
        text = marker.read_text(encoding="utf-8", errors="replace") if marker.is_file() else ""
    except OSError:
        return False
    return f"dis-rl {kind} folder" in text[:200]


def unwritable(folder: Path, err: OSError) -> str:
    """One line for a folder the file system refuses (read-only, no permission, disk or quota full)."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full (or the quota used up): free space there"
    elif err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = "it is read-only or not yours to write: choose a writable --run-dir / out_dir"
    else:
        why = "choose another folder"
    where = err.filename or folder
    return f"cannot write in {folder} ({where}: {err.strerror or err}); {why}"


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
    lock = run_dir / LOCK_NAME
    for _ in range(2):  # the second try follows the removal of a stale lock
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            if holder is not None:
                raise _busy(run_dir, *holder) from None
            lock.unlink(missing_ok=True)
            continue
        except OSError as err:
            raise RunFolderError(unwritable(run_dir, err)) from None
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{os.getpid()} {command}\n")
        except OSError as err:  # the file was made but not filled (disk full): leave no empty lock
            lock.unlink(missing_ok=True)
            raise RunFolderError(unwritable(run_dir, err)) from None
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


def checkpoint_inputs(given: str | Path, folder: Path) -> tuple[Path, ...]:
    """What a command reading a checkpoint reads: the path as given, the checkpoint folder it
    resolved to and that folder's run folder (none of them may be an output)."""
    return Path(given), Path(folder), run_folder_of(folder)


def default_output(checkpoint_path: Path, what: str) -> Path:
    """Where a command writes about a checkpoint by default: ``runs/<what>/<run name>`` under the
    working directory. Never beside the checkpoint: a shipped one sits inside the installed package
    (or the source tree), and files written there outlive ``pip uninstall``."""
    return Path("runs") / what / run_folder_of(checkpoint_path).name


def inside_checkpoint(path: str | Path) -> Path | None:
    """The checkpoint folder (a step or exported folder, or a run's ``checkpoints/``) that ``path``
    is or lies inside, or None."""
    resolved = Path(os.path.abspath(path))
    for folder in (resolved, *resolved.parents):
        if is_checkpoint_meta(folder / "meta.json") or (folder.name == "checkpoints" and (folder / "latest").is_file()):
            return folder
    return None


def check_output(path: str | Path | None, inputs: tuple = (), flag: str = "--out", folder: bool = False) -> Path | None:
    """Refuse an output path before a command works: empty, inside a checkpoint, one of the
    command's ``inputs`` (or, for a file, a file a dis-rl run folder owns), a folder where a file
    goes or a file where a folder goes. None (the default output) passes."""
    if path is None:
        return None
    if not str(path).strip():
        raise RunFolderError(f"{flag} is empty: name the {'folder' if folder else 'file'} to write")
    path = Path(path)
    target = Path(os.path.abspath(path))
    for given in inputs:
        if given is not None and target == Path(os.path.abspath(given)):
            raise RunFolderError(f"{flag} {path} is this command's input; write the output somewhere else")
    holder = inside_checkpoint(target)
    if holder is not None:
        raise RunFolderError(f"{flag} {path} lies inside the checkpoint {holder}; write the output somewhere else")
    if not folder and target.name in RUN_OUTPUTS and is_dis_rl_run(target.parent):
        raise RunFolderError(f"{flag} {path} is a file of the run in {target.parent}; write the output somewhere else")
    if folder:
        check_creatable(path)
    elif path.is_dir():
        raise RunFolderError(f"{flag} {path} is a folder; name a file to write")
    else:
        blocker = _file_in_the_way(path.parent)
        if blocker is not None:
            raise RunFolderError(f"{flag} {path} cannot be written: {blocker} is a file, not a folder")
    return path


# -- interruption ------------------------------------------------------------------------------------
class StopRequest:
    """Which signal asked the running loop to stop ('' while none has)."""

    def __init__(self) -> None:
        self.signal = ""


@contextlib.contextmanager
def stop_signals(enabled: bool = True) -> Iterator[StopRequest]:
    """While the block runs, SIGINT and SIGTERM (what a cluster scheduler sends before preemption)
    only set ``request.signal``: the loop finishes its round, checkpoints and stops. A second signal
    interrupts at once (KeyboardInterrupt). Outside the main thread, or not ``enabled``, nothing
    changes (under torchrun every rank would have to agree on the round to stop at)."""
    request = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return
    owner = os.getpid()

    def handler(signum: int, _frame) -> None:
        if ended_if_forked(owner, signum):
            return
        if request.signal:
            raise KeyboardInterrupt(signal.Signals(signum).name)
        request.signal = signal.Signals(signum).name

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def ended_if_forked(owner: int, signum: int) -> bool:
    """In a process forked after ``owner`` installed a signal handler (a worker pool's child, which
    its pool ends with SIGTERM), give ``signum`` its default action, ending the process quietly."""
    if os.getpid() == owner:
        return False
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return True


def interrupted_advice(run_dir: str | Path) -> str:
    """What to do after an interrupted training run, true to what its folder holds."""
    run_dir = Path(run_dir)
    checkpoints = run_dir / "checkpoints"
    if (checkpoints / "latest").is_file() or any(checkpoints.glob("step_*/meta.json")):
        return "continue with the same command and --resume"
    if is_used(run_dir):
        return (f"nothing was saved yet (no checkpoint in {checkpoints}); start again with the same command "
                "and --overwrite")
    return "nothing was saved yet; run the same command again"


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
