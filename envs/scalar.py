"""The scalar refinement env: a thin Gymnasium adapter over a one-row state of `dis_rl.envs.episode`.

The rules (start, actions, distance, verdict, reward, submission, info, status) are the functions of
`dis_rl.envs.episode`, called with ``rows=0``: the same functions the vector-native env calls on its
batch, so sub-env ``i`` of `dis_rl.envs.vector.RefineVectorEnv` behaves exactly like this env seeded
``seed + i`` (a test checks it). A step costs a handful of numpy calls (what most users meet through
``gym.make`` and SB3's DummyVecEnv); the observation is fresh copies of a few small arrays
(Gymnasium's `check_env` requires new data on every call, constant parts included).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from dis_rl.envs import episode
from dis_rl.envs.core import RENDER_MODES, PuzzleDraws, RefineTask, _choice, check_actions, pick


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
        self._refine = task.action_mode == "refine"
        self._high = task.seq_len * task.vocab
        self._draws = PuzzleDraws(1)
        self._draw_rng: np.random.Generator | None = None
        self._done = True
        self._started = False  # the env enforces the order itself (ids are registered without OrderEnforcing)
        self.state = episode.episodes(task, 1, one=True)  # one row; `dis_rl.envs.episode` holds the rules

    # -- Gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        task = self.task
        split, index = pick(task, options)
        if self._draw_rng is not self.np_random:  # seeded (or replaced): buffered draws are stale
            self._draw_rng = self.np_random
            self._draws.invalidate(0)
        if index is None:
            index = self._draws.draw_one(0, self.np_random, len(task.sets[split]))
        episode.start(task, self.state, 0, split, index)
        self._done, self._started = False, True
        return episode.observation(task, self.state, 0), episode.info(self.state, 0)

    def step(self, action: Any):
        if self._done:
            raise ResetNeeded(self._ended("step"))
        task, state = self.task, self.state
        if self._refine or not (isinstance(action, (int, np.integer)) and not isinstance(action, bool)
                                and 0 <= action < self._high):
            action = check_actions(task, action, None, tokens=self._refine)
        reward = episode.advance(task, state, 0, action)
        terminated, truncated = episode.ended(state, 0, task.max_steps)
        self._done = terminated or truncated
        return episode.observation(task, state, 0), reward, terminated, truncated, episode.info(state, 0)

    def submit(self):
        """End an evaluation episode now with the current answer as its submission; returns what
        `step` returns (reward 1.0 if correct and scored, else 0.0; ``terminated=True``)."""
        if self._done:
            raise ResetNeeded(self._ended("submit"))
        if not self.state.evaluated[0]:
            raise ValueError("submit() ends evaluation episodes; this episode gets label feedback "
                             "(protocol='label_feedback' or a training-split episode)")
        reward = episode.submit(self.task, self.state, 0)
        self._done = True
        return episode.observation(self.task, self.state, 0), reward, True, False, episode.info(self.state, 0)

    def _ended(self, call: str) -> str:
        if not self._started:
            return f"call reset() before {call}()"
        return f"the episode has ended (solved, submitted or out of steps): call reset() before {call}()"

    def action_masks(self) -> np.ndarray:
        """Boolean ``[cells * vocab]``: which actions change the answer (givens and padding masked)."""
        return episode.action_masks(self.task, self.state, 0)

    def render(self):
        if self.render_mode is None:
            return None
        if not self._started:
            raise ResetNeeded("call reset() before render()")
        return episode.render(self.task, self.state, self.render_mode, 0)
