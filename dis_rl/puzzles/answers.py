"""Answer sets: every valid answer of each puzzle, and the one answer nearest to a prediction.

A puzzle can have several correct answers (most N-Queens boards with few given queens; Sudoku rows
kept under ``data.multiple_solutions: keep``). Training towards the one stored label then asks the
model for an arbitrary choice it cannot make from the input, and it averages the completions it
cannot tell apart. This module is the one home of "which answers are valid" and "which valid answer
is nearest to this prediction"; the trainer's answer targets (``train.answer_target``), the
evaluation's table by number of answers and the envs' distances all read it.

Each domain lists its answers in a fixed order that depends on the puzzle alone, never on which
answer was stored (so ``canonical``, the first, is a function of the input):

- N-Queens: every completion of the given queens among the 92 solutions, lexicographic.
- Sudoku: the solutions the solver finds, in its search order, at most `SUDOKU_ANSWER_CAP`
  (a puzzle with more is counted as having the cap; the stored label is added if the cap cut it off).
- ARC (and any domain without an ``answers`` method): the stored label alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dis_rl.puzzles.base import PAD, Domain

SUDOKU_ANSWER_CAP = 16  # solutions the Sudoku solver enumerates per puzzle (more are not searched for)
ANSWER_TARGETS = ("label", "nearest", "canonical")  # train.answer_target (docs/TARGETS.md)
# Bands of the number of valid answers, for the evaluation's table (lower, upper bound, name).
BANDS = ((1, 1, "1"), (2, 3, "2-3"), (4, 10, "4-10"), (11, None, "11+"))


@dataclass(frozen=True)
class AnswerSets:
    """The valid answers of N puzzles: ``boards [N, K, L]`` (uint8; each puzzle's list padded to K by
    repeating its first answer, so a minimum over K is unaffected) and ``counts [N]``, how many are
    distinct. A board's PAD cells are not scored (ARC's outside of the output grid)."""

    boards: np.ndarray
    counts: np.ndarray

    def distances(self, preds: np.ndarray) -> np.ndarray:
        """``[N, K]``: Hamming distance of each prediction to each answer, over the answer's scored cells."""
        preds = np.atleast_2d(preds)
        return ((self.boards != preds[:, None]) & (self.boards != PAD)).sum(axis=2)

    def nearest(self, preds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(answers [N, L], distance [N])``: the valid answer nearest to each prediction (ties:
        the first in the domain's order) and its distance."""
        dist = self.distances(preds)
        pick = dist.argmin(axis=1)
        rows = np.arange(len(pick))
        return self.boards[rows, pick], dist[rows, pick]

    def canonical(self) -> np.ndarray:
        """``[N, L]``: each puzzle's first answer in the domain's fixed order."""
        return self.boards[:, 0]

    @property
    def multiple(self) -> np.ndarray:
        """``[N]`` bool: puzzles with more than one valid answer."""
        return self.counts > 1


def answer_sets(domain: Domain, inputs: np.ndarray, labels: np.ndarray, unique: bool = False) -> AnswerSets:
    """Every valid answer of each puzzle (see the module docstring for each domain's order).

    ``unique``: the caller knows every puzzle has one answer (ARC; Sudoku loaded under the uniqueness
    rule), so the stored labels are the answer sets and no solver runs."""
    inputs, labels = np.atleast_2d(inputs), np.atleast_2d(labels)
    lister = getattr(domain, "answers", None)
    if unique or lister is None:
        return AnswerSets(np.asarray(labels, dtype=np.uint8)[:, None], np.ones(len(labels), dtype=np.int64))
    boards, counts = lister(inputs, labels)
    return AnswerSets(boards, counts)


def choose_answers(kind: str, sets: AnswerSets, labels: np.ndarray, preds: np.ndarray | None = None) -> np.ndarray:
    """The training target of each puzzle under ``train.answer_target`` ``kind``: the stored
    ``label``; the ``canonical`` answer; or the answer ``nearest`` to the model's own prediction
    ``preds`` (puzzles with one answer keep their label)."""
    if kind == "label":
        return labels
    if kind == "canonical":
        return np.where(sets.multiple[:, None], sets.canonical(), labels)
    if kind == "nearest":
        if preds is None:
            raise ValueError("answer_target nearest needs the model's predictions")
        return np.where(sets.multiple[:, None], sets.nearest(preds)[0], labels)
    raise ValueError(f"unknown answer target {kind!r}; expected one of {ANSWER_TARGETS}")


def band_of(counts: np.ndarray) -> np.ndarray:
    """``[N]`` the name of each count's band (`BANDS`)."""
    counts = np.asarray(counts)
    names = np.empty(len(counts), dtype=object)
    for low, high, name in BANDS:
        names[(counts >= low) & ((counts <= high) if high is not None else True)] = name
    return names


def valid_by_band(counts: np.ndarray, valid: np.ndarray) -> list[tuple[str, int, float]]:
    """``(band, puzzles, valid share)`` for every band that holds a puzzle, plus ``several``, every
    puzzle with more than one answer together (the number the answer-set targets move)."""
    counts, valid = np.asarray(counts), np.asarray(valid, dtype=bool)
    names = band_of(counts)
    rows = [(name, int((names == name).sum()), float(valid[names == name].mean()))
            for _, _, name in BANDS if (names == name).any()]
    several = counts > 1
    if several.any():
        rows.append(("several", int(several.sum()), float(valid[several].mean())))
    return rows
