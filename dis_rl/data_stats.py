"""``dis-rl data stats``: what a data source holds, before any training.

ARC (``arc1``, ``arc2`` or a directory of task files): tasks, pairs, grid sizes and augmentation
counts, plus the bad files of a directory. A Sudoku CSV: rows, bad rows and the rating histogram.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def data_stats(target: str, num_aug: int = 1000, strict: bool = False, seed: int = 0) -> str:
    if target.endswith(".csv") or Path(target).is_file():
        return sudoku_csv_stats(target, strict=strict)
    from dis_rl.puzzles.arc import BUILTIN_SOURCES, load_arc_dir
    from dis_rl.puzzles.arc_augment import data_stats as arc_stats

    lines = []
    if target not in BUILTIN_SOURCES:
        if not Path(target).is_dir():
            raise FileNotFoundError(
                f"{target!r} is not 'arc1', 'arc2', a directory of ARC task files or a Sudoku CSV file"
            )
        _, report = load_arc_dir(target, strict=strict)
        lines.append(f"{target}: {report}")
    lines.append(arc_stats(target, num_aug=num_aug, seed=seed))
    return "\n".join(lines)


def sudoku_csv_stats(path: str, strict: bool = False) -> str:
    from dis_rl.puzzles.sudoku import _histogram, load_csv

    if not Path(path).is_file():
        raise FileNotFoundError(f"Sudoku CSV {path} does not exist")
    puzzles, report = load_csv(path, strict=strict)
    rating = puzzles.extras.get("rating", np.zeros(0))
    givens = (puzzles.inputs > 1).sum(axis=1) if len(puzzles) else np.zeros(0)
    lines = [
        f"Sudoku CSV {path}: {report.read} rows, {report.loaded} valid, {report.num_bad} bad",
        f"  givens per puzzle: min {givens.min(initial=0)}, median {int(np.median(givens)) if len(givens) else 0}, "
        f"max {givens.max(initial=0)}",
        f"  rating histogram (solver backtracks): {_histogram(rating[rating >= 0]) if len(rating) else {}}",
    ]
    if report.num_bad:
        lines.append("\n".join(str(report).splitlines()[1:]))
    return "\n".join(lines)
