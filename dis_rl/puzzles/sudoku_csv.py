"""Sudoku-Extreme CSV files: reading (every row checked, bad rows skipped and counted or, strictly,
refused), the uniqueness rule, and writing the same layout.

Layout: ``source,question,answer,rating`` with ``.`` (or ``0``) for blanks in ``question``. A puzzle
is loaded only if its question has exactly one solution (``multiple_solutions="reject"``, the
default; a question without givens is always refused); ``multiple_solutions="keep"`` keeps the
others, scored by the rules (`dis_rl.puzzles.sudoku.SudokuDomain`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from dis_rl.puzzles.base import PuzzleSet
from dis_rl.puzzles.load_report import LoadReport
from dis_rl.puzzles.sudoku_board import SEQ_LEN, make_puzzle_set, unit_counts
from dis_rl.puzzles.sudoku_solver import count_solutions


class SudokuFormatError(ValueError):
    """A bad CSV file or row; the message names the file and line."""


def _row_problem(line: int, q: str, a: str, rating: str) -> str | None:
    """Per-row text checks; None when the row's text is well formed."""
    if len(q) != SEQ_LEN:
        return f"line {line}: question has {len(q)} characters, expected 81"
    bad = [ch for ch in q if ch not in ".0123456789"]
    if bad:
        return f"line {line}: question has character {bad[0]!r}; expected digits 1-9 and '.' for blanks"
    if len(a) != SEQ_LEN:
        return f"line {line}: answer has {len(a)} characters, expected 81"
    if not all("1" <= ch <= "9" for ch in a):
        return f"line {line}: answer must be 81 digits 1-9, got {a[:20]!r}..."
    if rating.strip():
        try:
            float(rating)
        except ValueError:
            return f"line {line}: rating {rating!r} is not a number"
    return None


MULTIPLE_SOLUTIONS = ("reject", "keep")


def load_csv(
    path: str | Path, strict: bool = False, multiple_solutions: str = "reject"
) -> tuple[PuzzleSet, LoadReport]:
    """Load a Sudoku-Extreme CSV. Each row is checked (lengths, characters, clashing givens,
    givens matching the answer, a valid answer grid, at least one given and, with
    ``multiple_solutions="reject"``, a unique solution: about 5-10 ms a row); a bad row is skipped,
    reported by line number (also in a `SkippedItemsWarning`), or with ``strict=True`` raises
    `SudokuFormatError`. ``extras["line"]`` holds each puzzle's line in the file."""
    if multiple_solutions not in MULTIPLE_SOLUTIONS:
        raise ValueError(f"multiple_solutions must be one of {MULTIPLE_SOLUTIONS}, got {multiple_solutions!r}")
    path = Path(path)
    report = LoadReport(unit="rows")
    lines, questions, answers, ratings = [], [], [], []

    def bad(message: str) -> None:
        if strict:
            raise SudokuFormatError(f"{path}: {message}")
        report.errors.append(f"{path}: {message}")

    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"question", "answer"} - set(reader.fieldnames or [])
            if missing:
                raise SudokuFormatError(
                    f"{path}: header must name columns source,question,answer,rating; missing {sorted(missing)}"
                )
            for row in reader:
                report.read += 1
                line = reader.line_num
                q, a, r = (v if isinstance(v := row.get(k), str) else "" for k in ("question", "answer", "rating"))
                problem = _row_problem(line, q.strip(), a.strip(), r)
                if problem:
                    bad(problem)
                    continue
                lines.append(line)
                questions.append(q.strip().replace(".", "0"))
                answers.append(a.strip())
                ratings.append(float(r) if r.strip() else -1.0)
    except UnicodeDecodeError as err:
        raise SudokuFormatError(f"{path}: not UTF-8 text ({err})") from None
    except csv.Error as err:  # a NUL byte, a field over csv's size limit, a broken quote
        raise SudokuFormatError(f"{path}: line {reader.line_num + 1}: not a readable CSV row ({err})") from None

    def digits(rows: list[str]) -> np.ndarray:
        if not rows:
            return np.zeros((0, SEQ_LEN), dtype=np.int64)
        return (np.frombuffer("".join(rows).encode(), dtype=np.uint8) - ord("0")).reshape(-1, SEQ_LEN)

    q_grid, a_grid = digits(questions), digits(answers)
    keep = np.ones(len(q_grid), dtype=bool)
    for start in range(0, len(q_grid), 50_000):  # vectorised grid checks, in chunks
        sl = slice(start, start + 50_000)
        q, a = q_grid[sl].astype(np.int64), a_grid[sl].astype(np.int64)
        clash = (unit_counts(q) > 1).any(axis=(1, 2))
        mismatch = ((q != 0) & (q != a)).any(axis=1)
        invalid = ~(unit_counts(a) == 1).all(axis=(1, 2))
        blank = (q == 0).all(axis=1)
        for i in np.flatnonzero(clash | mismatch | invalid | blank):
            j = start + int(i)
            keep[j] = False
            if clash[i]:
                bad(f"line {lines[j]}: contradictory givens (a digit repeats in a row, column or box)")
            elif invalid[i]:
                bad(f"line {lines[j]}: answer is not a valid Sudoku solution")
            elif blank[i]:
                bad(f"line {lines[j]}: the question has no givens (every valid grid would solve it)")
            else:
                cell = int(np.flatnonzero((q[i] != 0) & (q[i] != a[i]))[0])
                bad(
                    f"line {lines[j]}: given at row {cell // 9 + 1}, column {cell % 9 + 1} "
                    "disagrees with the answer"
                )
    puzzles = make_puzzle_set(
        q_grid[keep].astype(np.int64),
        a_grid[keep].astype(np.int64),
        name=f"sudoku-{path.stem}",
        rating=np.asarray(ratings, dtype=np.float64)[keep] if ratings else np.zeros(0),
        line=np.asarray(lines, dtype=np.int64)[keep] if lines else np.zeros(0, dtype=np.int64),
    )
    if multiple_solutions == "reject":
        puzzles = drop_multiple_solutions(puzzles, path, strict, report)
    report.loaded = len(puzzles)
    report.warn(str(path))
    return puzzles, report


def drop_multiple_solutions(puzzles: PuzzleSet, path: str | Path, strict: bool = False,
                            report: LoadReport | None = None) -> PuzzleSet:
    """The puzzles whose question has exactly one solution (the uniqueness rule). A dropped one is
    listed in ``report`` by its CSV line (``extras["line"]``); with ``strict`` it raises."""
    unique = np.array([count_solutions((q.astype(np.int64) - 1).tolist(), limit=2) == 1 for q in puzzles.inputs],
                      dtype=bool)
    lines = puzzles.extras.get("line", np.arange(1, len(puzzles) + 1))
    for j in np.flatnonzero(~unique):
        message = (f"{path}: line {int(lines[j])}: the question has more than one solution "
                   "(multiple_solutions=keep scores such puzzles by the rules)")
        if strict:
            raise SudokuFormatError(message)
        if report is not None:
            report.errors.append(message)
    return puzzles if unique.all() else puzzles.subset(np.flatnonzero(unique))


def write_csv(puzzles: PuzzleSet, path: str | Path, source: str = "dis-rl-generator") -> Path:
    """Write `puzzles` in the Sudoku-Extreme layout that `load_csv` reads (``.`` for blanks; the
    rating column from ``extras["rating"]`` when present)."""
    path = Path(path)
    ratings = puzzles.extras.get("rating", np.full(len(puzzles), -1.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "question", "answer", "rating"])
        for q, a, r in zip(puzzles.inputs.astype(int) - 1, puzzles.labels.astype(int) - 1, ratings):
            writer.writerow([source, "".join(str(v) if v else "." for v in q), "".join(map(str, a)),
                             int(r) if r >= 0 else ""])
    return path
