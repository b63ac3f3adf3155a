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
