"""ARC tasks on the 30x30 canvas: tokenisation, the env-facing loader and the `ARCDomain` (verifier,
distance, rendering); the names of `arc_tasks` (loading and validating task files) keep their import
path here.

Tokens: ``0`` PAD, ``1`` EOS, colours 0-9 -> tokens 2-11 (vocab 12, length 900). A grid of
``h x w`` sits at an offset ``(r, c)`` shared by the input and output of a pair; an EOS row of
width ``w`` lies below it and an EOS column of height ``h`` right of it (either is left out when
it would fall off the canvas). Decoding crops at that border, so it is lossless.

Cropped canvas (``data.canvas: cropped``): an example is run on the square window of the canvas
that holds its grids and their border (`canvas_side`), with each token's canvas cell kept for the
model's positions; at test time, when the output's size is unknown, the window is sized by the
task's largest demonstration grid (or the test input, if larger).

Augmentation, the trainer's example sources and voting live in ``arc_augment`` and ``arc_vote``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from dis_rl.puzzles.arc_tasks import (  # noqa: F401  (re-exported: one import path for ARC)
    BUILTIN_SOURCES,
    CANVAS,
    KAGGLE_FILES,
    KAGGLE_HIDDEN,
    NUM_COLOURS,
    ARCFormatError,
    ARCTask,
    load_arc_dir,
    load_kaggle,
    load_kaggle_with_report,
    load_task_file,
    load_tasks,
    source_layout,
    source_title,
    task_files,
    validate_task,
)
from dis_rl.puzzles.base import PAD, PuzzleSet
from dis_rl.puzzles.render import ansi_block, colours_to_rgb

SEQ_LEN = CANVAS * CANVAS
EOS = 1
COLOUR_OFFSET = 2
VOCAB_SIZE = NUM_COLOURS + COLOUR_OFFSET


# --------------------------------------------------------------------------------------------
# Tokenisation


def encode_grid(grid: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """One grid as ``[900]`` uint8 tokens with its EOS border, placed at `offset`."""
    grid = np.asarray(grid)
    h, w = grid.shape
    r, c = offset
    assert 0 <= r and 0 <= c and r + h <= CANVAS and c + w <= CANVAS, (grid.shape, offset)
    canvas = np.full((CANVAS, CANVAS), PAD, dtype=np.uint8)
    canvas[r : r + h, c : c + w] = grid + COLOUR_OFFSET
    if r + h < CANVAS:
        canvas[r + h, c : c + w] = EOS
    if c + w < CANVAS:
        canvas[r : r + h, c + w] = EOS
    return canvas.reshape(SEQ_LEN)


def encode_pair(
    inp: np.ndarray, out: np.ndarray | None, offset: tuple[int, int] = (0, 0)
) -> tuple[np.ndarray, np.ndarray]:
    """Input and label tokens of a pair at a shared offset; a hidden output gives an all-PAD label."""
    label = np.zeros(SEQ_LEN, dtype=np.uint8) if out is None else encode_grid(out, offset)
    return encode_grid(inp, offset), label


def decode_grid(tokens: np.ndarray) -> np.ndarray | None:
    """The colour grid of a token canvas, cropped at the EOS border; ``None`` if there is none.

    The grid starts at the first colour cell (row-major). For model predictions that are not
    well formed, the largest rectangle of colour cells anchored there is taken.
    """
    canvas = np.asarray(tokens).reshape(CANVAS, CANVAS)
    colour = canvas >= COLOUR_OFFSET
    flat = np.flatnonzero(colour)
    if flat.size == 0:
        return None
    r0, c0 = divmod(int(flat[0]), CANVAS)
    block = colour[r0:, c0:]
    # Run length of colour cells from the anchor column, per row; the grid is the best rectangle.
    runs = np.where(block.all(axis=1), block.shape[1], np.argmin(block, axis=1))
    rows = int(np.argmin(runs > 0)) if (runs == 0).any() else len(runs)
    widths = np.minimum.accumulate(runs[:rows])
    areas = widths * np.arange(1, rows + 1)
    h = int(np.argmax(areas)) + 1
    w = int(widths[h - 1])
    return (canvas[r0 : r0 + h, c0 : c0 + w] - COLOUR_OFFSET).astype(np.uint8)


CANVAS_MODES = ("full", "cropped")


def canvas_side(shapes: Iterable[tuple[int, int]], step: int = 1) -> int:
    """Side of the square crop of the canvas that holds grids of these shapes with their EOS
    border: ``1 + max side``, rounded up to a multiple of `step` (fewer distinct shapes), at most
    the canvas. A square is the same under every dihedral augmentation."""
    largest = max((max(shape) for shape in shapes), default=CANVAS)
    side = -(-(largest + 1) // step) * step
    return min(CANVAS, side)


def fits_crop(shape: tuple[int, int], side: int) -> bool:
    """Does a grid of `shape` (with its EOS border) fit a crop of `side` at the crop's top-left?"""
    return side >= CANVAS or max(shape) + 1 <= side


def canvas_shapes(tokens: np.ndarray) -> np.ndarray:
    """``[..., 2]`` int64 (height, width) of grids encoded at offset (0, 0), from canvases
    ``[..., 900]`` (0 x 0 for an all-PAD canvas): the colour cells of the first column and row."""
    canvas = np.asarray(tokens).reshape(*np.shape(tokens)[:-1], CANVAS, CANVAS)
    heights = (canvas[..., :, 0] >= COLOUR_OFFSET).sum(axis=-1)
    widths = (canvas[..., 0, :] >= COLOUR_OFFSET).sum(axis=-1)
    return np.stack([heights, widths], axis=-1).astype(np.int64)


def grid_text(grid: np.ndarray | None) -> str:
    """A colour grid as rows of digits (``"0 7 7"``), for text interfaces and LLM prompts."""
    if grid is None:
        return "(no grid)"
    return "\n".join(" ".join(str(int(v)) for v in row) for row in np.asarray(grid))


# --------------------------------------------------------------------------------------------
# The env-facing loader


def load_arc_episodes(
    source: str | Path = "arc1", split: str = "train", include_hidden: bool = False, strict: bool = False
) -> PuzzleSet:
    """One example per test pair of the source's `split` tasks, no augmentation, offset (0, 0).

    ``extras``: ``demo_inputs`` / ``demo_outputs`` ``[N, K, 900]`` (the task's demonstration
    pairs, K = most demos of any task, padded with PAD), ``demo_count [N]``, ``task_index [N]``,
    ``test_index [N]`` and ``task_id [N]`` (strings). Puzzle id = 1 + task index (0 = blank).
    Hidden test pairs (no output) are left out unless `include_hidden` (their label is all PAD).
    """
    return episodes_from_tasks(
        load_tasks(source, split, strict=strict), include_hidden, name=f"arc-{Path(str(source)).name}-{split}"
    )


def episodes_from_tasks(tasks: list, include_hidden: bool = False, name: str = "arc") -> PuzzleSet:
    """`load_arc_episodes` of a list of already loaded tasks (`ARCTask`)."""
    rows: list[tuple[int, int]] = [
        (t, j)
        for t, task in enumerate(tasks)
        for j, (_, y) in enumerate(task.test)
        if include_hidden or y is not None
    ]
    n = len(rows)
    k = max((len(task.train) for task in tasks), default=1)
    inputs = np.zeros((n, SEQ_LEN), dtype=np.uint8)
    labels = np.zeros((n, SEQ_LEN), dtype=np.uint8)
    demo_in = np.zeros((n, k, SEQ_LEN), dtype=np.uint8)
    demo_out = np.zeros((n, k, SEQ_LEN), dtype=np.uint8)
    demo_count = np.zeros(n, dtype=np.int64)
    encoded_demos: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i, (t, j) in enumerate(rows):
        task = tasks[t]
        x, y = task.test[j]
        inputs[i], labels[i] = encode_pair(x, y)
        if t not in encoded_demos:
            pairs = [encode_pair(dx, dy) for dx, dy in task.train]
            encoded_demos[t] = (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
        d_in, d_out = encoded_demos[t]
        demo_in[i, : len(d_in)] = d_in
        demo_out[i, : len(d_out)] = d_out
        demo_count[i] = len(d_in)
    task_index = np.array([t for t, _ in rows], dtype=np.int64)
    return PuzzleSet(
        domain="arc",
        inputs=inputs,
        labels=labels,
        puzzle_ids=task_index + 1,
        vocab_size=VOCAB_SIZE,
        grid_shape=(CANVAS, CANVAS),
        num_puzzle_ids=len(tasks) + 1,
        name=name,
        extras={
            "demo_inputs": demo_in,
            "demo_outputs": demo_out,
            "demo_count": demo_count,
            "task_index": task_index,
            "test_index": np.array([j for _, j in rows], dtype=np.int64),
            "task_id": np.array([tasks[t].task_id for t, _ in rows], dtype=str),
        },
    )


# --------------------------------------------------------------------------------------------
# Domain


class ARCDomain:
    """ARC on the 30x30 token canvas: exact match to the label on scored (non-PAD) cells."""

    name = "arc"
    vocab_size = VOCAB_SIZE
    grid_shape = (CANVAS, CANVAS)

    def verify(self, inputs: np.ndarray, preds: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Exact match on the scored cells; a pair with none (a hidden test output) is never solved."""
        return (self.distance(inputs, preds, labels) == 0) & (self.scored_cells(labels) > 0)

    def distance(self, inputs: np.ndarray, answers: np.ndarray, labels: np.ndarray) -> np.ndarray:
        answers, labels = np.atleast_2d(answers), np.atleast_2d(labels)
        return ((answers != labels) & (labels != PAD)).sum(axis=1).astype(np.int64)

    def scored_cells(self, labels: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(labels) != PAD).sum(axis=1).astype(np.int64)

    def _colours(self, tokens: np.ndarray) -> np.ndarray:
        """Colours of the decoded grid, or of the whole canvas (-1 = PAD/EOS) if none decodes."""
        grid = decode_grid(tokens)
        if grid is not None:
            return grid.astype(np.int64)
        canvas = np.asarray(tokens).reshape(CANVAS, CANVAS).astype(np.int64)
        return np.where(canvas >= COLOUR_OFFSET, canvas - COLOUR_OFFSET, -1)

    def render_text(self, tokens: np.ndarray) -> str:
        colours = self._colours(tokens)
        return "\n".join("".join(ansi_block(int(v)) for v in row) for row in colours)

    def render_plain(self, tokens: np.ndarray) -> str:
        """Digits, no colour codes (the decoded grid; ``?`` for canvas cells that are not colours)."""
        grid = decode_grid(tokens)
        if grid is not None:
            return grid_text(grid)
        colours = self._colours(tokens)
        return "\n".join(" ".join("?" if v < 0 else str(v) for v in row) for row in colours)

    def render_rgb(self, tokens: np.ndarray, cell: int = 8) -> np.ndarray:
        return colours_to_rgb(self._colours(tokens), cell=cell)


DOMAIN = ARCDomain()


def grid_shapes(tasks: Sequence[ARCTask]) -> np.ndarray:
    """``[G, 2]`` shapes of every grid of the tasks (for statistics)."""
    return np.array([g.shape for task in tasks for g in task.grids()], dtype=np.int64).reshape(-1, 2)


def example_names(puzzles: PuzzleSet) -> np.ndarray:
    """``"<task id>/<test pair>"`` for every example of an ARC puzzle set: the ids the envs'
    ``reset(options={"puzzle": ...})`` and ``dis-rl show --puzzle`` accept."""
    return np.char.add(np.char.add(puzzles.extras["task_id"].astype(str), "/"),
                       puzzles.extras["test_index"].astype(str))
