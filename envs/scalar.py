"""The scalar refinement env: one episode of a `RefineTask` as 1-D arrays.

A step costs a handful of numpy calls (what most users meet through ``gym.make`` and SB3's
DummyVecEnv): the distance is a count of cells that differ from the puzzle's precomputed solutions,
and the observation is fresh copies of a few small arrays (Gymnasium's `check_env` requires new
data on every call, constant parts included). Sub-env ``i`` of
`dis_rl.envs.vector.RefineVectorEnv` behaves exactly like this env seeded ``seed + i`` (a test checks it).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from dis_rl.envs.core import (
    RENDER_MODES,
    PuzzleDraws,
    RefineTask,
    _choice,
    _readonly,
    check_actions,
    pick,
)
from dis_rl.envs.render import render_episode


class RefineEnv(gym.Env):
    """Generic refinement env over a `RefineTask` (see the per-domain subclasses for the docs).

    The env owns its step limit (it depends on the action mode): it returns ``truncated=True`` at
    ``task.max_steps``, with or without wrappers, so ids are registered without ``TimeLimit``
    (``gym.make(..., max_episode_steps=K)`` adds one: a smaller K truncates earlier, a larger one
    never fires). Stepping a finished episode raises ``gymnasium.error.ResetNeeded``.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 4}

    def __init__(self, task: RefineTask, render_mode: str | None = None) -> None:
        if render_mode is not None:
            _choice("render_mode", render_mode, RENDER_MODES)
        self.task = task
        self.render_mode = render_mode
        self.observation_space = task.observation_space
        self.action_space = task.action_space
        self.max_steps = task.max_steps
        self._draws = PuzzleDraws(1)
        self._rows = np.zeros(1, dtype=np.int64)
        self._draw_rng: np.random.Generator | None = None
        self._done = True
        self._refine = task.action_mode == "refine"
        self._high = task.seq_len * task.vocab
        blank = np.full(task.seq_len, task.blank_token, dtype=np.uint8)
        self._blank = _readonly(blank)

    # -- Gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        split, index = pick(self.task, options)
        if self._draw_rng is not self.np_random:  # seeded (or replaced): buffered draws are stale
            self._draw_rng = self.np_random
            self._draws.invalidate(self._rows)
        if index is None:
            size = np.array([len(self.task.sets[split])])
            index = int(self._draws.draw(self._rows, [self.np_random], size)[0])
        self._begin(split, index)
        return self._observation(), self._info()

    def step(self, action: Any):
        if self._done:
            raise ResetNeeded("the episode has ended (solved, submitted or out of steps): call reset() before step()")
        self._answer = self._apply(action)
        self._steps += 1
        if self._evaluated:
            if self._steps >= self.task.max_steps:
                return self._submit()
            return self._observation(), 0.0, False, False, self._info()
        task = self.task
        before = self._distance
        self._measure()
        reward = (before - self._distance) / self._scored + task.success_bonus * self._solved - task.step_penalty
        terminated = self._solved
        truncated = not terminated and self._steps >= task.max_steps
        self._done = terminated or truncated
        return self._observation(), reward, terminated, truncated, self._info()

    def submit(self):
        """End an evaluation episode now with the current answer as its submission; returns what
        `step` returns (reward 1.0 if correct and scored, else 0.0; ``terminated=True``)."""
        if self._done:
            raise ResetNeeded("the episode has ended: call reset() before submit()")
        if not self._evaluated:
            raise ValueError("submit() ends evaluation episodes; this episode gets label feedback "
                             "(protocol='label_feedback' or a training-split episode)")
        return self._submit()

    def action_masks(self) -> np.ndarray:
        """Boolean ``[cells * vocab]``: which actions change the answer (givens and padding masked)."""
        free = ~self._fixed
        keep = np.arange(self.task.vocab) == self._input[:, None]
        return np.where(free[:, None], self.task.paintable_mask, keep).reshape(-1)

    def render(self):
        if self.render_mode is None:
            return None
        return render_episode(self.task, self.render_mode, self._split, self._index, self._input, self._answer,
                              self._steps, self._status(), self._extras)

    # -- episode mechanics -----------------------------------------------------------------------
    def _begin(self, split: str, index: int) -> None:
        task = self.task
        self._split, self._index, self._done, self._steps = split, index, False, 0
        view = task.view[split]
        self._input = view["input"][index]
        self._extras = {k: view[k][index] for k in task.extra_keys}
        self._answer = self._input if task.start == "input" else self._blank
        self._evaluated = task.evaluated(split)
        self._name = task.name_objects[split][index]
        self._pid = int(task.sets[split].puzzle_ids[index])
        self._fixed = task.fixed_cells(self._input) if task.fixed_cells is not None else np.zeros(task.seq_len, bool)
        self._solved, self._scored_now = False, None
        if not self._evaluated:
            boards, unscored, count = task.solutions(split)
            self._boards = boards[index, : count[index]]  # [K, L]; K == 1: the label itself
            self._single = self._boards.shape[0] == 1
            self._unscored = int(unscored[index])
            self._scored = max(task.seq_len - self._unscored, 1)
            self._measure()

    def _apply(self, action: Any) -> np.ndarray:
        task = self.task
        if self._refine:
            action = check_actions(task, action, None)
            answer = action.astype(np.uint8)  # a fresh array: the state, and the observation
        else:
            a = action
            if not (isinstance(a, (int, np.integer)) and not isinstance(a, bool) and 0 <= a < self._high):
                a = int(check_actions(task, action, None))
            cell, value = divmod(int(a), task.vocab)
            if self._fixed[cell]:
                changed = value == self._input[cell]  # a given takes only its own token back
            else:
                changed = task.paintable_mask[value]
            if not changed or self._answer[cell] == value:
                return self._answer  # a masked action is legal and changes nothing
            answer = self._answer.copy()  # the start answer may be a view of the puzzle set
            answer[cell] = value
        return answer

    def _measure(self) -> None:
        """Distance to the nearest solution and the verifier's verdict (label feedback only)."""
        task = self.task
        if self._single:
            distance = int(np.count_nonzero(self._answer != self._boards[0])) - self._unscored
        else:
            distance = int((self._answer != self._boards).sum(axis=1).min())
        if task.distance_is_exact:
            solved = distance == 0 and self._verify()
        else:  # the verifier decides: 0 for an accepted answer, else at least 1
            solved = (task.could_be_solved is None or bool(task.could_be_solved(self._answer))) and self._verify()
            distance = 0 if solved else max(distance, 1)
        self._distance, self._solved = distance, solved

    def _verify(self) -> bool:
        labels = self.task.sets[self._split].labels[self._index]
        return bool(self.task.domain.verify(self._input[None], self._answer[None], labels[None])[0])

    def _submit(self):
        """Score the current answer as one attempt (the scorer counts the first ``attempts`` per
        test input, across every env of the session)."""
        _, self._scored_now, self._solved = self.task.scorers[self._split].submit(self._index, self._answer)
        self._done = True
        return self._observation(), float(self._solved), True, False, self._info()

    def _observation(self) -> dict[str, np.ndarray]:
        step = np.array([min(self._steps, self.task.max_steps)], dtype=np.int64)
        obs = {"input": self._input.copy(), "answer": self._answer.copy(), "step": step}
        for key, value in self._extras.items():
            obs[key] = value.copy()
        return obs

    def _info(self) -> dict[str, Any]:
        info = {"step": self._steps, "puzzle_name": self._name, "puzzle_id": self._pid,
                "puzzle_index": self._index, "split": self._split}
        if self._evaluated:
            info["protocol"] = "evaluation"
            info["attempt"] = self.task.scorers[self._split].used(self._index) + (not self._done)
            if self._scored_now is not None:
                info["scored"] = self._scored_now
                if self._scored_now:
                    info["solved"] = self._solved
        else:
            info["protocol"] = "label_feedback"
            info["distance"] = self._distance
            info["solved"] = self._solved
        return info

    def _status(self) -> str:
        if not self._evaluated:
            return f"distance {self._distance}" + ("  SOLVED" if self._solved else "")
        if self._scored_now is None:
            return "evaluation: not scored before submission"
        return ("SOLVED" if self._solved else "not solved") if self._scored_now else "submitted, not scored"
