"""The Gymnasium env ids and their registration, by entry-point strings only.

Registering needs no env module: Gymnasium imports ``envs.<domain>`` when an env is first made. This
module imports neither gymnasium nor numpy at import time, so ``import dis_rl.puzzles`` (which runs
``dis_rl/__init__``) stays free of gymnasium; ``import dis_rl`` still makes the ids available
(`register_when_gymnasium_loads`).
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.abc import MetaPathFinder
from typing import Any

ENV_IDS = {
    "NQueensRefine-v0": "nqueens:NQueensRefineVectorEnv",
    "SudokuRefine-v0": "sudoku:SudokuRefineVectorEnv",
    "ARCRefine-v0": "arc:ARCRefineVectorEnv",
}

# The refine-mode env of each puzzle domain (``data.domain``).
DOMAIN_ENV_IDS = {"nqueens": "NQueensRefine-v0", "sudoku": "SudokuRefine-v0", "arc": "ARCRefine-v0"}


def make_refine_env(data: Any, num_envs: int | None = None, **kwargs: Any):
    """The refine-mode env of a data config's domain over exactly that config's puzzles (the trainer's
    `dis_rl.data.puzzle_sets`): ``data`` is a `DataConfig` or its dict, e.g. a checkpoint's ``config.data``.
    One Gymnasium env (``gym.make``) when ``num_envs`` is None, else the vector-native env of ``num_envs``;
    ``kwargs`` are the env's other arguments (``max_steps``, ``split``, rewards, ``render_mode``)."""
    import gymnasium as gym

    register_envs()
    domain = data["domain"] if isinstance(data, dict) else data.domain
    if domain not in DOMAIN_ENV_IDS:
        raise ValueError(f"no refine env for data.domain {domain!r}; expected one of {sorted(DOMAIN_ENV_IDS)}")
    if num_envs is None:
        return gym.make(DOMAIN_ENV_IDS[domain], data=data, **kwargs)
    return gym.make_vec(DOMAIN_ENV_IDS[domain], num_envs=num_envs, data=data, **kwargs)


def register_envs() -> None:
    """Register the env ids with Gymnasium (idempotent)."""
    import gymnasium as gym

    for env_id, vector in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        module, vector_class = vector.split(":")
        gym.register(
            id=env_id,
            entry_point=f"envs.{module}:make",
            vector_entry_point=f"envs.{module}:{vector_class}",
        )


class _RegisterAfterGymnasium(MetaPathFinder):
    """Runs `register_envs` right after ``gymnasium`` is first imported, then steps aside.

    Why: ``import dis_rl`` promises the ids, but importing gymnasium eagerly would make every
    numpy-only layer (``dis_rl.puzzles``, ``dis_rl.config``) load it too.
    """

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 (importlib's signature)
        if fullname != "gymnasium":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)  # the ordinary finders, this one removed
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module) -> None:  # noqa: ANN001
            exec_module(module)
            register_envs()

        spec.loader.exec_module = exec_then_register
        return spec


def register_when_gymnasium_loads() -> None:
    """Register now if gymnasium is loaded, else as soon as it is (no import of gymnasium here)."""
    if "gymnasium" in sys.modules:
        register_envs()
    elif not any(isinstance(f, _RegisterAfterGymnasium) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterGymnasium())
