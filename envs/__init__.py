"""Gymnasium environments over the project's puzzles: iterative refinement episodes.

Importing this package registers ``NQueensRefine-v0``, ``SudokuRefine-v0`` and ``ARCRefine-v0``,
each with a vector-native ``vector_entry_point``; ``gym.make("envs:ARCRefine-v0")`` works with no
prior import. Registration is cheap: the env modules load only when an env is made.
"""

from __future__ import annotations

import gymnasium as gym

ENV_IDS = {
    "NQueensRefine-v0": "nqueens:NQueensRefineVectorEnv",
    "SudokuRefine-v0": "sudoku:SudokuRefineVectorEnv",
    "ARCRefine-v0": "arc:ARCRefineVectorEnv",
}


def register_envs() -> None:
    """Register the env ids with Gymnasium (idempotent)."""
    for env_id, vector in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        module, vector_class = vector.split(":")
        gym.register(
            id=env_id,
            entry_point=f"envs.{module}:make",
            vector_entry_point=f"envs.{module}:{vector_class}",
        )


register_envs()

__all__ = ["ENV_IDS", "register_envs"]
