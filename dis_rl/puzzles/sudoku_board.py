"""9x9 Sudoku boards as dis-rl tokens, shared by the CSV reader, the generator, the augmentation and
the domain: ``0`` PAD (unused on a full board), ``1`` blank, digit ``d`` -> ``d + 1`` (vocab 11,
length 81, row-major)."""

from __future__ import annotations

import numpy as np

from dis_rl.puzzles.base import PuzzleSet
from dis_rl.puzzles.sudoku_solver import UNITS, deduction_order

SIZE = 9
SEQ_LEN = SIZE * SIZE
BLANK = 1
VOCAB_SIZE = 11
_UNITS = np.array(UNITS, dtype=np.int64)  # [27, 9] cell indices
_DIGITS = np.arange(1, 10)


def unit_counts(grids: np.ndarray) -> np.ndarray:
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
