"""9x9 Sudoku: the Sudoku-Extreme CSV loader, a hard-puzzle generator, on-the-fly augmentation,
the verifier and rendering.

Tokens: ``0`` PAD (unused on a full board), ``1`` blank, digit ``d`` -> ``d + 1`` (vocab 11,
length 81, row-major). Labels are the unique solution. CSV layout (Sudoku-Extreme):
``source,question,answer,rating`` with ``.`` (or ``0``) for blanks in ``question``.

The uniqueness rule: a puzzle is loaded only if its question has exactly one solution
(``multiple_solutions="reject"``, the default; a question without givens is always refused).
``multiple_solutions="keep"`` keeps the others: they are scored by the rules (any valid completion
keeping the givens is solved, at distance 0), so the verifier and the distance never disagree.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dis_rl.puzzles.answers import SUDOKU_ANSWER_CAP
from dis_rl.puzzles.base import PAD, PuzzleSet
from dis_rl.puzzles.counter_random import counter_uniform
from dis_rl.puzzles.load_report import LoadReport
from dis_rl.puzzles.render import draw_digits
from dis_rl.puzzles.sudoku_solver import (
    ALL,
    BOXES,
    UNITS,
    count_solutions,
    deduction_order,
    is_valid_solution,
    search,
    solve,
)

SIZE = 9
SEQ_LEN = SIZE * SIZE
BLANK = 1
VOCAB_SIZE = 11
_UNITS = np.array(UNITS, dtype=np.int64)  # [27, 9] cell indices
_DIGITS = np.arange(1, 10)


class SudokuFormatError(ValueError):
    """A bad CSV file or row; the message names the file and line."""


def _unit_counts(grids: np.ndarray) -> np.ndarray:
    """``[N, 27, 9]``: how often each digit 1-9 appears in each unit of digit grids ``[N, 81]``."""
    return (grids[:, _UNITS][..., None] == _DIGITS).sum(axis=2)


def make_puzzle_set(questions: np.ndarray, answers: np.ndarray, name: str, **extras: np.ndarray) -> PuzzleSet:
    """A `PuzzleSet` from digit grids ``[N, 81]`` (0 = blank in questions)."""
    return PuzzleSet(
        domain="sudoku",
        inputs=(questions + 1).astype(np.uint8),
        labels=(answers + 1).astype(np.uint8),
        puzzle_ids=np.zeros(len(questions), dtype=np.int64),
        vocab_size=VOCAB_SIZE,
        grid_shape=(SIZE, SIZE),
        num_puzzle_ids=1,
        name=name,
        extras=extras,
    )


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
        clash = (_unit_counts(q) > 1).any(axis=(1, 2))
        mismatch = ((q != 0) & (q != a)).any(axis=1)
        invalid = ~(_unit_counts(a) == 1).all(axis=(1, 2))
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


# --------------------------------------------------------------------------------------------
# Generator


def random_solution(rng: np.random.Generator) -> list[int]:
    """A random solved grid: the three independent diagonal boxes are shuffled, the rest solved."""
    grid = [0] * SEQ_LEN
    for box in (0, 4, 8):
        for cell, digit in zip(BOXES[box], rng.permutation(9) + 1):
            grid[cell] = int(digit)
    return solve(grid, limit=1)[0][0]


def minimise(
    puzzle: list[int], rng: np.random.Generator, solution: list[int] | None = None, blanks: int = SEQ_LEN
) -> list[int]:
    """Remove clues of `puzzle` in random order while its solution stays unique, until `blanks`
    cells are blank (default: until no clue can go, a minimal puzzle). Each removal is checked by
    searching for a solution that differs at the removed cell."""
    puzzle = list(puzzle)
    for i in rng.permutation(SEQ_LEN).tolist():
        if puzzle.count(0) >= blanks:
            break
        value = puzzle[i]
        if not value:
            continue
        puzzle[i] = 0
        cand = [ALL if v == 0 else 1 << (v - 1) for v in puzzle]
        cand[i] &= ~(1 << (value - 1))
        if search(cand, limit=1):
            puzzle[i] = value  # another solution appears: the clue is needed
    return puzzle


def minimal_puzzle(solution: list[int], rng: np.random.Generator) -> list[int]:
    """A random minimal puzzle of `solution` (clues removed in random order while unique)."""
    return minimise(solution, rng)


def puzzle_rating(puzzle: list[int]) -> int:
    """Solver effort: dead ends of the propagate-and-branch search over the whole tree."""
    return solve(puzzle, limit=2)[1].dead_ends


def harden(
    puzzle: list[int], solution: list[int], rng: np.random.Generator, target: int, steps: int
) -> tuple[list[int], int, int]:
    """Hill-climb `puzzle` toward `puzzle_rating` >= `target`: each step puts back two clues of
    `solution` at random blanks and re-minimises in a new random order (a step through the space of
    removal orders that stays unique and minimal); the result is kept when its rating does not fall.
    Returns the puzzle, its rating and the steps taken (at most `steps`)."""
    rating = puzzle_rating(puzzle)
    taken = 0
    while rating < target and taken < steps:
        taken += 1
        trial = list(puzzle)
        for i in rng.choice([i for i in range(SEQ_LEN) if not trial[i]], size=2, replace=False).tolist():
            trial[i] = solution[i]
        trial = minimise(trial, rng)
        trial_rating = puzzle_rating(trial)
        if trial_rating >= rating:
            puzzle, rating = trial, trial_rating
    return puzzle, rating, taken


def _candidate(args: tuple[int, int, int]) -> tuple[list[int], list[int], int]:
    seed, index, blanks = args
    rng = np.random.default_rng([seed, index])
    solution = random_solution(rng)
    puzzle = minimise(solution, rng, blanks=blanks) if blanks else minimal_puzzle(solution, rng)
    return puzzle, solution, puzzle_rating(puzzle)


def _hardened(args: tuple[int, int, list[int], list[int], int, int]) -> tuple[list[int], list[int], int]:
    seed, index, puzzle, solution, target, steps = args
    puzzle, rating, _ = harden(puzzle, solution, np.random.default_rng([seed, index, 1]), target, steps)
    return puzzle, solution, rating


def _map(fn, jobs: list, workers: int, desc: str = "", progress: bool = False) -> list:
    """``[fn(job) for job in jobs]``, in order, over ``workers`` processes; a bar when ``progress``
    (a hill-climb to a high rating takes seconds per puzzle)."""
    import multiprocessing as mp
    from contextlib import nullcontext

    from tqdm.auto import tqdm

    out = []
    pool = mp.get_context("fork").Pool(workers) if workers > 1 else nullcontext()
    with pool, tqdm(total=len(jobs), desc=desc, unit="puzzle", disable=not progress, dynamic_ncols=True) as bar:
        chunk = max(1, min(16, len(jobs) // (4 * workers)))
        for result in pool.imap(fn, jobs, chunksize=chunk) if workers > 1 else map(fn, jobs):
            out.append(result)
            bar.update()
    return out


@dataclass
class GenerateReport:
    candidates: int
    kept: int
    seconds: float
    min_kept_rating: int
    rating_histogram: dict[str, int]  # over all candidates
    kept_histogram: dict[str, int]

    @property
    def candidates_per_second(self) -> float:
        return self.candidates / max(self.seconds, 1e-9)

    def __str__(self) -> str:
        return (
            f"{self.kept} puzzles kept of {self.candidates} generated in {self.seconds:.1f} s "
            f"({self.candidates_per_second:.1f} candidates/s); kept ratings >= {self.min_kept_rating}\n"
            f"  all candidates: {self.rating_histogram}\n  kept: {self.kept_histogram}"
        )


def _histogram(ratings: np.ndarray) -> dict[str, int]:
    edges = [0, 1, 2, 4, 8, 16, 32, 64, 128]
    out = {}
    for lo, hi in zip(edges, edges[1:] + [None]):
        n = int(((ratings >= lo) & (ratings < hi)).sum()) if hi else int((ratings >= lo).sum())
        label = (f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}") if hi else f"{lo}+"
        if n:
            out[label] = n
    return out


def generate_with_report(
    num: int, seed: int = 0, keep_fraction: float = 0.1, workers: int = 1, name: str | None = None,
    target_rating: int = 0, harden_steps: int = 100, blanks: int = 0, progress: bool = False,
) -> tuple[PuzzleSet, GenerateReport]:
    """`num` puzzles with unique solutions: ``ceil(num / keep_fraction)`` random candidates are
    generated and the `num` hardest kept (ties: generation order). A candidate is a random minimal
    puzzle, or with `blanks` an easy puzzle with that many blanks (clues removed in random order
    while unique). With `target_rating` each kept puzzle is then hill-climbed (`harden`, at most
    `harden_steps` steps) toward that rating (the report's ``rating_histogram`` is the candidates'
    before the climb, ``kept_histogram`` the final one). Candidate ``i`` depends only on
    ``(seed, i)``, so the result does not depend on `workers`. ``extras["rating"]`` holds each
    puzzle's solver effort."""
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    if target_rating < 0 or harden_steps < 1 or not 0 <= blanks <= 64:
        raise ValueError(f"need target_rating >= 0, harden_steps >= 1 and 0 <= blanks <= 64, got "
                         f"{target_rating}, {harden_steps}, {blanks}")
    total = math.ceil(num / keep_fraction)
    start = time.perf_counter()
    results = _map(_candidate, [(seed, i, blanks) for i in range(total)], workers, "sudoku candidates", progress)
    ratings = np.array([r for _, _, r in results], dtype=np.int64)
    order = np.argsort(-ratings, kind="stable")[:num]
    order.sort()
    chosen = [results[i] for i in order]
    if target_rating:  # only the kept candidates climb: they start from the hardest ratings
        chosen = _map(_hardened, [(seed, int(i), p, sol, target_rating, harden_steps)
                                  for i, (p, sol, _) in zip(order, chosen)], workers,
                      f"sudoku hill-climb to {target_rating}", progress)
    seconds = time.perf_counter() - start
    questions = np.array([c[0] for c in chosen], dtype=np.int64).reshape(-1, SEQ_LEN)
    answers = np.array([c[1] for c in chosen], dtype=np.int64).reshape(-1, SEQ_LEN)
    kept = np.array([c[2] for c in chosen], dtype=np.int64)
    report = GenerateReport(
        candidates=total,
        kept=len(order),
        seconds=seconds,
        min_kept_rating=int(kept.min()) if len(kept) else 0,
        rating_histogram=_histogram(ratings),
        kept_histogram=_histogram(kept),
    )
    puzzles = make_puzzle_set(
        questions, answers, name or f"sudoku-generated-{seed}", rating=kept.astype(float)
    )
    return puzzles, report


def generate(num: int, seed: int = 0, keep_fraction: float = 0.1, workers: int = 1, **difficulty) -> PuzzleSet:
    """`num` generated puzzles (see `generate_with_report`; `difficulty`: target_rating, harden_steps, blanks)."""
    return generate_with_report(num, seed, keep_fraction, workers, **difficulty)[0]


def solver_order(inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``[N, 81]`` int16: the wave in which the logical solver fills each blank of token boards
    toward their labels (`sudoku_solver.deduction_order`; -1 for givens)."""
    inputs, labels = np.atleast_2d(inputs).astype(np.int64), np.atleast_2d(labels).astype(np.int64)
    out = np.empty(inputs.shape, dtype=np.int16)
    for i, (q, a) in enumerate(zip(inputs - 1, labels - 1)):  # tokens -> digits, blank -> 0
        try:
            out[i] = deduction_order(q.tolist(), a.tolist()).waves
        except ValueError as err:
            raise ValueError(f"Sudoku board {i}: no solver order toward its label ({err})") from None
    return out


# --------------------------------------------------------------------------------------------
# Augmentation on the fly


def _random_perms(u: np.ndarray) -> np.ndarray:
    """Permutations from uniform keys ``[..., n]`` (argsort of independent uniforms)."""
    return np.argsort(u, axis=-1)


def symmetry_maps(seed: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each key, a validity-preserving symmetry: cell gather map ``[B, 81]`` and digit map
    ``[B, 10]`` (0 fixed). Key 0 is the identity."""
    keys = np.asarray(keys, dtype=np.uint64)
    b = len(keys)
    u = counter_uniform(seed, keys[:, None], np.arange(9 + 3 + 9 + 3 + 9 + 1, dtype=np.uint64)[None])
    digit_perm = _random_perms(u[:, 0:9]) + 1
    bands = _random_perms(u[:, 9:12])
    rows_in = _random_perms(u[:, 12:21].reshape(b, 3, 3))
    stacks = _random_perms(u[:, 21:24])
    cols_in = _random_perms(u[:, 24:33].reshape(b, 3, 3))
    transpose = u[:, 33] < 0.5
    # New row i takes old row 3*band + offset, with the band and offset both shuffled.
    src_rows = (3 * bands[:, :, None] + np.take_along_axis(rows_in, bands[:, :, None], axis=1)).reshape(b, 9)
    src_cols = (3 * stacks[:, :, None] + np.take_along_axis(cols_in, stacks[:, :, None], axis=1)).reshape(
        b, 9
    )
    cells = src_rows[:, :, None] * 9 + src_cols[:, None, :]
    cells = np.where(transpose[:, None, None], cells.transpose(0, 2, 1), cells).reshape(b, SEQ_LEN)
    digits = np.concatenate([np.zeros((b, 1), dtype=np.int64), digit_perm], axis=1)
    identity = keys == 0
    cells[identity] = np.arange(SEQ_LEN)
    digits[identity] = np.arange(10)
    return cells, digits


def augment_tokens(tokens: np.ndarray, cells: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Apply symmetries to token boards ``[B, 81]`` (PAD and blank stay as they are)."""
    moved = np.take_along_axis(np.asarray(tokens, dtype=np.int64), cells, axis=1)
    lut = np.concatenate([np.array([[PAD, BLANK]] * len(digits)), digits[:, 1:] + 1], axis=1)
    return np.take_along_axis(lut, moved, axis=1)


def unaugment_tokens(tokens: np.ndarray, cells: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """The inverse of `augment_tokens`: boards seen through the symmetries ``(cells, digits)`` back
    in the original frame (a prediction on an augmented puzzle -> a prediction on the puzzle)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    inverse = np.zeros_like(digits)
    np.put_along_axis(inverse, digits, np.arange(digits.shape[1])[None].repeat(len(digits), 0), axis=1)
    lut = np.concatenate([np.array([[PAD, BLANK]] * len(digits)), inverse[:, 1:] + 1], axis=1)
    out = np.empty_like(tokens)
    np.put_along_axis(out, cells, np.take_along_axis(lut, tokens, axis=1), axis=1)
    return out


def symmetry_views(num_boards: int, views: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Test-time views: for view ``v`` of board ``i`` (row ``v * num_boards + i``) a symmetry
    ``(cells [views * num_boards, 81], digits)``; view 0 is the identity (plain decoding)."""
    v, i = np.divmod(np.arange(views * num_boards, dtype=np.int64), num_boards)
    keys = np.where(v == 0, 0, 1 + v * (1 << 32) + i).astype(np.uint64)
    return symmetry_maps(seed, keys)


class SudokuAugmentedSource:
    """`base` puzzles x (identity + `num_aug` random symmetries), computed from the index:
    index ``i`` -> puzzle ``i // (num_aug + 1)``, augmentation ``i % (num_aug + 1)`` (0 = identity).
    Symmetries: digit permutation, band/stack permutations, rows/columns within them, transpose."""

    domain = "sudoku"
    vocab_size = VOCAB_SIZE
    grid_shape = (SIZE, SIZE)

    def __init__(self, base: PuzzleSet, num_aug: int = 1000, seed: int = 0):
        self.base = base
        self.copies = num_aug + 1
        self.seed = seed
        self.num_puzzle_ids = base.num_puzzle_ids
        self._orders: dict[int, np.ndarray] = {}  # solver order of each base puzzle met so far

    def solver_order(self, indices: np.ndarray) -> np.ndarray:
        """`solver_order` of the examples ``indices``: computed once per base puzzle and carried
        through each copy's symmetry (the solver's rules commute with every Sudoku symmetry; only
        its tie-break among equally constrained guess cells follows the cell numbering)."""
        puzzle, cells, _ = self._maps(indices)
        missing = sorted(set(puzzle.tolist()) - set(self._orders))
        if missing:
            rows = self.base.get(np.array(missing))
            for p, order in zip(missing, solver_order(rows["inputs"], rows["labels"])):
                self._orders[p] = order
        base = np.stack([self._orders[p] for p in puzzle.tolist()])
        return np.take_along_axis(base, cells, axis=1)

    def __len__(self) -> int:
        return len(self.base) * self.copies

    def _maps(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Base puzzle, cell map and digit map of each example."""
        indices = np.asarray(indices, dtype=np.int64)
        puzzle, aug = np.divmod(indices, self.copies)
        # Key 0 = identity; other keys are unique per (puzzle, augmentation).
        keys = np.where(aug == 0, 0, indices + 1).astype(np.uint64)
        return (puzzle, *symmetry_maps(self.seed, keys))

    def get(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        puzzle, cells, digits = self._maps(indices)
        rows = self.base.get(puzzle)
        return {
            "inputs": augment_tokens(rows["inputs"], cells, digits),
            "labels": augment_tokens(rows["labels"], cells, digits),
            "puzzle_ids": rows["puzzle_ids"],
        }


# --------------------------------------------------------------------------------------------
# Domain


class SudokuDomain:
    """9x9 Sudoku: a prediction is correct if it is a valid completed grid keeping the givens."""

    name = "sudoku"
    vocab_size = VOCAB_SIZE
    grid_shape = (SIZE, SIZE)

    def verify(self, inputs: np.ndarray, preds: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        inputs, preds = np.atleast_2d(inputs).astype(np.int64), np.atleast_2d(preds).astype(np.int64)
        valid = (_unit_counts(preds - 1) == 1).all(axis=(1, 2))
        givens_kept = ((inputs <= BLANK) | (preds == inputs)).all(axis=1)
        return valid & givens_kept

    def distance(self, inputs: np.ndarray, answers: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """0 for an answer the verifier accepts, else the Hamming distance to the label on scored
        cells. For a unique puzzle (the loaders' rule) that is the distance to the solution; for a
        kept puzzle with several solutions it bounds the distance to the nearest one from above.
        Either way ``distance == 0`` exactly when the answer is solved."""
        answers, labels = np.atleast_2d(answers), np.atleast_2d(labels)
        hamming = ((answers != labels) & (labels != PAD)).sum(axis=1).astype(np.int64)
        return np.where(self.verify(inputs, answers), 0, np.maximum(hamming, 1))

    def answers(self, inputs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The solutions the solver finds for each puzzle, in its search order, at most
        `SUDOKU_ANSWER_CAP` (`dis_rl.puzzles.answers`): ``[N, K, 81]`` token boards padded by
        repeating the first, and ``[N]`` how many. A stored label the cap cut off replaces the last
        one found (so the label is always an answer); a puzzle the solver finds none for keeps its label."""
        inputs, labels = np.atleast_2d(inputs).astype(np.int64), np.atleast_2d(labels).astype(np.int64)
        found: list[list[list[int]]] = []
        for q, a in zip(inputs - 1, labels - 1):  # tokens -> digits, blank -> 0
            sols = solve(q.tolist(), limit=SUDOKU_ANSWER_CAP)[0] or [a.tolist()]
            if a.tolist() not in sols and is_valid_solution(a.tolist()):
                sols[-1] = a.tolist()
            found.append(sols)
        k = max(len(s) for s in found) if found else 1
        boards = np.empty((len(found), k, SEQ_LEN), dtype=np.uint8)
        for i, sols in enumerate(found):
            boards[i] = np.asarray(sols + [sols[0]] * (k - len(sols))) + 1
        return boards, np.array([len(s) for s in found], dtype=np.int64)

    def scored_cells(self, labels: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(labels) != PAD).sum(axis=1).astype(np.int64)

    def render_text(self, tokens: np.ndarray) -> str:
        board = np.asarray(tokens).reshape(SIZE, SIZE)
        lines = []
        for r in range(SIZE):
            if r in (3, 6):
                lines.append("------+-------+------")
            cells = [str(int(t) - 1) if 2 <= t <= 10 else "." if t == BLANK else "?" for t in board[r]]
            lines.append(" | ".join(" ".join(cells[c : c + 3]) for c in (0, 3, 6)))
        return "\n".join(lines)

    def render_rgb(self, tokens: np.ndarray, cell: int = 16) -> np.ndarray:
        """A paper-style board: digits drawn as numerals on white, blanks empty, thin lines between
        cells and thick ones between boxes."""
        board = np.asarray(tokens, dtype=np.int64).reshape(SIZE, SIZE)
        image = np.full((SIZE * cell, SIZE * cell, 3), 255, dtype=np.uint8)
        image[::cell, :] = image[:, ::cell] = 190
        draw_digits(image, np.where(board >= 2, board - 1, -1), cell)
        for k in (0, 3, 6, 9):
            at = min(k * cell, SIZE * cell - 1)
            image[max(at - 1, 0) : at + 1, :] = image[:, max(at - 1, 0) : at + 1] = 0
        return image


DOMAIN = SudokuDomain()
