"""ARC augmentation on the fly: plans of distinct augmentations per puzzle and the trainer's example
source over them (`ARCAugmentedSource`), which computes each batch's tokens from its indices.

An augmentation is a dihedral transform ``k`` (0-3: rotate by k*90 degrees counter-clockwise;
4-7: the same followed by a transpose) and a permutation of colours 1-9 (0 fixed). Each puzzle
gets the identity plus up to `num_aug` others, distinct by content (two augmentations that give
the same grids count once), and each (puzzle, augmentation) has its own puzzle-embedding id
(0 = blank). Training examples also get a random translation on the canvas. Only the plan
(``k`` and colour map per augmentation, ~11 bytes each) and the raw grids are stored; the token
arrays of a batch are computed from the example indices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dis_rl.puzzles.arc import CANVAS, COLOUR_OFFSET, EOS, SEQ_LEN, VOCAB_SIZE, ARCTask
from dis_rl.puzzles.base import PAD, window_cells
from dis_rl.puzzles.counter_random import counter_integers

NUM_DIHEDRAL = 8
DIHEDRAL_INVERSE = np.array([0, 3, 2, 1, 4, 5, 6, 7])
# How a transformed cell (a, b) finds its source cell, per k: whether source row/col read the
# other axis (a shape swap), and whether they are mirrored (h-1-. / w-1-.).
_SWAP = np.array([0, 1, 0, 1, 1, 0, 1, 0], dtype=bool)
_FLIP_ROW = np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=bool)
_FLIP_COL = np.array([0, 1, 1, 0, 0, 1, 1, 0], dtype=bool)


def dihedral(grid: np.ndarray, k: int) -> np.ndarray:
    """Dihedral transform `k` of one 2-D grid."""
    out = np.rot90(grid, k % 4)
    return np.ascontiguousarray(out.T if k >= 4 else out)


def apply_augmentation(grid: np.ndarray, k: int, colours: np.ndarray) -> np.ndarray:
    """``colours[dihedral(grid, k)]``: `colours` is a length-10 map with ``colours[0] == 0``."""
    return np.asarray(colours)[dihedral(np.asarray(grid), k)].astype(np.uint8)


def invert_augmentation(grid: np.ndarray, k: int, colours: np.ndarray) -> np.ndarray:
    """The exact inverse of `apply_augmentation`."""
    inverse = np.argsort(np.asarray(colours))
    return dihedral(inverse[np.asarray(grid)], int(DIHEDRAL_INVERSE[k])).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Plans


@dataclass(frozen=True)
class AugmentationPlan:
    """Augmentations of P puzzles: puzzle ``p`` owns rows ``start[p]:start[p+1]`` (row
    ``start[p]`` is the identity); row ``g`` has puzzle-embedding id ``g + 1``."""

    dihedral: np.ndarray  # [M] uint8
    colours: np.ndarray  # [M, 10] uint8, colours[:, 0] == 0
    start: np.ndarray  # [P + 1] int64

    @property
    def num_puzzle_ids(self) -> int:
        return len(self.dihedral) + 1

    def counts(self) -> np.ndarray:
        return np.diff(self.start)


def _task_grids(task: ARCTask) -> list[np.ndarray]:
    """The grids a model sees for a puzzle (test outputs are not part of its content)."""
    return [g for x, y in task.train for g in (x, y)] + [x for x, _ in task.test]


def _canonical(grids: list[np.ndarray]) -> tuple[bytes, np.ndarray]:
    """Content up to a colour permutation fixing 0, and the map canonical label -> colour."""
    flat = np.concatenate([g.ravel() for g in grids])
    seen = flat[flat != 0]
    _, first = np.unique(seen, return_index=True)
    order = seen[np.sort(first)]  # non-zero colours in order of first appearance
    relabel = np.zeros(10, dtype=np.uint8)
    relabel[order] = np.arange(1, len(order) + 1)
    shapes = np.array([g.shape for g in grids], dtype=np.int64)
    key = shapes.tobytes() + relabel[flat].tobytes()
    return key, np.concatenate([[0], order]).astype(np.int64)


def _puzzle_plan(task: ARCTask, num_aug: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    grids = _task_grids(task)
    groups: dict[bytes, int] = {}
    group_of = np.zeros(NUM_DIHEDRAL, dtype=np.int64)
    sigma = []
    for k in range(NUM_DIHEDRAL):
        key, to_colour = _canonical([dihedral(g, k) for g in grids])
        group_of[k] = groups.setdefault(key, len(groups))
        sigma.append(to_colour[1:])
    sigma_arr = np.stack(sigma)  # [8, u]: colour of each canonical label, per k
    used = sigma_arr.shape[1]
    possible = len(groups) * math.perm(9, used)
    target = min(num_aug + 1, possible)

    ks = np.zeros(1, dtype=np.int64)
    perms = np.arange(10, dtype=np.int64)[None]
    for _ in range(64):
        # Content of (k, perm) is fixed by the dihedral group and where perm sends the used colours.
        keys = np.concatenate(
            [group_of[ks][:, None], np.take_along_axis(perms, sigma_arr[ks], axis=1)], axis=1
        )
        _, first = np.unique(keys, axis=0, return_index=True)
        first.sort()
        if len(first) >= target:
            break
        draw = max(2 * target, 64)
        new_k = rng.integers(0, NUM_DIHEDRAL, size=draw)
        new_p = np.concatenate(
            [np.zeros((draw, 1), dtype=np.int64), rng.permuted(np.tile(np.arange(1, 10), (draw, 1)), axis=1)],
            axis=1,
        )
        ks = np.concatenate([ks[first], new_k])
        perms = np.concatenate([perms[first], new_p])
    keep = first[:target]
    return ks[keep].astype(np.uint8), perms[keep].astype(np.uint8)


def plan_augmentations(tasks: Sequence[ARCTask], num_aug: int = 1000, seed: int = 0) -> AugmentationPlan:
    """For each task the identity plus up to `num_aug` distinct random augmentations (fewer when
    the task has fewer distinct ones), seeded per (seed, task position)."""
    ks, cols, counts = [], [], []
    for p, task in enumerate(tasks):
        k, c = _puzzle_plan(task, num_aug, np.random.default_rng([seed, p]))
        ks.append(k)
        cols.append(c)
        counts.append(len(k))
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return AugmentationPlan(np.concatenate(ks), np.concatenate(cols), start)


# --------------------------------------------------------------------------------------------
# Example sources


_SRC_EOS, _SRC_PAD = SEQ_LEN, SEQ_LEN + 1  # codes in the gather tables beyond the 900 cells


@lru_cache(maxsize=1)
def _placement_tables() -> tuple[np.ndarray, np.ndarray]:
    """Gather tables, built once (~15 MB).

    ``maps[k, h, w]`` ``[900]``: for each cell of the canvas holding an ``h x w`` grid after
    dihedral ``k`` at offset (0, 0), the source cell in the grid stored top-left (``r*30 + c``),
    or `_SRC_EOS` / `_SRC_PAD`. ``shifts[r*30 + c]`` ``[900]``: the cell of the offset-0 canvas
    that lands on each cell when moved by ``(r, c)``, or 900 (PAD) where nothing lands.
    """
    k, h, w = np.meshgrid(
        np.arange(NUM_DIHEDRAL), np.arange(CANVAS + 1), np.arange(CANVAS + 1), indexing="ij"
    )
    k, h, w = k.ravel()[:, None, None], h.ravel()[:, None, None], w.ravel()[:, None, None]
    a = np.arange(CANVAS)[None, :, None]
    b = np.arange(CANVAS)[None, None, :]
    swap = _SWAP[k]
    out_h, out_w = np.where(swap, w, h), np.where(swap, h, w)
    inside = (a < out_h) & (b < out_w)
    src_r = np.where(swap, b, a)
    src_c = np.where(swap, a, b)
    src_r = np.where(_FLIP_ROW[k], h - 1 - src_r, src_r)
    src_c = np.where(_FLIP_COL[k], w - 1 - src_c, src_c)
    eos = ((a == out_h) & (b < out_w)) | ((b == out_w) & (a < out_h))
    maps = np.where(inside, src_r * CANVAS + src_c, np.where(eos, _SRC_EOS, _SRC_PAD))
    maps = maps.reshape(NUM_DIHEDRAL, CANVAS + 1, CANVAS + 1, SEQ_LEN).astype(np.int16)
    r, c = np.divmod(np.arange(SEQ_LEN), CANVAS)
    i, j = np.divmod(np.arange(SEQ_LEN), CANVAS)
    dr, dc = i[None] - r[:, None], j[None] - c[:, None]
    shifts = np.where((dr >= 0) & (dc >= 0), dr * CANVAS + dc, SEQ_LEN).astype(np.int16)
    return maps, shifts


def render_tokens(
    grids: np.ndarray, shapes: np.ndarray, k: np.ndarray, colours: np.ndarray, offset: np.ndarray
) -> np.ndarray:
    """Token canvases ``[B, 900]`` of grids stored top-left in ``grids [B, 30, 30]`` with sizes
    ``shapes [B, 2]`` (0x0 = absent: all PAD), after dihedral ``k [B]``, colour map
    ``colours [B, 10]`` and placement at ``offset [B, 2]``."""
    maps, shifts = _placement_tables()
    n = len(grids)
    rows = np.arange(n)[:, None]
    # Colour tokens of every stored cell, then the EOS and PAD codes as two extra columns.
    lut = colours.astype(np.uint8) + COLOUR_OFFSET
    cells = np.empty((n, SEQ_LEN + 2), dtype=np.uint8)
    cells[:, :SEQ_LEN] = lut[rows, grids.reshape(n, SEQ_LEN)]
    cells[:, _SRC_EOS], cells[:, _SRC_PAD] = EOS, PAD
    placed = np.empty((n, SEQ_LEN + 1), dtype=np.uint8)
    placed[:, :SEQ_LEN] = cells[rows, maps[k, shapes[:, 0], shapes[:, 1]]]
    placed[:, SEQ_LEN] = PAD
    if not offset.any():
        return placed[:, :SEQ_LEN].astype(np.int64)
    return placed[rows, shifts[offset[:, 0] * CANVAS + offset[:, 1]]].astype(np.int64)


class ARCAugmentedSource:
    """Examples of ARC puzzles x their planned augmentations, computed from the index.

    Puzzle ``p`` contributes ``examples(p) x augmentations(p)`` consecutive indices; within them
    index ``i`` is augmentation ``i // examples(p)`` of example ``i % examples(p)``. With
    `translate`, each example is placed at a random offset drawn from (seed, index): fixed for the
    run, as TRM's precomputed augmentations are (one translation per stored augmented example).
    """

    domain = "arc"
    vocab_size = VOCAB_SIZE
    grid_shape = (CANVAS, CANVAS)

    def __init__(
        self,
        tasks: Sequence[ARCTask],
        plan: AugmentationPlan,
        pairs: Sequence[Sequence[tuple[np.ndarray, np.ndarray | None]]],
        translate: bool = False,
        seed: int = 0,
        max_aug: int | None = None,
        sides: Sequence[int] | None = None,
    ):
        assert len(pairs) == len(tasks) == len(plan.start) - 1
        self.tasks = list(tasks)
        self.plan = plan
        self.translate = translate
        self.seed = seed
        self.num_puzzle_ids = plan.num_puzzle_ids
        grids, shapes, owner, test_index = [], [], [], []
        for p, task_pairs in enumerate(pairs):
            for j, (x, y) in enumerate(task_pairs):
                for g in (x, y):
                    canvas = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
                    if g is not None:
                        canvas[: g.shape[0], : g.shape[1]] = g
                    grids.append(canvas)
                    shapes.append((0, 0) if g is None else g.shape)
                owner.append(p)
                test_index.append(j)
        self._grids = (
            np.stack(grids).reshape(-1, 2, CANVAS, CANVAS) if grids else np.zeros((0, 2, CANVAS, CANVAS))
        )
        self._shapes = np.array(shapes, dtype=np.int64).reshape(-1, 2, 2)
        self.example_task = np.array(owner, dtype=np.int64)
        self.example_pair = np.array(test_index, dtype=np.int64)  # position within the task's list
        self._n_ex = np.array([len(ps) for ps in pairs], dtype=np.int64)
        self._ex_start = np.concatenate([[0], np.cumsum(self._n_ex)]).astype(np.int64)
        augs = plan.counts() if max_aug is None else np.minimum(plan.counts(), max_aug)
        self._n_aug = augs
        self._cum = np.concatenate([[0], np.cumsum(self._n_ex * augs)]).astype(np.int64)
        self.cropped = sides is not None
        self.example_side = np.full(len(owner), CANVAS, dtype=np.int64) if sides is None else np.asarray(
            sides, dtype=np.int64)
        assert self.example_side.shape == (len(owner),), (self.example_side.shape, len(owner))

    def __len__(self) -> int:
        return int(self._cum[-1])

    @property
    def num_examples(self) -> int:
        """Un-augmented examples."""
        return len(self.example_task)

    def locate(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each index: (example row, augmentation row of the plan, augmentation number)."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"indices out of range 0..{len(self) - 1}")
        p = np.searchsorted(self._cum, indices, side="right") - 1
        aug, ex = np.divmod(indices - self._cum[p], self._n_ex[p])
        return self._ex_start[p] + ex, self.plan.start[p] + aug, aug

    def unaugmented(self) -> np.ndarray:
        """Indices of every example under its puzzle's identity augmentation, in example order."""
        counts = self._n_ex
        puzzle = np.repeat(np.arange(len(counts)), counts)
        within = np.arange(counts.sum()) - np.repeat(self._ex_start[:-1], counts)
        return self._cum[puzzle] + within

    def bucket_keys(self) -> np.ndarray | None:
        """The crop side of every index (a batch must share one); None on the full canvas."""
        if not self.cropped:
            return None
        return self.example_side[self.locate(np.arange(len(self)))[0]]

    def batches(self, indices: np.ndarray, batch_size: int) -> list[np.ndarray]:
        """``indices`` in batches of at most `batch_size`, each of one crop side (plain chunks on the
        full canvas); in index order within a side."""
        indices = np.asarray(indices, dtype=np.int64)
        sides = self.example_side[self.locate(indices)[0]]
        groups = [indices[sides == side] for side in np.unique(sides)]
        return [g[start : start + batch_size] for g in groups for start in range(0, len(g), batch_size)]

    def get(self, indices: np.ndarray, crop: bool = True) -> dict[str, np.ndarray]:
        """Tokens of the examples at `indices`. On a cropped source (and unless ``crop=False``):
        the square window of each canvas that holds the example's grids (``side x side`` cells,
        one side per call), at the example's translation offset (shifted back inside the canvas
        near its edges), with ``cells``: where each window token sits on the 30x30 canvas."""
        indices = np.asarray(indices, dtype=np.int64)
        example, aug_row, _ = self.locate(indices)
        out, offset = self._render(indices, example, aug_row)
        if not (self.cropped and crop):
            return out
        sides = np.unique(self.example_side[example])
        if len(sides) > 1:
            raise ValueError(f"indices of one batch must share a crop side, got sides {sides.tolist()} "
                             "(group them by bucket_keys())")
        side = int(sides[0]) if len(sides) else CANVAS
        cells = window_cells(side, CANVAS, np.minimum(offset, CANVAS - side))
        return {"inputs": np.take_along_axis(out["inputs"], cells, axis=1),
                "labels": np.take_along_axis(out["labels"], cells, axis=1),
                "puzzle_ids": out["puzzle_ids"], "cells": cells}

    def _render(
        self, indices: np.ndarray, example: np.ndarray, aug_row: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Full-canvas tokens of the examples and their translation offsets ``[B, 2]``."""
        k = self.plan.dihedral[aug_row].astype(np.int64)
        colours = self.plan.colours[aug_row]
        shapes = self._shapes[example]  # [B, 2 (in/out), 2]
        offset = np.zeros((len(indices), 2), dtype=np.int64)
        if self.translate:
            swap = _SWAP[k][:, None]
            sizes = np.where(swap, shapes[:, :, ::-1].max(axis=1), shapes.max(axis=1))  # after k
            # The 0 is a fixed counter word: it keeps the offsets earlier runs drew.
            offset = counter_integers(self.seed, CANVAS - sizes + 1, indices[:, None], 0, np.arange(2))
        grids = self._grids[example]
        return {
            "inputs": render_tokens(grids[:, 0], shapes[:, 0], k, colours, offset),
            "labels": render_tokens(grids[:, 1], shapes[:, 1], k, colours, offset),
            "puzzle_ids": aug_row + 1,
        }, offset
