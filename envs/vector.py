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

from dis_rl.envs import episode
from dis_rl.envs.core import RENDER_MODES, SPLITS, PuzzleDraws, RefineTask, _choice, _readonly, check_actions, pick


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
        self._true = _readonly(np.ones(n, dtype=bool))
        self.state = episode.episodes(task, n)  # the episodes: `dis_rl.envs.episode` holds the rules

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
                episode.start(self.task, self.state, rows[chosen], split, indices[chosen])
        self._autoreset[rows] = False
        self._started = True
        return episode.observation(self.task, self.state), episode.infos(self.state, self._true)

    def step(self, actions: Any):
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        task, state = self.task, self.state
        actions = check_actions(task, actions, self.num_envs, tokens=task.action_mode == "refine")
        restart = np.flatnonzero(self._autoreset)
        everyone = len(restart) == 0
        rewards = episode.advance(task, state, slice(None) if everyone else np.flatnonzero(~self._autoreset), actions)
        if not everyone:  # NEXT_STEP autoreset: these rows start new episodes instead of stepping
            split = task.split
            episode.start(task, state, restart, split, self._draws.draw(restart, self._rngs, self._sizes[split]))
        terminated, truncated = episode.ended(state, slice(None), self._limit)
        if not everyone:
            terminated[restart] = False
            truncated[restart] = False
        self._autoreset = terminated | truncated
        return episode.observation(task, state), rewards, terminated, truncated, episode.infos(state, self._true)

    def action_masks(self) -> np.ndarray:
        """Boolean ``[num_envs, cells * vocab]`` (see `RefineEnv.action_masks`)."""
        return episode.action_masks(self.task, self.state, slice(None))

    def render(self) -> tuple[Any, ...] | None:
        if self.render_mode is None:
            return None
        return tuple(episode.render(self.task, self.state, self.render_mode, i) for i in range(self.num_envs))
