"""The hard-Sudoku generator: random solved grids, minimal puzzles (clues removed while the solution
stays unique), an optional hill-climb toward a solver rating, over worker processes with a progress
bar; `GenerateReport` says what it made and how fast."""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from dis_rl.puzzles.base import PuzzleSet
from dis_rl.puzzles.sudoku_board import SEQ_LEN, make_puzzle_set
from dis_rl.puzzles.sudoku_solver import ALL, BOXES, search, solve


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
    from tqdm.auto import tqdm  # not at the top: the puzzle layer stays numpy-only (tests/test_layers.py)

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


def histogram(ratings: np.ndarray) -> dict[str, int]:
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
        rating_histogram=histogram(ratings),
        kept_histogram=histogram(kept),
    )
    puzzles = make_puzzle_set(
        questions, answers, name or f"sudoku-generated-{seed}", rating=kept.astype(float)
    )
    return puzzles, report


def generate(num: int, seed: int = 0, keep_fraction: float = 0.1, workers: int = 1, **difficulty) -> PuzzleSet:
    """`num` generated puzzles (see `generate_with_report`; `difficulty`: target_rating, harden_steps, blanks)."""
    return generate_with_report(num, seed, keep_fraction, workers, **difficulty)[0]
