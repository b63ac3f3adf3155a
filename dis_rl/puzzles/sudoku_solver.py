"""A small, fast 9x9 Sudoku solver: bitmask candidates, constraint propagation, MRV backtracking.

Grids are sequences of 81 ints, row-major, 0 = blank, 1-9 = digit. Each cell holds a 9-bit
candidate mask; propagation applies naked singles (a solved cell leaves its peers' masks) and,
optionally, hidden singles (a digit with one place left in a unit goes there). Search branches on
the cell with the fewest candidates. ``dead_ends`` counts branches that ran into a contradiction:
it is the effort measure used to rate puzzles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ALL = 0x1FF
ROWS = [[r * 9 + c for c in range(9)] for r in range(9)]
COLS = [[r * 9 + c for r in range(9)] for c in range(9)]
BOXES = [[(br + r) * 9 + bc + c for r in range(3) for c in range(3)] for br in (0, 3, 6) for bc in (0, 3, 6)]
UNITS = ROWS + COLS + BOXES
PEERS = [tuple(sorted({p for u in UNITS if i in u for p in u} - {i})) for i in range(81)]
POPCOUNT = [bin(m).count("1") for m in range(ALL + 1)]
DIGIT_OF = {1 << (d - 1): d for d in range(1, 10)}


@dataclass
class SolveStats:
    dead_ends: int = 0
    nodes: int = 0


def _propagate(cand: list[int], queue: list[int], hidden: bool) -> bool:
    """Apply singles in place; False on a contradiction."""
    while True:
        while queue:
            i = queue.pop()
            bit = cand[i]
            for p in PEERS[i]:
                m = cand[p]
                if m & bit:
                    m &= ~bit
                    if not m:
                        return False
                    cand[p] = m
                    if not m & (m - 1):
                        queue.append(p)
        if not hidden:
            return True
        for unit in UNITS:
            once = twice = 0
            for i in unit:
                m = cand[i]
                twice |= once & m
                once |= m
            if once != ALL:
                return False
            lone = once & ~twice
            while lone:
                bit = lone & -lone
                lone ^= bit
                for i in unit:
                    if cand[i] & bit:
                        if cand[i] != bit:
                            cand[i] = bit
                            queue.append(i)
                        break
        if not queue:
            return True


def candidates_of(grid: Sequence[int]) -> list[int] | None:
    """Initial masks of a grid (givens fixed, blanks open); None if two givens clash."""
    cand = [ALL if v == 0 else 1 << (v - 1) for v in grid]
    for i, v in enumerate(grid):
        if v and any(grid[p] == v for p in PEERS[i]):
            return None
    return cand


def search(
    cand: list[int], limit: int = 2, hidden: bool = True, stats: SolveStats | None = None
) -> list[list[int]]:
    """Up to `limit` solutions (as digit lists) of the candidate masks `cand` (not modified)."""
    stats = stats if stats is not None else SolveStats()
    solutions: list[list[int]] = []
    stack = [(list(cand), [i for i in range(81) if not cand[i] & (cand[i] - 1)])]
    while stack:
        c, queue = stack.pop()
        stats.nodes += 1
        if not _propagate(c, queue, hidden):
            stats.dead_ends += 1
            continue
        best, best_n = -1, 10
        for i in range(81):
            m = c[i]
            if m & (m - 1):
                n = POPCOUNT[m]
                if n < best_n:
                    best, best_n = i, n
                    if n == 2:
                        break
        if best < 0:
            solutions.append([DIGIT_OF[m] for m in c])
            if len(solutions) >= limit:
                break
            continue
        m = c[best]
        bits = []
        while m:
            bit = m & -m
            m ^= bit
            bits.append(bit)
        for bit in reversed(bits):  # lowest digit is tried first
            child = c.copy()
            child[best] = bit
            stack.append((child, [best]))
    return solutions


def solve(grid: Sequence[int], limit: int = 2, hidden: bool = True) -> tuple[list[list[int]], SolveStats]:
    """Solutions of `grid` (at most `limit`) and the search statistics."""
    stats = SolveStats()
    cand = candidates_of(grid)
    if cand is None:
        stats.dead_ends = 1
        return [], stats
    return search(cand, limit, hidden, stats), stats


def count_solutions(grid: Sequence[int], limit: int = 2) -> int:
    return len(solve(grid, limit)[0])


def rating(grid: Sequence[int]) -> int:
    """Effort to solve `grid`: dead ends of the naked-singles-only solver searching all solutions
    (so the number does not depend on where the solution sits in the search order)."""
    return solve(grid, limit=2, hidden=False)[1].dead_ends


def is_valid_solution(grid: Sequence[int]) -> bool:
    """Every row, column and box holds the digits 1-9 once."""
    if len(grid) != 81:
        return False
    digits = set(range(1, 10))
    return all({grid[i] for i in unit} == digits for unit in UNITS)


# --------------------------------------------------------------------------------------------
# Deduction order (the `solver` DIS targets)

BOX_OF = [next(b for b, box in enumerate(BOXES) if i in box) for i in range(81)]


@dataclass
class Deduction:
    """In which wave a logical solver fills each cell: ``waves[i]`` is -1 for a given, else the
    round (0, 1, ...) in which cell ``i`` was placed. One round places every naked single at once,
    or, when there is none, every hidden single; when neither exists, locked candidates (pointing
    and claiming) remove candidates, and when nothing helps the solver guesses: the open cell with
    the fewest candidates (lowest index on ties) takes the solution's digit as a round of its own.
    ``guesses`` counts those rounds; every cell placed from the first guess on needed one."""

    waves: list[int]
    guesses: int = 0
    first_guess_wave: int = -1  # the wave of the first guess (-1: solved by logic alone)


def _place(cand: list[int], cell: int, bit: int) -> None:
    cand[cell] = bit
    for p in PEERS[cell]:
        cand[p] &= ~bit


def _locked_candidates(cand: list[int], open_: list[bool]) -> bool:
    """Pointing (a box's digit confined to one row/column clears it from the rest of that line) and
    claiming (a line's digit confined to one box clears it from the rest of the box); True if any
    candidate was removed."""
    # Every elimination is found on the same snapshot, so the result does not depend on the order
    # of units or digits (and the deduction order commutes with the Sudoku symmetries).
    removals: list[tuple[int, int]] = []
    for u, unit in enumerate(UNITS):
        for d in range(9):
            bit = 1 << d
            cells = [i for i in unit if open_[i] and cand[i] & bit]
            if len(cells) < 2:
                continue
            if u >= 18:  # a box: confined to one row or one column?
                lines = {i // 9 for i in cells}, {i % 9 for i in cells}
                others = [ROWS[next(iter(lines[0]))] if len(lines[0]) == 1 else [],
                          COLS[next(iter(lines[1]))] if len(lines[1]) == 1 else []]
                targets = [i for line in others for i in line if BOX_OF[i] != u - 18]
            else:  # a row or column: confined to one box?
                boxes = {BOX_OF[i] for i in cells}
                targets = [i for i in BOXES[next(iter(boxes))] if i not in unit] if len(boxes) == 1 else []
            removals += [(i, bit) for i in targets if open_[i] and cand[i] & bit]
    for i, bit in removals:
        cand[i] &= ~bit
    return bool(removals)


def deduction_order(grid: Sequence[int], solution: Sequence[int]) -> Deduction:
    """The order in which a logical solver fills the blanks of `grid` toward `solution` (both 81
    digits, 0 = blank in `grid`); see `Deduction`. Raises ValueError if the givens contradict the
    solution (a deduced digit would differ from it)."""
    cand = candidates_of(grid)
    if cand is None or any(g and g != s for g, s in zip(grid, solution)):
        raise ValueError("the givens clash or disagree with the solution")
    open_ = [v == 0 for v in grid]
    for i, v in enumerate(grid):
        if v:
            _place(cand, i, cand[i])
    waves = [-1] * 81
    out = Deduction(waves)
    wave, remaining = 0, sum(open_)
    while remaining:
        placed = {i: cand[i] for i in range(81) if open_[i] and cand[i] and not cand[i] & (cand[i] - 1)}
        if not placed:
            for unit in UNITS:
                for d in range(9):
                    cells = [i for i in unit if open_[i] and cand[i] >> d & 1]
                    if len(cells) == 1:
                        placed.setdefault(cells[0], 1 << d)
        if not placed and _locked_candidates(cand, open_):
            continue
        if not placed:  # nothing logical left: guess the fewest-candidates cell, from the solution
            best = min((i for i in range(81) if open_[i]), key=lambda i: (POPCOUNT[cand[i]], i))
            placed = {best: 1 << (solution[best] - 1)}
            out.guesses += 1
            if out.first_guess_wave < 0:
                out.first_guess_wave = wave
        for i, bit in placed.items():
            if DIGIT_OF.get(bit) != solution[i]:
                raise ValueError(f"cell {i} deduces to {DIGIT_OF.get(bit)} but the solution holds {solution[i]}")
            _place(cand, i, bit)
            open_[i] = False
            waves[i] = wave
        remaining -= len(placed)
        wave += 1
    return out
