"""Solver orders for the ``solver`` DIS targets (the paper's "programmable edits").

A solver order ``[N, L]`` (int16) gives each cell the round in which a domain's solver fills it
on its way to the stored label (-1: a cell the solver does not fill, e.g. a given); the target
generator (`dis_rl.targets`, kind ``solver``) reveals cells round by round. The solvers are the
domains' own: Sudoku's logical solver (`sudoku_solver.deduction_order`: naked singles, hidden
singles, locked candidates, guesses last) and N-Queens' forced-placement propagation
(`nqueens.commit_order`). ARC has no solver, so it has no solver order.

`SolverOrderSource` wraps a training source so each batch also carries ``solve_order``; orders are
computed once per example (Sudoku: once per base puzzle, mapped through each augmentation).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dis_rl.puzzles import nqueens, sudoku
from dis_rl.puzzles.base import ExampleSource

SOLVERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "sudoku": sudoku.solver_order,
    "nqueens": nqueens.commit_order,
}


class NoSolverError(ValueError):
    """The domain has no solver, so ``train.targets: solver`` cannot build its targets."""


def solver_of(domain: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The solver-order function of ``domain``; `NoSolverError` for a domain without a solver (ARC)."""
    if domain not in SOLVERS:
        raise NoSolverError(
            f"train.targets 'solver' needs a solver for the {domain!r} domain, and there is none "
            f"(solvers exist for {sorted(SOLVERS)}); use train.targets path, mask or replace"
        )
    return SOLVERS[domain]


def solver_order(domain: str, inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Solver order ``[N, L]`` of token boards toward their labels."""
    return solver_of(domain)(inputs, labels)


class SolverOrderSource:
    """``source`` whose ``get`` also returns ``solve_order [B, L]`` (int64)."""

    def __init__(self, source: ExampleSource) -> None:
        self.solve = solver_of(source.domain)
        self.source = source
        self.domain, self.vocab_size = source.domain, source.vocab_size
        self.grid_shape, self.num_puzzle_ids = source.grid_shape, source.num_puzzle_ids
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.source)

    def orders(self, indices: np.ndarray, rows: dict[str, np.ndarray]) -> np.ndarray:
        if hasattr(self.source, "solver_order"):  # e.g. Sudoku: per base puzzle, through augmentations
            return self.source.solver_order(indices).astype(np.int64)
        keys = np.asarray(indices).tolist()
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        if missing:
            found = self.solve(rows["inputs"][missing], rows["labels"][missing])
            for i, order in zip(missing, found):
                self._cache[keys[i]] = order
        return np.stack([self._cache[k] for k in keys]).astype(np.int64)

    def get(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        rows = self.source.get(indices)
        return {**rows, "solve_order": self.orders(indices, rows)}
