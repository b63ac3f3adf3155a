"""Sudoku symmetries on the fly: validity-preserving maps (digit permutation, band and stack
permutations, rows and columns within them, transpose) drawn from counter-based random numbers, so
an example is a pure function of its index; the training source over them (`SudokuAugmentedSource`)
and the test-time views (`symmetry_views`, undone by `unaugment_tokens`)."""

from __future__ import annotations

import numpy as np

from dis_rl.puzzles.base import PAD, PuzzleSet
from dis_rl.puzzles.counter_random import counter_uniform
from dis_rl.puzzles.sudoku_board import BLANK, SEQ_LEN, SIZE, VOCAB_SIZE, solver_order


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
