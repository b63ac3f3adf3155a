"""The vector-native refinement env: ``num_envs`` episodes of a `RefineTask` stepped as one numpy batch.

Returned arrays are read-only and stay valid: what is constant within an episode (the input, the
demonstrations, the puzzle names) is replaced by a new array only on a step where some sub-env
starts a new episode, never copied on the other steps and never written after it was returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from dis_rl.envs.core import (
    RENDER_MODES,
    SPLITS,
    PuzzleDraws,
    RefineTask,
    _choice,
    _readonly,
    check_actions,
    pick,
    row_counts,
)
from dis_rl.envs.render import render_episode

NOT_SUBMITTED, UNSCORED, SCORED = -1, 0, 1


def _replace_rows(current: np.ndarray, rows: np.ndarray, values: np.ndarray, everyone: bool) -> np.ndarray:
    """A new read-only array equal to ``current`` with ``rows`` set to ``values`` (copy on write;
    ``values`` is a fresh array, taken as it is when every row is replaced)."""
    if everyone:
        new = values
    else:
        new = current.copy()
        new[rows] = values
    new.flags.writeable = False
    return new


class RefineVectorEnv(VectorEnv):
    """Vector-native refinement env: ``num_envs`` episodes stepped as one batch of numpy arrays.

    Sub-env ``i`` reset with ``seed=s`` behaves like a scalar env reset with ``seed=s + i`` (a list
    of seeds gives each its own). Autoreset follows Gymnasium's default NEXT_STEP mode: the step
    after an episode ends resets that sub-env (its action is ignored, reward 0, not done).
    Truncation happens here at ``max_steps`` (or an earlier ``max_episode_steps``). The protocol
    (see `dis_rl.envs.core`) applies per sub-env: its keys appear in ``infos`` with Gymnasium's ``_key``
    masks (``distance`` only for label-feedback rows, ``scored``/``solved`` of an evaluation row
    at its submission). ``reset(options=...)`` takes ``split`` and ``puzzle`` (one value for all,
    or a list with one per sub-env) and Gymnasium's ``reset_mask`` (reset only those sub-envs).
    """

    metadata = {"render_modes": RENDER_MODES, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self, task: RefineTask, num_envs: int, render_mode: str | None = None, max_episode_steps: int | None = None
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if render_mode is not None:
            _choice("render_mode", render_mode, RENDER_MODES)
        self.task = task
        self.num_envs = n = int(num_envs)
        self.render_mode = render_mode
        self.max_steps = task.max_steps
        # gym.make_vec(..., max_episode_steps=K) passes K here: truncate at K if it comes first,
        # as the TimeLimit that gym.make adds around a scalar env would.
        if max_episode_steps is not None and int(max_episode_steps) < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        self._limit = task.max_steps if max_episode_steps is None else min(task.max_steps, int(max_episode_steps))
        self.single_observation_space = task.observation_space
        self.single_action_space = task.action_space
        self.observation_space = batch_space(task.observation_space, n)
        self.action_space = batch_space(task.action_space, n)
        self._rngs = [seeding.np_random()[0] for _ in range(n)]
        self._draws = PuzzleDraws(n)
        self._sizes = {split: len(puzzles) for split, puzzles in task.sets.items()}
        self._autoreset = np.zeros(n, dtype=bool)
        self._started = False
        self._all = np.arange(n)
        self._true = _readonly(np.ones(n, dtype=bool))
        length = task.seq_len
        # Returned (read-only, replaced on resets): inputs, extras, answers, names, splits.
        self._inputs = _readonly(np.zeros((n, length), dtype=np.uint8))
        self._answers = self._inputs
        self._extras = {k: _readonly(np.zeros((n, *sp.shape), dtype=sp.dtype))
                        for k, sp in task.observation_space.spaces.items() if k in task.extra_keys}
        self._names = _readonly(np.full(n, "", dtype=object))
        self._split_names = _readonly(np.full(n, SPLITS[0], dtype=object))
        self._protocols = _readonly(np.full(n, "label_feedback", dtype=object))
        # Internal state, written in place.
        self._index = np.zeros(n, dtype=np.int64)
        self._pids = np.zeros(n, dtype=np.int64)
        self._evaluated = np.zeros(n, dtype=bool)
        self._targets = np.zeros((n, length), dtype=np.uint8)  # labels, unscored cells NOT_A_TOKEN
        self._unscored = np.zeros(n, dtype=np.int64)
        self._scored = np.ones(n, dtype=np.int64)
        self._fixed = np.zeros((n, length), dtype=bool)
        self._steps = np.zeros(n, dtype=np.int64)
        self._distance = np.zeros(n, dtype=np.int64)
        self._solved = np.zeros(n, dtype=bool)
        self._submitted = np.full(n, NOT_SUBMITTED, dtype=np.int8)
        self._attempt = np.zeros(n, dtype=np.int64)
        self._candidates = None
        if task.candidates is not None:
            self._candidates = np.zeros((n, task.candidates["train"].shape[1]), dtype=np.uint64)
        self._blank = np.full(length, task.blank_token, dtype=np.uint8)

    # -- Gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            mask = np.ones(self.num_envs, dtype=bool)
        mask = np.asarray(mask)
        if mask.shape != (self.num_envs,) or mask.dtype != bool or not mask.any():
            raise ValueError(
                f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) with a True"
            )
        if not self._started and not mask.all():
            raise ResetNeeded("the first reset() must reset every sub-env (no reset_mask)")
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, (int, np.integer)) else seed
            if len(seeds) != self.num_envs:
                raise ValueError(f"need {self.num_envs} seeds, got {len(seeds)}")
            for i in np.flatnonzero(mask):
                if seeds[i] is not None:
                    self._rngs[i] = seeding.np_random(int(seeds[i]))[0]
                    self._draws.invalidate(np.array([i]))
        per_env = {}
        for key in ("split", "puzzle"):
            value = options.get(key)
            if isinstance(value, (list, tuple, np.ndarray)):
                if len(value) != self.num_envs:
                    raise ValueError(f"options[{key!r}] must be one value or {self.num_envs} values")
                per_env[key] = list(value)
        rows = np.flatnonzero(mask)
        picks = []
        for i in rows:
            one = {k: (per_env[k][i] if k in per_env else v) for k, v in options.items()}
            picks.append(pick(self.task, one))
        splits = np.array([p[0] for p in picks])
        indices = np.array([-1 if p[1] is None else p[1] for p in picks], dtype=np.int64)
        drawn = indices < 0
        if drawn.any():
            sizes = np.array([self._sizes[split] for split in splits[drawn]], dtype=np.int64)
            indices[drawn] = self._draws.draw(rows[drawn], self._rngs, sizes)
        for split in SPLITS:
            chosen = splits == split
            if chosen.any():
                self._load(rows[chosen], split, indices[chosen])
        self._autoreset[rows] = False
        self._started = True
        return self._observation(), self._infos()

    def step(self, actions: Any):
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        task = self.task
        actions = check_actions(task, actions, self.num_envs)
        restart = np.flatnonzero(self._autoreset)
        everyone = len(restart) == 0
        active = slice(None) if everyone else np.flatnonzero(~self._autoreset)
        self._apply(active, actions, everyone)
        self._steps[active] += 1
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        evaluated = self._evaluated if everyone else self._evaluated & ~self._autoreset
        feedback = ~self._evaluated if everyone else ~self._evaluated & ~self._autoreset
        if feedback.all():
            rewards[:] = self._measure(slice(None))
        elif feedback.any():
            rewards[feedback] = self._measure(np.flatnonzero(feedback))
        if evaluated.any():
            due = np.flatnonzero(evaluated & (self._steps >= task.max_steps))
            if len(due):
                rewards[due] = self._submit(due)
        if not everyone:
            split = task.split
            self._load(restart, split, self._draws.draw(restart, self._rngs, self._sizes[split]))
        terminated = np.where(self._evaluated, self._submitted != NOT_SUBMITTED, self._solved)
        truncated = ~terminated & (self._steps >= self._limit)
        if not everyone:
            terminated[restart] = False
            truncated[restart] = False
        self._autoreset = terminated | truncated
        return self._observation(), rewards, terminated, truncated, self._infos()

    def action_masks(self) -> np.ndarray:
        """Boolean ``[num_envs, cells * vocab]`` (see `RefineEnv.action_masks`)."""
        keep = np.arange(self.task.vocab) == self._inputs[..., None]
        masks = np.where(~self._fixed[..., None], self.task.paintable_mask, keep)
        return masks.reshape(self.num_envs, -1)

    def render(self) -> tuple[Any, ...] | None:
        if self.render_mode is None:
            return None
        return tuple(
            render_episode(self.task, self.render_mode, self._split_names[i], int(self._index[i]), self._inputs[i],
                           self._answers[i], int(self._steps[i]), self._status(i),
                           {k: v[i] for k, v in self._extras.items()})
            for i in range(self.num_envs)
        )

    # -- episode mechanics -----------------------------------------------------------------------
    def _load(self, rows: np.ndarray, split: str, indices: np.ndarray) -> None:
        """Start new episodes on ``rows`` with puzzles ``indices`` of ``split``."""
        task, puzzles, view = self.task, self.task.sets[split], self.task.view[split]
        everyone = len(rows) == self.num_envs
        inputs = view["input"][indices]
        self._inputs = _replace_rows(self._inputs, rows, inputs, everyone)
        for key in task.extra_keys:
            self._extras[key] = _replace_rows(self._extras[key], rows, view[key][indices], everyone)
        if everyone and task.start == "input":
            self._answers = self._inputs  # both read-only: sharing them is safe
        else:
            answers = self._answers.copy()
            answers[rows] = inputs if task.start == "input" else self._blank
            answers.flags.writeable = False
            self._answers = answers
        self._names = _replace_rows(self._names, rows, task.name_objects[split][indices], everyone)
        self._split_names = _replace_rows(self._split_names, rows, np.full(len(rows), split, dtype=object), everyone)
        evaluated = task.evaluated(split)
        protocol = "evaluation" if evaluated else "label_feedback"
        self._protocols = _replace_rows(self._protocols, rows, np.full(len(rows), protocol, dtype=object), everyone)
        self._index[rows] = indices
        self._pids[rows] = puzzles.puzzle_ids[indices]
        self._evaluated[rows] = evaluated
        if task.fixed_cells is not None:
            self._fixed[rows] = task.fixed_cells(inputs)
        self._steps[rows] = 0
        self._solved[rows] = False
        self._submitted[rows] = NOT_SUBMITTED
        if evaluated:
            used = task.scorers[split].used
            self._attempt[rows] = [used(int(i)) + 1 for i in indices]
        if not evaluated:
            boards, unscored, _ = task.solutions(split)
            if self._candidates is not None:
                self._candidates[rows] = task.candidates[split][indices]
            else:
                self._targets[rows] = boards[indices, 0]
            self._unscored[rows] = unscored[indices]
            self._scored[rows] = np.maximum(task.seq_len - unscored[indices], 1)
            self._measure(rows)

    def _apply(self, active: np.ndarray | slice, actions: np.ndarray, everyone: bool) -> None:
        task = self.task
        if task.action_mode == "refine":
            if everyone:
                answers = actions.astype(np.uint8)
            else:
                answers = self._answers.copy()
                answers[active] = actions[active]
        else:
            answers = self._answers.copy()
            rows = self._all[active]
            cell, value = np.divmod(actions[active], task.vocab)
            given = self._fixed[rows, cell]
            # A masked action (see action_masks) is legal and leaves the answer unchanged.
            ok = np.where(given, value == self._inputs[rows, cell], task.paintable_mask[value])
            answers[rows[ok], cell[ok]] = value[ok]
        answers.flags.writeable = False
        self._answers = answers

    def _measure(self, rows: np.ndarray | slice) -> np.ndarray:
        """Distance and verdict of label-feedback ``rows``; returns their rewards."""
        task = self.task
        domain = task.domain
        before = self._distance[rows].copy()
        answers = self._answers[rows]
        if self._candidates is not None:  # no gathers of inputs and labels on the hot path
            dist = domain.distance_to_candidates(answers, self._candidates[rows])
        else:
            dist = row_counts(answers != self._targets[rows]) - self._unscored[rows]
        solved = np.zeros(len(dist), dtype=bool)
        if task.distance_is_exact:
            check = np.flatnonzero(dist == 0)
        elif task.could_be_solved is not None:
            check = np.flatnonzero(task.could_be_solved(answers))
        else:
            check = np.arange(len(dist))
        if len(check):
            at = self._all[rows][check]
            solved[check] = domain.verify(self._inputs[at], self._answers[at], self._labels_of(at))
        if not task.distance_is_exact:  # the verifier decides: 0 for an accepted answer, else at least 1
            dist = np.where(solved, 0, np.maximum(dist, 1))
        self._distance[rows] = dist
        self._solved[rows] = solved
        return (before - dist) / self._scored[rows] + task.success_bonus * solved - task.step_penalty

    def _submit(self, rows: np.ndarray) -> np.ndarray:
        """Score the answers of evaluation ``rows`` as one attempt each; returns their rewards."""
        scored = np.zeros(len(rows), dtype=bool)
        solved = np.zeros(len(rows), dtype=bool)
        for j, i in enumerate(rows):  # in row order, so two rows on one puzzle share its attempts
            scorer = self.task.scorers[self._split_names[i]]
            self._attempt[i], scored[j], solved[j] = scorer.submit(int(self._index[i]), self._answers[i])
        self._submitted[rows] = np.where(scored, SCORED, UNSCORED)
        self._solved[rows] = solved
        return solved.astype(np.float64)

    def _labels_of(self, rows: np.ndarray) -> np.ndarray:
        """The labels of ``rows`` (gathered only for the few rows the verifier checks)."""
        sets = self.task.sets
        return np.stack([sets[self._split_names[i]].labels[self._index[i]] for i in rows])

    def _observation(self) -> dict[str, np.ndarray]:
        step = np.minimum(self._steps, self.task.max_steps)[:, None]
        return {"input": self._inputs, "answer": self._answers, "step": step, **self._extras}

    def _infos(self) -> dict[str, np.ndarray]:
        everyone = self._true
        infos: dict[str, np.ndarray] = {
            "step": self._steps.copy(), "puzzle_name": self._names, "puzzle_id": self._pids.copy(),
            "puzzle_index": self._index.copy(), "split": self._split_names, "protocol": self._protocols,
        }
        for key in infos.copy():
            infos["_" + key] = everyone
        evaluated = self._evaluated
        if not evaluated.any():
            infos["distance"], infos["_distance"] = self._distance.copy(), everyone
            infos["solved"], infos["_solved"] = self._solved.copy(), everyone
            return infos
        feedback = ~evaluated
        submitted = evaluated & (self._submitted != NOT_SUBMITTED)
        scored = evaluated & (self._submitted == SCORED)
        infos["attempt"], infos["_attempt"] = self._attempt.copy(), evaluated.copy()
        if feedback.any():
            infos["distance"], infos["_distance"] = np.where(feedback, self._distance, 0), feedback
        if submitted.any():
            infos["scored"], infos["_scored"] = scored.copy(), submitted
        solved_shown = feedback | scored
        if solved_shown.any():
            infos["solved"], infos["_solved"] = np.where(solved_shown, self._solved, False), solved_shown
        return infos

    def _status(self, i: int) -> str:
        if not self._evaluated[i]:
            return f"distance {self._distance[i]}" + ("  SOLVED" if self._solved[i] else "")
        if self._submitted[i] == NOT_SUBMITTED:
            return "evaluation: not scored before submission"
        if self._submitted[i] == UNSCORED:
            return "submitted, not scored"
        return "SOLVED" if self._solved[i] else "not solved"
