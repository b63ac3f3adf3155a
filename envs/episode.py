"""The episode rules, once: the state of refinement episodes as arrays, and plain functions over it.

`Episodes` holds everything that makes up ``n`` episodes of one `RefineTask`, one row each (the
Jumanji way: an explicit state, no hidden attributes). The functions below are the rules: `start`
episodes on rows, `advance` them by one action (`apply` it, count the step, `measure` distance,
verdict and reward under label feedback, `submit` when an evaluation episode is due), `ended`,
`info` and `status`. `dis_rl.envs.vector.RefineVectorEnv` calls them on its whole batch;
`dis_rl.envs.scalar.RefineEnv` holds a state of one row and calls them with ``rows=0``.

``rows`` is an int (one row: the functions return Python scalars, and the one-row kernels below
count a distance without batch machinery) or an index array / slice (a batch: arrays). The two
shapes share every rule (which cells an edit may paint, the reward formula, when the verifier runs,
what each info key shows), so sub-env ``i`` of a vector env equals a scalar env seeded alike by
construction.

One module a little past 400 lines on purpose: it is every rule of an episode, and splitting the
rules again is what made two copies of them drift before.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from dis_rl.envs.core import SPLITS, RefineTask, _readonly, row_counts
from dis_rl.envs.render import render_episode

NOT_SUBMITTED, UNSCORED, SCORED = -1, 0, 1
Rows = int | np.ndarray | slice


def replace_rows(current: np.ndarray, rows: Rows, values: np.ndarray, everyone: bool) -> np.ndarray:
    """A new read-only array equal to ``current`` with ``rows`` set to ``values`` (copy on write;
    ``values`` is taken as it is when every row is replaced: a fresh array or a read-only view)."""
    if everyone:
        new = values.view()
    else:
        new = current.copy()
        new[rows] = values
    new.flags.writeable = False
    return new


@dataclass(eq=False)
class Episodes:
    """``n`` episodes as arrays, one row each.

    Replaced (never written) when rows start new episodes, so that they can be returned read-only
    and stay valid: ``inputs``, ``answers`` (also replaced by each action), ``extras``, ``names``,
    ``splits``, ``protocols``. Written in place: the rest. ``targets`` (a label-feedback row's first
    answer board, unscored cells `NOT_A_TOKEN`) or ``candidates`` (``[K, n]`` bit-packed solutions, N-Queens)
    serve the batch distance; ``boards[i]`` (the row's ``[K, L]`` answer boards) the one-row distance.
    """

    inputs: np.ndarray
    answers: np.ndarray
    extras: dict[str, np.ndarray]
    names: np.ndarray
    splits: np.ndarray
    protocols: np.ndarray
    index: np.ndarray
    pids: np.ndarray
    evaluated: np.ndarray
    fixed: np.ndarray
    targets: np.ndarray
    candidates: np.ndarray | None
    boards: list[np.ndarray | None]
    unscored: np.ndarray
    scored: np.ndarray
    steps: np.ndarray
    distance: np.ndarray
    solved: np.ndarray
    submitted: np.ndarray
    attempt: np.ndarray
    views: dict[str, np.ndarray]  # a state of one row: 1-D views of its constant observation parts

    @property
    def n(self) -> int:
        return len(self.steps)


COLUMNS = ("names", "splits", "protocols", "index", "pids", "evaluated", "unscored", "scored", "steps",
           "distance", "solved", "submitted", "attempt")


def episodes(task: RefineTask, n: int, one: bool = False) -> Episodes:
    """The state of ``n`` episodes before any start (`start` them before use). ``one``: a state of
    one row for int-row calls, its per-episode `COLUMNS` Python lists of one plain value (reading
    them is then as cheap as reading attributes); its token arrays stay ``[1, ...]`` arrays."""
    if one:
        ep = episodes(task, 1)
        for name in COLUMNS:
            setattr(ep, name, getattr(ep, name).tolist())
        return ep
    length = task.seq_len
    tokens = _readonly(np.zeros((n, length), dtype=np.uint8))
    candidates = None
    if task.candidates is not None:
        candidates = np.zeros((task.candidates["train"].shape[1], n), dtype=np.uint64)  # [K, n] columns
    return Episodes(
        inputs=tokens, answers=tokens,
        extras={k: _readonly(np.zeros((n, *sp.shape), dtype=sp.dtype))
                for k, sp in task.observation_space.spaces.items() if k in task.extra_keys},
        names=_readonly(np.full(n, "", dtype=object)), splits=_readonly(np.full(n, SPLITS[0], dtype=object)),
        protocols=_readonly(np.full(n, "label_feedback", dtype=object)),
        index=np.zeros(n, dtype=np.int64), pids=np.zeros(n, dtype=np.int64), evaluated=np.zeros(n, dtype=bool),
        fixed=np.zeros((n, length), dtype=bool), targets=np.zeros((n, length), dtype=np.uint8),
        candidates=candidates, boards=[None] * n, unscored=np.zeros(n, dtype=np.int64),
        scored=np.ones(n, dtype=np.int64), steps=np.zeros(n, dtype=np.int64), distance=np.zeros(n, dtype=np.int64),
        solved=np.zeros(n, dtype=bool), submitted=np.full(n, NOT_SUBMITTED, dtype=np.int8),
        attempt=np.zeros(n, dtype=np.int64), views={},
    )


# -- starting episodes ---------------------------------------------------------------------------
def start(task: RefineTask, ep: Episodes, rows: Rows, split: str, indices: Any) -> None:
    """Start new episodes on ``rows`` with puzzles ``indices`` of ``split`` (an int row of a state of
    one row takes one int index: its arrays become read-only views of the puzzle set, no copies)."""
    puzzles, view = task.sets[split], task.view[split]
    evaluated = task.evaluated(split)
    protocol = "evaluation" if evaluated else "label_feedback"
    if isinstance(rows, int):
        row, first = rows, int(indices)
        rows, indices, everyone = slice(row, row + 1), slice(first, first + 1), True
    else:  # rows: distinct, ascending (as np.flatnonzero gives them); all of them as a slice, no gathers
        row, everyone = None, len(rows) == ep.n
        rows = slice(None) if everyone else rows
    inputs = view["input"][indices]
    ep.inputs = replace_rows(ep.inputs, rows, inputs, everyone)
    for key in task.extra_keys:
        ep.extras[key] = replace_rows(ep.extras[key], rows, view[key][indices], everyone)
    if everyone and task.start == "input":
        ep.answers = ep.inputs  # both read-only: sharing them is safe
    else:
        answers = ep.answers.copy()
        answers[rows] = inputs if task.start == "input" else task.blank_token
        answers.flags.writeable = False
        ep.answers = answers
    if task.fixed_cells is not None:
        ep.fixed[rows] = task.fixed_cells(inputs)
    if not evaluated:
        boards, unscored, counts = task.solutions(split)
    if row is not None:  # the columns of a state of one row are Python lists of plain values
        ep.views = {"input": view["input"][first], **{k: view[k][first] for k in task.extra_keys}}
        ep.names[row], ep.splits[row], ep.protocols[row] = task.name_objects[split][first], split, protocol
        ep.index[row], ep.pids[row], ep.evaluated[row] = first, int(puzzles.puzzle_ids[first]), evaluated
        ep.steps[row], ep.solved[row], ep.submitted[row] = 0, False, NOT_SUBMITTED
        if evaluated:
            ep.attempt[row] = task.scorers[split].used(first) + 1
            return
        ep.boards[row] = boards[first, : counts[first]]  # [K, L]; K == 1: the label itself
        ep.unscored[row] = int(unscored[first])
        ep.scored[row] = max(task.seq_len - ep.unscored[row], 1)
        measure(task, ep, row)
        return
    count = ep.n if everyone else len(rows)
    ep.names = replace_rows(ep.names, rows, task.name_objects[split][indices], everyone)
    ep.splits = replace_rows(ep.splits, rows, _constant(split, count), everyone)
    ep.protocols = replace_rows(ep.protocols, rows, _constant(protocol, count), everyone)
    ep.index[rows] = indices
    ep.pids[rows] = puzzles.puzzle_ids[indices]
    ep.evaluated[rows] = evaluated
    ep.steps[rows] = 0
    ep.solved[rows] = False
    ep.submitted[rows] = NOT_SUBMITTED
    if evaluated:
        used = task.scorers[split].used
        ep.attempt[rows] = [used(int(i)) + 1 for i in indices]
        return
    if ep.candidates is not None:
        ep.candidates[:, rows] = task.candidates[split][indices].T
    else:
        ep.targets[rows] = boards[indices, 0]
    ep.unscored[rows] = unscored[indices]
    ep.scored[rows] = np.maximum(task.seq_len - unscored[indices], 1)
    measure(task, ep, rows)


@lru_cache(maxsize=64)
def _constant(value: str, count: int) -> np.ndarray:
    """A read-only object array of ``count`` times ``value`` (shared: nothing writes it)."""
    return _readonly(np.full(count, value, dtype=object))


# -- one step ------------------------------------------------------------------------------------
def apply(task: RefineTask, ep: Episodes, rows: Rows, actions: Any) -> None:
    """Apply checked ``actions`` (refine: `check_actions`'s fresh uint8 tokens, which the state takes
    over; one action for an int row, else one per row of the batch
    ``actions``, of which ``rows`` are applied) to the answers. Refine: the action is the next
    answer. Edit: ``cell * vocab + token`` paints a paintable token into a free cell; a given cell
    takes only its own token back; any other (masked, see `action_masks`) action changes nothing."""
    if isinstance(rows, int):
        if task.action_mode == "refine":
            answers = actions[None]  # the fresh uint8 array of check_actions(tokens=True): the state owns it
        else:
            cell, value = divmod(int(actions), task.vocab)
            if ep.fixed[rows, cell]:
                ok = value == ep.inputs[rows, cell]
            else:
                ok = task.paintable_mask[value]
            if not ok or ep.answers[rows, cell] == value:
                return
            answers = ep.answers.copy()
            answers[rows, cell] = value
    elif task.action_mode == "refine":
        answers = actions  # the fresh uint8 array of check_actions(tokens=True)
        if not isinstance(rows, slice):  # rows not stepped keep their answers
            idle = np.ones(ep.n, dtype=bool)
            idle[rows] = False
            answers[idle] = ep.answers[idle]
    else:
        answers = ep.answers.copy()
        rows = np.arange(ep.n)[rows]
        cell, value = np.divmod(actions[rows], task.vocab)
        ok = np.where(ep.fixed[rows, cell], value == ep.inputs[rows, cell], task.paintable_mask[value])
        answers[rows[ok], cell[ok]] = value[ok]
    answers.flags.writeable = False
    ep.answers = answers


def reward(task: RefineTask, before: Any, distance: Any, solved: Any, scored: Any) -> Any:
    """The label-feedback reward: the drop in distance per scored cell, the bonus when solved,
    minus the step penalty (Python numbers or arrays alike)."""
    return (before - distance) / scored + task.success_bonus * solved - task.step_penalty


def measure(task: RefineTask, ep: Episodes, rows: Rows) -> Any:
    """Distance to the nearest answer and the verifier's verdict of label-feedback ``rows``; returns
    their rewards. The verifier runs where the distance is 0 (``distance_is_exact``), else where
    ``could_be_solved`` accepts the answer (default: everywhere); with an inexact distance the
    verdict decides it: 0 for an accepted answer, else at least 1."""
    domain = task.domain
    if isinstance(rows, int):
        answer, boards = ep.answers[rows], ep.boards[rows]
        before = ep.distance[rows]
        if len(boards) == 1:
            dist = int(np.count_nonzero(answer != boards[0])) - ep.unscored[rows]
        else:
            dist = int((answer != boards).sum(axis=1).min())
        if task.distance_is_exact:
            check = dist == 0
        else:
            check = task.could_be_solved is None or bool(task.could_be_solved(answer))
        solved = check and bool(domain.verify(ep.inputs[rows, None], answer[None], _labels(task, ep, [rows]))[0])
        if not task.distance_is_exact:
            dist = 0 if solved else max(dist, 1)
        ep.distance[rows], ep.solved[rows] = dist, solved
        return reward(task, before, dist, solved, ep.scored[rows])
    before = ep.distance[rows].copy()
    answers = ep.answers[rows]
    if ep.candidates is not None:  # no gathers of inputs and labels on the hot path
        dist = domain.distance_to_columns(answers, ep.candidates[:, rows])
    else:
        dist = row_counts(answers != ep.targets[rows]) - ep.unscored[rows]
    solved = np.zeros(len(dist), dtype=bool)
    if task.distance_is_exact:
        check = np.flatnonzero(dist == 0)
    elif task.could_be_solved is not None:
        check = np.flatnonzero(task.could_be_solved(answers))
    else:
        check = np.arange(len(dist))
    if len(check):
        at = np.arange(ep.n)[rows][check]
        solved[check] = domain.verify(ep.inputs[at], ep.answers[at], _labels(task, ep, at))
    if not task.distance_is_exact:
        dist = np.where(solved, 0, np.maximum(dist, 1))
    ep.distance[rows] = dist
    ep.solved[rows] = solved
    return reward(task, before, dist, solved, ep.scored[rows])


def _labels(task: RefineTask, ep: Episodes, rows: Any) -> np.ndarray:
    """The labels of ``rows`` (gathered only for the few rows the verifier checks)."""
    return np.stack([task.sets[ep.splits[i]].labels[ep.index[i]] for i in rows])


def submit(task: RefineTask, ep: Episodes, rows: Rows) -> Any:
    """Score the answers of evaluation ``rows`` as one attempt each (the scorer counts the first
    ``attempts`` per test input, across every env of the session); returns their rewards (1.0 if
    solved and scored)."""
    if isinstance(rows, int):
        scorer = task.scorers[ep.splits[rows]]
        ep.attempt[rows], scored, solved = scorer.submit(ep.index[rows], ep.answers[rows])
        ep.submitted[rows], ep.solved[rows] = SCORED if scored else UNSCORED, bool(solved)
        return float(solved)
    scored = np.zeros(len(rows), dtype=bool)
    solved = np.zeros(len(rows), dtype=bool)
    for j, i in enumerate(rows):  # in row order, so two rows on one puzzle share its attempts
        scorer = task.scorers[ep.splits[i]]
        ep.attempt[i], scored[j], solved[j] = scorer.submit(int(ep.index[i]), ep.answers[i])
    ep.submitted[rows] = np.where(scored, SCORED, UNSCORED)
    ep.solved[rows] = solved
    return solved.astype(np.float64)


def advance(task: RefineTask, ep: Episodes, rows: Rows, actions: Any) -> Any:
    """One step of ``rows`` (an int, a slice of all, or the live rows' indices): apply the checked
    ``actions``, count the step, measure label-feedback rows and submit evaluation rows that reached
    ``max_steps``; returns the rewards (0 for evaluation steps, and for rows of the batch not stepped)."""
    apply(task, ep, rows, actions)
    ep.steps[rows] += 1
    if isinstance(rows, int):
        if not ep.evaluated[rows]:
            return measure(task, ep, rows)
        return submit(task, ep, rows) if ep.steps[rows] >= task.max_steps else 0.0
    rewards = np.zeros(ep.n, dtype=np.float64)
    live = np.zeros(ep.n, dtype=bool)
    live[rows] = True
    feedback = live & ~ep.evaluated
    if feedback.all():
        rewards[:] = measure(task, ep, slice(None))
    elif feedback.any():
        rewards[feedback] = measure(task, ep, np.flatnonzero(feedback))
    due = np.flatnonzero(live & ep.evaluated & (ep.steps >= task.max_steps))
    if len(due):
        rewards[due] = submit(task, ep, due)
    return rewards


def ended(ep: Episodes, rows: Rows, limit: int) -> tuple[Any, Any]:
    """``terminated`` (solved under label feedback, submitted under evaluation) and ``truncated``
    (not terminated, ``limit`` steps taken) of ``rows``."""
    if isinstance(rows, int):
        terminated = ep.submitted[rows] != NOT_SUBMITTED if ep.evaluated[rows] else ep.solved[rows]
        return terminated, not terminated and ep.steps[rows] >= limit
    terminated = np.where(ep.evaluated, ep.submitted != NOT_SUBMITTED, ep.solved)[rows]
    return terminated, ~terminated & (ep.steps[rows] >= limit)


# -- what the agent sees -------------------------------------------------------------------------
def observation(task: RefineTask, ep: Episodes, row: int | None = None) -> dict[str, np.ndarray]:
    """The observation of ``row`` as fresh arrays (`gymnasium.utils.env_checker.check_env` wants new
    data on every call), or of the whole batch as its read-only arrays (``row=None``)."""
    if row is None:
        step = np.minimum(ep.steps, task.max_steps)[:, None]
        return {"input": ep.inputs, "answer": ep.answers, "step": step, **ep.extras}
    views = ep.views  # a state of one row: 1-D views of its input and extras
    obs = {"input": views["input"].copy(), "answer": ep.answers[row].copy(),
           "step": np.array([min(ep.steps[row], task.max_steps)], dtype=np.int64)}
    for key in task.extra_keys:
        obs[key] = views[key].copy()
    return obs


INFO_KEYS = ("step", "puzzle_name", "puzzle_id", "puzzle_index", "split", "protocol")


def shown(ep: Episodes, rows: Rows) -> dict[str, Any]:
    """Where each protocol-dependent info key is shown (numpy bools of one row, or masks): the
    attempt number under evaluation, the distance under label feedback, ``scored`` at a
    submission, ``solved`` under label feedback or with a scored submission."""
    evaluated, submitted = ep.evaluated[rows], ep.submitted[rows]
    feedback = evaluated ^ True  # not, for Python and numpy bools alike
    return {"attempt": evaluated, "distance": feedback, "scored": evaluated & (submitted != NOT_SUBMITTED),
            "solved": feedback | (evaluated & (submitted == SCORED))}


def info(ep: Episodes, row: int) -> dict[str, Any]:
    """The info dict of ``row`` of a state of one row (plain values; the keys `shown` there)."""
    out = {"step": ep.steps[row], "puzzle_name": ep.names[row], "puzzle_id": ep.pids[row],
           "puzzle_index": ep.index[row], "split": ep.splits[row], "protocol": ep.protocols[row]}
    if not ep.evaluated[row]:  # the common case, as `shown` has it: distance and solved
        out["distance"], out["solved"] = ep.distance[row], ep.solved[row]
        return out
    for key, show in shown(ep, row).items():
        if show:
            out[key] = ep.submitted[row] == SCORED if key == "scored" else getattr(ep, key)[row]
    return out


def infos(ep: Episodes, everyone: np.ndarray) -> dict[str, np.ndarray]:
    """The batch infos, with Gymnasium's ``_key`` masks (``everyone``: a read-only all-True mask)."""
    out: dict[str, np.ndarray] = {
        "step": ep.steps.copy(), "puzzle_name": ep.names, "puzzle_id": ep.pids.copy(),
        "puzzle_index": ep.index.copy(), "split": ep.splits, "protocol": ep.protocols,
    }
    for key in INFO_KEYS:
        out["_" + key] = everyone
    if not ep.evaluated.any():  # the common case: label feedback everywhere
        out["distance"], out["_distance"] = ep.distance.copy(), everyone
        out["solved"], out["_solved"] = ep.solved.copy(), everyone
        return out
    show = shown(ep, slice(None))
    out["attempt"], out["_attempt"] = ep.attempt.copy(), show["attempt"]
    if show["distance"].any():
        out["distance"], out["_distance"] = np.where(show["distance"], ep.distance, 0), show["distance"]
    if show["scored"].any():
        out["scored"], out["_scored"] = ep.evaluated & (ep.submitted == SCORED), show["scored"]
    if show["solved"].any():
        out["solved"], out["_solved"] = np.where(show["solved"], ep.solved, False), show["solved"]
    return out


def status(ep: Episodes, row: int) -> str:
    """The status line of ``row``'s rendering."""
    if not ep.evaluated[row]:
        return f"distance {ep.distance[row]}" + ("  SOLVED" if ep.solved[row] else "")
    if ep.submitted[row] == NOT_SUBMITTED:
        return "evaluation: not scored before submission"
    if ep.submitted[row] == UNSCORED:
        return "submitted, not scored"
    return "SOLVED" if ep.solved[row] else "not solved"


def render(task: RefineTask, ep: Episodes, mode: str, row: int) -> Any:
    """``row``'s frame in ``mode`` (see `dis_rl.envs.render.render_episode`)."""
    return render_episode(task, mode, ep.splits[row], int(ep.index[row]), ep.inputs[row], ep.answers[row],
                          int(ep.steps[row]), status(ep, row), {k: v[row] for k, v in ep.extras.items()})


def action_masks(task: RefineTask, ep: Episodes, rows: Rows) -> np.ndarray:
    """Which edit actions change the answer, ``[cells * vocab]`` per row (givens and padding masked)."""
    keep = np.arange(task.vocab) == ep.inputs[rows][..., None]
    masks = np.where(~ep.fixed[rows][..., None], task.paintable_mask, keep)
    return masks.reshape(*masks.shape[:-2], -1)

