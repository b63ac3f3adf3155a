"""9x9 Sudoku: the domain (verifier, distance, answers, rendering); and, as one import path, the
names of its other modules: `sudoku_board` (tokens, `make_puzzle_set`, `solver_order`), `sudoku_csv`
(the Sudoku-Extreme CSV loader and writer), `sudoku_generate` (the hard-puzzle generator) and
`sudoku_augment` (on-the-fly symmetries).

Tokens: ``0`` PAD (unused on a full board), ``1`` blank, digit ``d`` -> ``d + 1`` (vocab 11,
length 81, row-major). Labels are the unique solution. CSV layout (Sudoku-Extreme):
``source,question,answer,rating`` with ``.`` (or ``0``) for blanks in ``question``.

The uniqueness rule: a puzzle is loaded only if its question has exactly one solution
(``multiple_solutions="reject"``, the default; a question without givens is always refused).
``multiple_solutions="keep"`` keeps the others: they are scored by the rules (any valid completion
keeping the givens is solved, at distance 0), so the verifier and the distance never disagree.
"""

from __future__ import annotations

import numpy as np

from dis_rl.puzzles.answers import SUDOKU_ANSWER_CAP
from dis_rl.puzzles.base import PAD
from dis_rl.puzzles.render import draw_digits

# One import path for every Sudoku name (`from dis_rl.puzzles.sudoku import load_csv, generate, ...`).
from dis_rl.puzzles.sudoku_augment import (  # noqa: F401
    SudokuAugmentedSource,
    augment_tokens,
    symmetry_maps,
    symmetry_views,
    unaugment_tokens,
)
from dis_rl.puzzles.sudoku_board import (  # noqa: F401
    BLANK,
    SEQ_LEN,
    SIZE,
    VOCAB_SIZE,
    make_puzzle_set,
    solver_order,
    unit_counts,
)
from dis_rl.puzzles.sudoku_csv import (  # noqa: F401
    MULTIPLE_SOLUTIONS,
    SudokuFormatError,
    drop_multiple_solutions,
    load_csv,
    write_csv,
)
from dis_rl.puzzles.sudoku_generate import (  # noqa: F401
    GenerateReport,
    generate,
    generate_with_report,
    harden,
    histogram,
    minimal_puzzle,
    minimise,
    puzzle_rating,
    random_solution,
)
from dis_rl.puzzles.sudoku_solver import is_valid_solution, solve


class SudokuDomain:
    """9x9 Sudoku: a prediction is correct if it is a valid completed grid keeping the givens."""

    name = "sudoku"
    vocab_size = VOCAB_SIZE
    grid_shape = (SIZE, SIZE)

    def verify(self, inputs: np.ndarray, preds: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        inputs, preds = np.atleast_2d(inputs).astype(np.int64), np.atleast_2d(preds).astype(np.int64)
        valid = (unit_counts(preds - 1) == 1).all(axis=(1, 2))
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
