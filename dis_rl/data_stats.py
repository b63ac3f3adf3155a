"""``dis-rl data stats``: what a data source holds, before any training.

ARC (``arc1``, ``arc2`` or a directory of task files): tasks, pairs, grid sizes and augmentation
counts, plus the bad files of a directory. A Sudoku CSV: rows, bad rows and the rating histogram.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from dis_rl.puzzles.arc import BUILTIN_SOURCES, KAGGLE_FILES, load_arc_dir, load_kaggle_with_report, source_layout
from dis_rl.puzzles.arc_augment import data_stats as arc_stats
from dis_rl.puzzles.load_report import SkippedItemsWarning
from dis_rl.puzzles.sudoku import histogram, load_csv


def data_stats(target: str, num_aug: int = 1000, strict: bool = False, seed: int = 0,
               multiple_solutions: str = "reject") -> str:
    """The report as text; bad files and rows are listed in it (so their warnings are not repeated).
    ``multiple_solutions="keep"`` skips the Sudoku uniqueness check (milliseconds a row)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedItemsWarning)
        return _data_stats(target, num_aug, strict, seed, multiple_solutions)


def _data_stats(target: str, num_aug: int, strict: bool, seed: int, multiple_solutions: str) -> str:
    if target.endswith(".csv") or Path(target).is_file():
        return sudoku_csv_stats(target, strict=strict, multiple_solutions=multiple_solutions)

    lines = []
    if target not in BUILTIN_SOURCES:
        if not Path(target).is_dir():
            raise FileNotFoundError(
                f"{target!r} is not 'arc1', 'arc2', a directory of ARC task files or a Sudoku CSV file"
            )
        if source_layout(target) == "kaggle":  # two JSON files of many tasks each, not one task per file
            for split in KAGGLE_FILES:
                _, report = load_kaggle_with_report(target, split, strict=strict)
                if report.read:
                    lines.append(f"{target} ({split} challenges): {report}")
        else:
            _, report = load_arc_dir(target, strict=strict)
            lines.append(f"{target}: {report}")
    lines.append(arc_stats(target, num_aug=num_aug, seed=seed))
    return "\n".join(lines)


def sudoku_csv_stats(path: str, strict: bool = False, multiple_solutions: str = "reject") -> str:

    if not Path(path).is_file():
        raise FileNotFoundError(f"Sudoku CSV {path} does not exist")
    puzzles, report = load_csv(path, strict=strict, multiple_solutions=multiple_solutions)
    rating = puzzles.extras.get("rating", np.zeros(0))
    givens = (puzzles.inputs > 1).sum(axis=1)
    spread = (f"min {givens.min()}, median {int(np.median(givens))}, max {givens.max()}" if len(givens)
              else "no valid puzzles")
    unique = "checked" if multiple_solutions == "reject" else "not checked (multiple_solutions=keep)"
    lines = [
        f"Sudoku CSV {path}: {report.read} rows, {report.loaded} valid, {report.num_bad} bad; "
        f"unique solutions {unique}",
        f"  givens per puzzle: {spread}",
        f"  rating histogram (solver backtracks): {histogram(rating[rating >= 0]) if len(rating) else {}}",
    ]
    if report.num_bad:
        lines.append("\n".join(str(report).splitlines()[1:]))
    return "\n".join(lines)
