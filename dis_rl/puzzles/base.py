"""Puzzle sets as plain arrays, and the `Domain` protocol every puzzle family implements.

A puzzle set is what supervised training, evaluation and the Gymnasium envs all read:
``inputs [N, L]``, ``labels [N, L]`` and ``puzzle_ids [N]`` (integer tokens), plus metadata.
Token 0 is padding in every domain; labels equal to ``PAD`` are not scored by losses or metrics.

Cropped examples (ARC's ``data.canvas: cropped``) are runs of a model on a window of the grid: the
tokens of the window's cells plus ``cells``, their indices in the full grid (`window_cells`);
predictions go back to the full grid with `uncrop` (PAD outside the window) to be scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

PAD = 0


@dataclass(frozen=True)
class PuzzleSet:
    """A split of one puzzle domain as token arrays.

    ``extras`` holds optional per-example arrays with leading dimension N (for ARC the
    demonstration pairs); ``num_puzzle_ids`` sizes the puzzle-embedding table (id 0 is blank).
    """

    domain: str
    inputs: np.ndarray
    labels: np.ndarray
    puzzle_ids: np.ndarray
    vocab_size: int
    grid_shape: tuple[int, int]
    num_puzzle_ids: int = 1
    name: str = ""
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, length = self.inputs.shape
        assert self.labels.shape == (n, length), (self.labels.shape, self.inputs.shape)
        assert self.puzzle_ids.shape == (n,)
        assert length == self.grid_shape[0] * self.grid_shape[1]
        for key, value in self.extras.items():
            assert len(value) == n, f"extras[{key!r}] has {len(value)} rows, expected {n}"

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def seq_len(self) -> int:
        return self.inputs.shape[1]

    def get(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Fresh copies of the rows ``indices`` (``inputs``, ``labels``, ``puzzle_ids``)."""
        indices = np.asarray(indices)
        return {
            "inputs": self.inputs[indices].astype(np.int64),
            "labels": self.labels[indices].astype(np.int64),
            "puzzle_ids": self.puzzle_ids[indices].astype(np.int64),
        }

    def subset(self, indices: np.ndarray, name: str | None = None) -> PuzzleSet:
        indices = np.asarray(indices)
        return PuzzleSet(
            domain=self.domain,
            inputs=self.inputs[indices],
            labels=self.labels[indices],
            puzzle_ids=self.puzzle_ids[indices],
            vocab_size=self.vocab_size,
            grid_shape=self.grid_shape,
            num_puzzle_ids=self.num_puzzle_ids,
            name=self.name if name is None else name,
            extras={k: v[indices] for k, v in self.extras.items()},
        )


def window_cells(side: int, grid_width: int, origin: np.ndarray | None = None) -> np.ndarray:
    """Cell indices (row-major, in a grid ``grid_width`` wide) of the ``side x side`` window at
    ``origin`` (``[B, 2]`` rows/columns: ``[B, side*side]``; None: the top-left window, ``[side*side]``)."""
    r, c = np.divmod(np.arange(side * side), side)
    local = r * grid_width + c
    if origin is None:
        return local
    origin = np.asarray(origin, dtype=np.int64)
    return local[None] + (origin[:, 0] * grid_width + origin[:, 1])[:, None]


def uncrop(tokens: np.ndarray, cells: np.ndarray, length: int) -> np.ndarray:
    """Tokens ``[B, L']`` of cropped sequences put back at their ``cells`` of full ``[B, length]``
    sequences, PAD elsewhere."""
    tokens = np.asarray(tokens)
    out = np.full((len(tokens), length), PAD, dtype=tokens.dtype)
    np.put_along_axis(out, np.broadcast_to(cells, tokens.shape), tokens, axis=1)
    return out


def windowed_batches(puzzles: PuzzleSet, batch_size: int):
    """``(indices, side)`` batches of a puzzle set: with ``extras["window"]`` (the side of the
    square top-left window each example is run on; cropped ARC) every batch has one side, else
    ``side`` is None (the whole grid)."""
    windows = puzzles.extras.get("window")
    if windows is None:
        for start in range(0, len(puzzles), batch_size):
            yield np.arange(start, min(start + batch_size, len(puzzles))), None
        return
    for side in np.unique(windows):
        rows = np.flatnonzero(windows == side)
        for start in range(0, len(rows), batch_size):
            yield rows[start : start + batch_size], int(side)


@runtime_checkable
class Domain(Protocol):
    """Domain knowledge of one puzzle family. All array arguments are token arrays ``[N, L]``."""

    name: str
    vocab_size: int
    grid_shape: tuple[int, int]

    def verify(self, inputs: np.ndarray, preds: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Boolean ``[N]``: is each prediction a correct solution of its puzzle?"""
        ...

    def distance(self, inputs: np.ndarray, answers: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Integer ``[N]``: Hamming distance to the nearest correct solution (scored cells only)."""
        ...

    def scored_cells(self, labels: np.ndarray) -> np.ndarray:
        """Integer ``[N]``: how many cells of each example count (the reward normaliser)."""
        ...

    def render_text(self, tokens: np.ndarray) -> str:
        """One example ``[L]`` as a human-readable string."""
        ...

    def render_rgb(self, tokens: np.ndarray) -> np.ndarray:
        """One example ``[L]`` as an ``[H, W, 3]`` uint8 image."""
        ...


@runtime_checkable
class ExampleSource(Protocol):
    """What the trainer reads: a fixed number of examples, each computed from its index alone
    (so augmentation can happen on the fly and a run resumes at any data position).

    `PuzzleSet` is one; augmented sources (ARC, Sudoku) map an index to (example, augmentation).
    """

    domain: str
    vocab_size: int
    grid_shape: tuple[int, int]
    num_puzzle_ids: int

    def __len__(self) -> int: ...

    def get(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """``inputs [B, L]``, ``labels [B, L]``, ``puzzle_ids [B]`` as int64 arrays; sources of
        cropped examples add ``cells [B, L']`` (where each token sits in the full grid) and
        provide ``bucket_keys()`` (one shape key per index; a batch must share one key)."""
        ...
