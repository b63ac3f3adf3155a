"""Refinement episodes over any puzzle domain: one task description, one batched episode state, and
the two envs built on it (scalar `RefineEnv`, vector-native `RefineVectorEnv`).

Both envs run the same code on the same state (the scalar env is a batch of one), so a sub-env of
the vector env behaves exactly like a scalar env seeded the same way. Puzzles, verifiers, distances
and rendering all come from the puzzle layer (`dis_rl.puzzles`); this module only runs episodes.
numpy only: no torch here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from dis_rl.puzzles.base import PAD, Domain, PuzzleSet
from dis_rl.puzzles.render import side_by_side

ACTION_MODES = ("refine", "edit")
STARTS = ("input", "blank")
SPLITS = ("train", "test")
REFINE_STEPS = 6  # the DIS schedule: six supervision steps
RENDER_MODES = ["ansi", "rgb_array"]


def _choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


@dataclass
class RefineTask:
    """What an episode is: a domain, its train/test puzzles and the episode settings.

    ``fixed_cells(inputs) -> bool [B, L]`` marks the givens (edit mode cannot paint them);
    ``paintable`` lists the tokens an agent may write (default: every token but PAD);
    ``blank_token`` fills the answer when ``start="blank"``; ``extra_keys`` are per-puzzle
    arrays of ``PuzzleSet.extras`` shown in the observation (for ARC the demonstration pairs);
    ``names`` maps a split to string ids of its puzzles (default: the row index as a string).
    ``distance_is_exact``: the domain's distance is 0 exactly for solved answers, so the verifier
    only runs on distance-0 rows; False (Sudoku: distance to the stored label) verifies every row.
    """

    domain: Domain
    train: PuzzleSet
    test: PuzzleSet
    action_mode: str = "refine"
    start: str = "input"
    split: str = "train"
    max_steps: int | None = None
    success_bonus: float = 1.0
    step_penalty: float = 0.0
    blank_token: int = PAD
    paintable: Sequence[int] | None = None
    fixed_cells: Callable[[np.ndarray], np.ndarray] | None = None
    extra_keys: tuple[str, ...] = ()
    distance_is_exact: bool = True
    names: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""  # where the puzzles came from, for messages

    def __post_init__(self) -> None:
        _choice("action_mode", self.action_mode, ACTION_MODES)
        _choice("start", self.start, STARTS)
        _choice("split", self.split, SPLITS)
        for s in (self.train, self.test):
            if s.seq_len != self.train.seq_len or s.vocab_size != self.train.vocab_size:
                raise ValueError("train and test puzzle sets must share sequence length and vocabulary")
        self.vocab = int(self.train.vocab_size)
        self.seq_len = int(self.train.seq_len)
        if self.max_steps is None:
            # refine: the DIS schedule; edit: enough to rewrite every cell once.
            self.max_steps = REFINE_STEPS if self.action_mode == "refine" else self.seq_len
        if int(self.max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        self.max_steps = int(self.max_steps)
        allowed = np.zeros(self.vocab, dtype=bool)
        allowed[list(range(1, self.vocab)) if self.paintable is None else list(self.paintable)] = True
        self.paintable_mask = allowed
        self.sets = {"train": self.train, "test": self.test}
        self.require_puzzles(self.split)
        for split, puzzles in self.sets.items():
            names = self.names.get(split)
            if names is None:
                names = np.array([str(i) for i in range(len(puzzles))])
            if len(names) != len(puzzles):
                raise ValueError(f"{len(names)} names for {len(puzzles)} {split} puzzles")
            self.names[split] = np.asarray(names).astype(str)
        self._name_index = {s: {n: i for i, n in enumerate(self.names[s])} for s in SPLITS}
        self.name_objects = {s: self.names[s].astype(object) for s in SPLITS}  # what infos carry
        # Optional fast distance: per-puzzle candidate solutions computed once (N-Queens).
        self.candidates: dict[str, np.ndarray] | None = None
        if hasattr(self.domain, "solution_candidates"):
            widths = [self.domain.solution_candidates(s.inputs).shape[1] for s in (self.train, self.test)]
            self.candidates = {
                split: self.domain.solution_candidates(puzzles.inputs, width=max(widths))
                for split, puzzles in self.sets.items()
            }
        self.observation_space = self._observation_space()
        if self.action_mode == "refine":
            self.action_space = spaces.MultiDiscrete(np.full(self.seq_len, self.vocab, dtype=np.int64))
        else:
            self.action_space = spaces.Discrete(self.seq_len * self.vocab)

    def _observation_space(self) -> spaces.Dict:
        tokens = spaces.Box(0, self.vocab - 1, shape=(self.seq_len,), dtype=np.uint8)
        space = {
            "input": tokens,
            "answer": tokens,
            "step": spaces.Box(0, self.max_steps, shape=(1,), dtype=np.int64),
        }
        for key in self.extra_keys:
            shape = self.train.extras[key].shape[1:]
            if shape != self.test.extras[key].shape[1:]:
                raise ValueError(f"extras[{key!r}] differ in shape between train and test: pad them")
            if shape:  # token grids
                space[key] = spaces.Box(0, self.vocab - 1, shape=shape, dtype=np.uint8)
            else:  # counts
                high = max(int(s.extras[key].max(initial=0)) for s in (self.train, self.test))
                space[key] = spaces.Box(0, high, shape=(1,), dtype=np.int64)
        return spaces.Dict(space)

    def require_puzzles(self, split: str) -> None:
        """A clear error (not an IndexError at reset) when ``split`` holds no usable puzzle."""
        if len(self.sets[split]) == 0:
            where = self.source or self.sets[split].name or self.domain.name
            raise ValueError(
                f"the {split!r} split of {where} holds no usable puzzles (every file bad, only hidden "
                f"test outputs, or an empty file?): nothing to start an episode on"
            )

    def puzzle_names(self, split: str = "train") -> list[str]:
        """The ids accepted by ``reset(options={"puzzle": ...})`` for a split (an int index works too)."""
        return list(self.names[_choice("split", split, SPLITS)])

    def resolve(self, split: str, puzzle: Any) -> int:
        """Row index of ``puzzle`` (an index or an id string) in ``split``; clear error otherwise."""
        count = len(self.sets[split])
        if isinstance(puzzle, (int, np.integer)) and not isinstance(puzzle, bool):
            if not 0 <= puzzle < count:
                raise ValueError(f"puzzle index {puzzle} out of range for split {split!r} (0..{count - 1})")
            return int(puzzle)
        if isinstance(puzzle, str) and puzzle in self._name_index[split]:
            return self._name_index[split][puzzle]
        raise ValueError(
            f"unknown puzzle {puzzle!r} in split {split!r}: pass an index 0..{count - 1} or an id; "
            f"list the ids with env.unwrapped.task.puzzle_names({split!r})"
        )


class Episodes:
    """The state of ``num`` episodes of one task as arrays (row b = episode of sub-env b)."""

    def __init__(self, task: RefineTask, num: int) -> None:
        self.task = task
        length = task.seq_len
        self.index = np.zeros(num, dtype=np.int64)
        self.names = np.full(num, "", dtype=object)
        self.split_names = np.full(num, SPLITS[0], dtype=object)
        self.inputs = np.zeros((num, length), dtype=np.uint8)
        self.labels = np.zeros((num, length), dtype=np.uint8)
        self.answers = np.zeros((num, length), dtype=np.uint8)
        self.fixed = np.zeros((num, length), dtype=bool)
        self.steps = np.zeros(num, dtype=np.int64)
        self.distance = np.zeros(num, dtype=np.int64)
        self.scored = np.ones(num, dtype=np.int64)
        self.solved = np.zeros(num, dtype=bool)
        self.candidates = None
        if task.candidates is not None:
            self.candidates = np.zeros((num, task.candidates["train"].shape[1]), dtype=np.uint64)
        self.extras = {
            k: np.zeros((num, *sp.shape), dtype=sp.dtype)
            for k, sp in task.observation_space.spaces.items()
            if k in task.extra_keys
        }

    def load(self, rows: np.ndarray, split: str, indices: np.ndarray) -> None:
        """Start new episodes on ``rows`` with puzzles ``indices`` of ``split``."""
        task, puzzles = self.task, self.task.sets[split]
        self.index[rows] = indices
        self.names[rows] = task.name_objects[split][indices]
        self.split_names[rows] = split
        inputs = puzzles.inputs[indices].astype(np.uint8)
        self.inputs[rows] = inputs
        self.labels[rows] = puzzles.labels[indices]
        self.answers[rows] = inputs if task.start == "input" else task.blank_token
        if task.fixed_cells is not None:
            self.fixed[rows] = task.fixed_cells(inputs)
        self.steps[rows] = 0
        self.scored[rows] = np.maximum(task.domain.scored_cells(self.labels[rows]), 1)
        if self.candidates is not None:
            self.candidates[rows] = task.candidates[split][indices]
        for key, buffer in self.extras.items():
            buffer[rows] = puzzles.extras[key][indices].reshape(len(indices), *buffer.shape[1:])
        self._measure(rows)

    def _measure(self, rows: np.ndarray | slice) -> None:
        """Distance to the nearest solution and the verifier's verdict (only distance-0 rows can pass)."""
        domain = self.task.domain
        if self.candidates is not None:  # no gathers of inputs and labels on the hot path
            dist = domain.distance_to_candidates(self.answers[rows], self.candidates[rows])
        else:
            dist = np.asarray(domain.distance(self.inputs[rows], self.answers[rows], self.labels[rows]), dtype=np.int64)
        solved = np.zeros(len(dist), dtype=bool)
        zero = np.flatnonzero(dist == 0) if self.task.distance_is_exact else np.arange(len(dist))
        if len(zero):
            at = np.arange(len(self.steps))[rows][zero]
            solved[zero] = domain.verify(self.inputs[at], self.answers[at], self.labels[at])
        self.distance[rows] = dist
        self.solved[rows] = solved

    def apply(self, rows: np.ndarray | slice, actions: np.ndarray) -> np.ndarray:
        """Apply validated ``actions`` (one per row) and return the rewards."""
        task = self.task
        before = self.distance[rows].copy()
        if task.action_mode == "refine":
            self.answers[rows] = actions
        else:
            rows = np.arange(len(self.steps))[rows]
            cell, value = np.divmod(actions, task.vocab)
            given = self.fixed[rows, cell]
            # A masked action (see action_masks) is legal and leaves the answer unchanged.
            ok = np.where(given, value == self.inputs[rows, cell], task.paintable_mask[value])
            self.answers[rows[ok], cell[ok]] = value[ok]
        self.steps[rows] += 1
        self._measure(rows)
        reward = (before - self.distance[rows]) / self.scored[rows]
        reward += task.success_bonus * self.solved[rows] - task.step_penalty
        return reward

    def observation(self, rows: np.ndarray | slice) -> dict[str, np.ndarray]:
        """Fresh arrays (never views of the state)."""
        obs = {
            "input": self.inputs[rows].copy(),
            "answer": self.answers[rows].copy(),
            "step": np.minimum(self.steps[rows], self.task.max_steps)[..., None].copy(),
        }
        for key, buffer in self.extras.items():
            obs[key] = buffer[rows].copy()
        return obs

    def info(self, rows: np.ndarray | slice) -> dict[str, np.ndarray]:
        return {
            "distance": self.distance[rows].copy(),
            "solved": self.solved[rows].copy(),
            "step": self.steps[rows].copy(),
            "puzzle_id": self.names[rows].copy(),
            "puzzle_index": self.index[rows].copy(),
            "split": self.split_names[rows].copy(),
        }

    def action_masks(self, rows: np.ndarray | slice) -> np.ndarray:
        """``[B, L * V]`` booleans in action order (cell-major): which token may go into which cell.

        A free cell takes any paintable token, a given cell only its input token (so a ``blank``
        start can put the givens back). The same layout serves edit mode (``Discrete(L * V)``) and
        refine mode (MaskablePPO's per-dimension masks for ``MultiDiscrete``).
        """
        free = ~self.fixed[rows]
        keep = np.arange(self.task.vocab) == self.inputs[rows][..., None]
        masks = np.where(free[..., None], self.task.paintable_mask, keep)
        return masks.reshape(len(free), -1)

    def render(self, row: int, mode: str | None) -> str | np.ndarray | None:
        domain = self.task.domain
        if mode == "ansi":
            head = (
                f"{self.split_names[row]} puzzle {self.names[row]}  step {self.steps[row]}"
                f"/{self.task.max_steps}  distance {self.distance[row]}"
                + ("  SOLVED" if self.solved[row] else "")
            )
            return "\n".join(
                [head, "input:", domain.render_text(self.inputs[row]), "answer:",
                 domain.render_text(self.answers[row])]
            )
        if mode == "rgb_array":
            return side_by_side([domain.render_rgb(self.inputs[row]), domain.render_rgb(self.answers[row])])
        return None


def check_actions(task: RefineTask, actions: Any, batch: int | None) -> np.ndarray:
    """``actions`` as an int64 array of shape ``(batch, *action_shape)`` (or the single action when
    ``batch`` is None), or a ValueError naming the expected space."""
    space = task.action_space
    shape = space.shape if batch is None else (batch, *space.shape)

    def error(problem: str) -> ValueError:
        batch_of = "" if batch is None else f"a batch of {batch} actions of "
        return ValueError(f"{problem}; expected {batch_of}{space} (shape {shape})")

    try:
        array = np.asarray(actions)
    except (TypeError, ValueError) as err:
        raise error(f"action is not an array: {err}") from None
    if array.shape != shape:
        raise error(f"action has shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise error(f"action has dtype {array.dtype}, not an integer type")
    high = task.vocab if task.action_mode == "refine" else task.seq_len * task.vocab
    array = array.astype(np.int64, copy=False)
    # One pass: as unsigned, a negative value is huge, so the maximum alone checks both ends.
    if array.size and array.view(np.uint64).max() >= high:
        raise error(f"action values must lie in [0, {high - 1}], got {array.min()}..{array.max()}")
    return array


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
        self._state = Episodes(task, 1)
        self._rows = np.zeros(1, dtype=np.int64)
        self._draws = PuzzleDraws(1)
        self._draw_rng: np.random.Generator | None = None
        self._done = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        split, index = _pick(self.task, options)
        if self._draw_rng is not self.np_random:  # seeded (or replaced): buffered draws are stale
            self._draw_rng = self.np_random
            self._draws.invalidate(self._rows)
        if index is None:
            index = int(self._draws.draw(self._rows, [self.np_random], np.array([len(self.task.sets[split])]))[0])
        self._state.load(self._rows, split, np.array([index]))
        self._done = False
        return self._obs(), self._info()

    def step(self, action: Any):
        if self._done:
            raise ResetNeeded("the episode has ended (solved or out of steps): call reset() before step()")
        action = check_actions(self.task, action, None)[None]
        reward = float(self._state.apply(self._rows, action)[0])
        terminated = bool(self._state.solved[0])
        truncated = not terminated and bool(self._state.steps[0] >= self.task.max_steps)
        self._done = terminated or truncated
        return self._obs(), reward, terminated, truncated, self._info()

    def action_masks(self) -> np.ndarray:
        """Boolean ``[cells * vocab]``: which actions change the answer (givens and padding masked)."""
        return self._state.action_masks(self._rows)[0]

    def render(self):
        return self._state.render(0, self.render_mode)

    def _obs(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self._state.observation(self._rows).items()}

    def _info(self) -> dict[str, Any]:
        info = self._state.info(self._rows)
        return {k: (v[0].item() if isinstance(v[0], np.generic) else v[0]) for k, v in info.items()}


def _pick(task: RefineTask, options: dict[str, Any] | None) -> tuple[str, int | None]:
    """The split and puzzle of a new episode from ``options``; puzzle None means draw one."""
    if not options:  # the common case (every autoreset): a uniform draw
        return task.split, None
    unknown = set(options) - {"split", "puzzle", "reset_mask"}
    if unknown:
        raise ValueError(f"unknown reset options {sorted(unknown)}; known: 'split', 'puzzle'")
    split = _choice("options['split']", options.get("split", task.split), SPLITS)
    task.require_puzzles(split)
    puzzle = options.get("puzzle")
    return split, None if puzzle is None else task.resolve(split, puzzle)


class PuzzleDraws:
    """Uniform puzzle draws for ``num`` episode streams, each from its own generator.

    A stream takes `BLOCK` uniforms from its generator at a time and uses one per drawn puzzle,
    so thousands of autoresets cost a few generator calls instead of one each. Scalar and vector
    envs draw the same way, so a sub-env still equals a scalar env seeded alike.
    """

    BLOCK = 64

    def __init__(self, num: int) -> None:
        self.buffer = np.zeros((num, self.BLOCK))
        self.position = np.full(num, self.BLOCK, dtype=np.int64)

    def invalidate(self, rows: np.ndarray | slice) -> None:
        """Forget buffered draws (the rows' generators were re-seeded)."""
        self.position[rows] = self.BLOCK

    def draw(self, rows: np.ndarray, rngs: Sequence[np.random.Generator], sizes: np.ndarray | int) -> np.ndarray:
        """One index in ``[0, sizes[j])`` for each row ``rows[j]`` (one size for all, or one each)."""
        for i in rows[self.position[rows] >= self.BLOCK]:
            self.buffer[i] = rngs[i].random(self.BLOCK)
            self.position[i] = 0
        u = self.buffer[rows, self.position[rows]]
        self.position[rows] += 1
        return np.minimum((u * sizes).astype(np.int64), sizes - 1)


class RefineVectorEnv(VectorEnv):
    """Vector-native refinement env: ``num_envs`` episodes stepped as one batch of numpy arrays.

    Sub-env ``i`` reset with ``seed=s`` behaves like a scalar env reset with ``seed=s + i`` (a list
    of seeds gives each its own). Autoreset follows Gymnasium's default NEXT_STEP mode: the step
    after an episode ends resets that sub-env (its action is ignored, reward 0, not done).
    Truncation happens here at ``max_steps`` (or an earlier ``max_episode_steps``).
    ``reset(options=...)`` takes ``split`` and ``puzzle`` (one value for all, or a list with one
    per sub-env) and Gymnasium's ``reset_mask`` (reset only those sub-envs).
    """

    metadata = {"render_modes": RENDER_MODES, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self, task: RefineTask, num_envs: int, render_mode: str | None = None, max_episode_steps: int | None = None
    ) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if render_mode is not None:
            _choice("render_mode", render_mode, RENDER_MODES)
        self.task = task
        self.num_envs = int(num_envs)
        self.render_mode = render_mode
        self.max_steps = task.max_steps
        # gym.make_vec(..., max_episode_steps=K) passes K here: truncate at K if it comes first,
        # as the TimeLimit that gym.make adds around a scalar env would.
        if max_episode_steps is not None and int(max_episode_steps) < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        self._limit = task.max_steps if max_episode_steps is None else min(task.max_steps, int(max_episode_steps))
        self.single_observation_space = task.observation_space
        self.single_action_space = task.action_space
        self.observation_space = batch_space(task.observation_space, self.num_envs)
        self.action_space = batch_space(task.action_space, self.num_envs)
        self._state = Episodes(task, self.num_envs)
        self._rngs = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self._draws = PuzzleDraws(self.num_envs)
        self._sizes = {split: len(puzzles) for split, puzzles in task.sets.items()}
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._started = False
        self._all = np.arange(self.num_envs)

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
            picks.append(_pick(self.task, one))
        self._load(rows, picks)
        self._autoreset[rows] = False
        self._started = True
        return self._state.observation(self._all), self._infos()

    def step(self, actions: Any):
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        actions = check_actions(self.task, actions, self.num_envs)
        restart = np.flatnonzero(self._autoreset)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        if len(restart) == 0:
            rewards[:] = self._state.apply(slice(None), actions)
        else:
            active = np.flatnonzero(~self._autoreset)
            if len(active):
                rewards[active] = self._state.apply(active, actions[active])
            split = self.task.split
            self._state.load(restart, split, self._draws.draw(restart, self._rngs, self._sizes[split]))
        terminated = self._state.solved.copy()
        truncated = ~terminated & (self._state.steps >= self._limit)
        if len(restart):
            terminated[restart] = False
            truncated[restart] = False
        self._autoreset = terminated | truncated
        return self._state.observation(self._all), rewards, terminated, truncated, self._infos()

    def action_masks(self) -> np.ndarray:
        """Boolean ``[num_envs, cells * vocab]`` (see `RefineEnv.action_masks`)."""
        return self._state.action_masks(slice(None))

    def render(self) -> tuple[Any, ...] | None:
        if self.render_mode is None:
            return None
        return tuple(self._state.render(i, self.render_mode) for i in range(self.num_envs))

    def _load(self, rows: np.ndarray, picks: list[tuple[str, int | None]]) -> None:
        splits = np.array([p[0] for p in picks])
        indices = np.array([-1 if p[1] is None else p[1] for p in picks], dtype=np.int64)
        drawn = indices < 0
        if drawn.any():
            sizes = np.array([self._sizes[split] for split in splits[drawn]], dtype=np.int64)
            indices[drawn] = self._draws.draw(rows[drawn], self._rngs, sizes)
        for split in SPLITS:
            chosen = splits == split
            if chosen.any():
                self._state.load(rows[chosen], split, indices[chosen])

    def _infos(self) -> dict[str, np.ndarray]:
        infos: dict[str, np.ndarray] = {}
        everyone = np.ones(self.num_envs, dtype=bool)
        for key, value in self._state.info(slice(None)).items():
            infos[key] = value
            infos["_" + key] = everyone.copy()
        return infos



@lru_cache(maxsize=8)
def _cached_sets(key: str) -> tuple[PuzzleSet, PuzzleSet]:
    from dis_rl.config import DataConfig
    from dis_rl.data import puzzle_sets

    return puzzle_sets(DataConfig(**json.loads(key)))


def puzzle_sets_for(
    domain: str, data: Any, own: dict[str, Any], defaults: dict[str, Any]
) -> tuple[PuzzleSet, PuzzleSet]:
    """An env's train/test puzzles, built by `dis_rl.data.puzzle_sets`, the path the trainer
    takes too, so that an env and a run with the same data config see the same puzzles.

    ``data``: a `DataConfig`, its dict (e.g. a checkpoint's ``config["data"]``) or None; then the
    env's own puzzle arguments ``own`` (as data keys) describe the data. Giving both is an error
    unless ``own`` equals the env's ``defaults``."""
    from dis_rl.config import DataConfig

    if data is None:
        fields = {"domain": domain, **own}
    else:
        changed = sorted(k for k in own if own[k] != defaults[k])
        if changed:
            raise ValueError(f"give the puzzles either as data=... or as arguments, not both (also given: {changed})")
        fields = dataclasses.asdict(data) if isinstance(data, DataConfig) else dict(data)
        if fields.setdefault("domain", domain) != domain:
            raise ValueError(f"data.domain is {fields['domain']!r}, but this is a {domain} env")
    cfg = DataConfig(**fields)  # unknown keys: TypeError naming them
    cfg.validate()
    return _cached_sets(json.dumps(dataclasses.asdict(cfg), sort_keys=True))
