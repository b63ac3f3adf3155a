"""ARC test-time voting, model-agnostic: run a predictor on every augmented copy of each test
input, decode, undo the augmentation, vote by identical grid (ties: higher mean confidence),
score pass@k and write ``submission.json`` in the ARC Prize format.

The model plugs in as ``predict_fn(inputs [B, 900] int64, puzzle_ids [B] int64) ->
(preds [B, 900] int64, confidence [B] float)``; on a cropped source (``data.canvas: cropped``) it
is called as ``predict_fn(inputs [B, L], puzzle_ids, cells [B, L])`` with the window's tokens and
their canvas cells, and returns ``preds [B, L]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dis_rl.puzzles.arc import SEQ_LEN, decode_grid
from dis_rl.puzzles.arc_source import ARCAugmentedSource, invert_augmentation
from dis_rl.puzzles.base import uncrop

PredictFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class Candidate:
    grid: np.ndarray
    votes: int
    confidence_sum: float

    @property
    def mean_confidence(self) -> float:
        return self.confidence_sum / self.votes


class Ballot:
    """Votes for one test input: identical grids pool their votes and confidences."""

    def __init__(self) -> None:
        self._candidates: dict[bytes, Candidate] = {}

    def add(self, grid: np.ndarray, confidence: float) -> None:
        key = bytes(grid.shape) + grid.tobytes()
        cand = self._candidates.get(key)
        if cand is None:
            self._candidates[key] = Candidate(grid, 1, float(confidence))
        else:
            cand.votes += 1
            cand.confidence_sum += float(confidence)

    def ranked(self) -> list[Candidate]:
        """Most votes first; ties broken by higher mean confidence, then by first seen."""
        return sorted(self._candidates.values(), key=lambda c: (-c.votes, -c.mean_confidence))


@dataclass
class VoteResult:
    pass_at: dict[int, float]  # k -> mean over scored tasks of the fraction of test pairs solved
    task_scores: dict[str, dict[int, float]]  # task id -> k -> fraction solved
    ranked: dict[str, list[list[Candidate]]]  # task id -> per test pair -> candidates, best first
    scored_tasks: int
    scored_pairs: int

    def __str__(self) -> str:
        scores = ", ".join(f"pass@{k} {100 * v:.2f}%" for k, v in sorted(self.pass_at.items()))
        return f"{scores} over {self.scored_tasks} tasks ({self.scored_pairs} test pairs)"


def check_max_aug(max_aug: int | None) -> None:
    """Refuse a ``max_aug`` that votes over nothing (the one check of eval --vote and sweep-w --max-aug)."""
    if max_aug is not None and (isinstance(max_aug, bool) or int(max_aug) != max_aug or max_aug < 1):
        raise ValueError(f"max_aug must be an integer >= 1 (augmentations voted per test pair) or None, "
                         f"got {max_aug!r}")


def evaluate_votes(
    source: ARCAugmentedSource,
    predict_fn: PredictFn,
    batch_size: int = 256,
    max_aug: int | None = None,
    ks: Sequence[int] = (1, 2),
    submission_path: str | Path | None = None,
    progress: bool = True,
) -> VoteResult:
    """Vote over the augmented copies of every test pair of `source` (the test split of
    `build_arc_splits`), using the first `max_aug` augmentations of each puzzle (all if None)."""
    indices = np.arange(len(source))
    if max_aug is not None:
        indices = indices[source.locate(indices)[2] < max_aug]
    ballots = [Ballot() for _ in range(source.num_examples)]
    bar = tqdm(total=len(indices), desc="vote", unit="ex", disable=not progress)
    # A cropped source's batches share a crop side; the predictor gets the window's canvas cells
    # and its answers go back to the canvas to be decoded.
    for batch in source.batches(indices, batch_size):
        data = source.get(batch)
        if "cells" in data:
            preds, confidence = predict_fn(data["inputs"], data["puzzle_ids"], data["cells"])
            preds = uncrop(np.asarray(preds), data["cells"], SEQ_LEN)
        else:
            preds, confidence = predict_fn(data["inputs"], data["puzzle_ids"])
        preds, confidence = np.asarray(preds), np.asarray(confidence, dtype=np.float64)
        example, aug_row, _ = source.locate(batch)
        for i in range(len(batch)):
            grid = decode_grid(preds[i])
            if grid is None:
                continue  # nothing decodable: no vote
            row = aug_row[i]
            original = invert_augmentation(grid, int(source.plan.dihedral[row]), source.plan.colours[row])
            ballots[example[i]].add(original, confidence[i])
        bar.update(len(batch))
    bar.close()
    result = score_ballots(source, ballots, ks)
    if submission_path is not None:
        write_submission(submission_path, result)
    return result


def score_ballots(source: ARCAugmentedSource, ballots: Sequence[Ballot], ks: Sequence[int] = (1, 2)) -> VoteResult:
    """pass@k of one ballot per test pair of `source` (a task scores the fraction of its pairs solved)."""
    ranked: dict[str, list[list[Candidate]]] = {}
    solved: dict[str, list[list[bool]]] = {}  # per scored test pair: solved within top-k, per k
    for e, ballot in enumerate(ballots):
        task = source.tasks[source.example_task[e]]
        j = int(source.example_pair[e])
        ranked.setdefault(task.task_id, [])
        order = ballot.ranked()
        ranked[task.task_id].append(order)
        label = task.test[j][1]
        if label is None:
            continue  # hidden test output: predicted, not scored
        rank = next((r for r, c in enumerate(order) if np.array_equal(c.grid, label)), None)
        solved.setdefault(task.task_id, []).append([rank is not None and rank < k for k in ks])
    task_scores = {tid: dict(zip(ks, np.mean(rows, axis=0).tolist())) for tid, rows in solved.items()}
    pass_at = {k: float(np.mean([s[k] for s in task_scores.values()])) if task_scores else 0.0 for k in ks}
    return VoteResult(
        pass_at=pass_at,
        task_scores=task_scores,
        ranked=ranked,
        scored_tasks=len(task_scores),
        scored_pairs=sum(len(rows) for rows in solved.values()),
    )


BASELINES = ("copy_input", "most_common_output")


def baseline_votes(source: ARCAugmentedSource, kind: str, ks: Sequence[int] = (1, 2)) -> VoteResult:
    """pass@k of a model-free answer, scored like the votes: ``copy_input`` answers each test input
    with itself; ``most_common_output`` with the task's demonstration outputs ranked by how often
    they occur (ties: first seen), so pass@2 tries the two most common."""
    if kind not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {kind!r}")
    ballots = [Ballot() for _ in range(source.num_examples)]
    for e, ballot in enumerate(ballots):
        task = source.tasks[source.example_task[e]]
        if kind == "copy_input":
            ballot.add(task.test[int(source.example_pair[e])][0], 1.0)
        else:
            for i, (_, y) in enumerate(task.train):
                ballot.add(y, 1.0 - i / (len(task.train) + 1))  # earlier demos win ties
    return score_ballots(source, ballots, ks)


def write_submission(path: str | Path, result: VoteResult) -> None:
    """``{task_id: [{"attempt_1": grid, "attempt_2": grid}, ...]}``, one entry per test input in
    order; a missing candidate repeats the first, and no candidate at all gives ``[[0]]``."""
    out = {}
    for task_id, pairs in result.ranked.items():
        entries = []
        for order in pairs:
            grids = [c.grid.tolist() for c in order[:2]] or [[[0]]]
            entries.append({"attempt_1": grids[0], "attempt_2": grids[-1] if len(grids) == 1 else grids[1]})
        out[task_id] = entries
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(out))
    tmp.replace(path)
