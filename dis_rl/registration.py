"""The Gymnasium env ids and their registration, by entry-point strings only.

Registering needs no env module: Gymnasium imports ``dis_rl.envs.<domain>`` when an env is first
made. ``import dis_rl`` calls `register_envs` (the convention of Gymnasium plugins such as MiniGrid
and ale-py), so the ids exist whenever dis_rl is imported, in either order with gymnasium.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

ENV_IDS = {
    "NQueensRefine-v0": "nqueens:NQueensRefine",
    "SudokuRefine-v0": "sudoku:SudokuRefine",
    "ARCRefine-v0": "arc:ARCRefine",
}
# The arguments every env takes, and each env's own, with their defaults: what `gym.spec(id).kwargs`
# shows (a test keeps them equal to the constructors' defaults).
EPISODE_KWARGS = {"action_mode": "refine", "max_steps": None, "start": "input", "split": "train",
                  "success_bonus": 1.0, "step_penalty": 0.0, "protocol": None, "attempts": None,
                  "render_cell": 0, "allow_test_label_feedback": False}
ENV_KWARGS = {
    "NQueensRefine-v0": {"num_train": 800, "num_test": 200, "puzzle_seed": 0, "augment": True,
                         "min_queens": 1, "max_queens": 7},
    "SudokuRefine-v0": {"csv_path": None, "test_csv_path": None, "strict": False, "num_train": 100,
                        "num_test": 20, "puzzle_seed": 0, "keep_fraction": 1.0, "multiple_solutions": "reject"},
    "ARCRefine-v0": {"source": "arc1", "strict": False},
}
# An episode that solves its puzzle returns at least the success bonus (1.0 by default): the
# distance can only have dropped, and the default step penalty is 0.
REWARD_THRESHOLD = 1.0

# The refine-mode env of each puzzle domain (``data.domain``).
DOMAIN_ENV_IDS = {"nqueens": "NQueensRefine-v0", "sudoku": "SudokuRefine-v0", "arc": "ARCRefine-v0"}


def make_refine_env(data: Any, num_envs: int | None = None, **kwargs: Any):
    """The refine-mode env of a data config's domain over exactly that config's puzzles (the trainer's
    `dis_rl.data.puzzle_sets`): ``data`` is a `DataConfig` or its dict, e.g. a checkpoint's ``config.data``.
    One Gymnasium env (``gym.make``) when ``num_envs`` is None, else the vector-native env of ``num_envs``;
    ``kwargs`` are the env's other arguments (``max_steps``, ``split``, rewards, ``render_mode``)."""
    register_envs()
    domain = data["domain"] if isinstance(data, dict) else data.domain
    if domain not in DOMAIN_ENV_IDS:
        raise ValueError(f"no refine env for data.domain {domain!r}; expected one of {sorted(DOMAIN_ENV_IDS)}")
    if num_envs is None:
        return gym.make(DOMAIN_ENV_IDS[domain], data=data, **kwargs)
    return gym.make_vec(DOMAIN_ENV_IDS[domain], num_envs=num_envs, data=data, **kwargs)


def register_envs() -> None:
    """Register the env ids with Gymnasium (idempotent)."""
    for env_id, target in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        module, name = target.split(":")
        # No max_episode_steps: the env owns its step limit (6 in refine mode, one per cell in
        # edit mode) and truncates itself; a TimeLimit at one fixed count would be wrong for a mode.
        # No OrderEnforcing: the env itself raises ResetNeeded for step/render/submit before reset.
        # No PassiveEnvChecker (two wrapper calls on every step): the test suite runs Gymnasium's
        # full check_env on every env and mode; gym.make(id, disable_env_checker=False) adds it back.
        gym.register(
            id=env_id,
            entry_point=f"dis_rl.envs.{module}:{name}Env",
            vector_entry_point=f"dis_rl.envs.{module}:{name}VectorEnv",
            reward_threshold=REWARD_THRESHOLD,
            order_enforce=False,
            disable_env_checker=True,
            kwargs={**EPISODE_KWARGS, **ENV_KWARGS[env_id]},
        )

