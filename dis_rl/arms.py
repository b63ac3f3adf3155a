"""The arm kinds `dis-rl compare` can run, by name: each a runner that trains one arm x seed and returns
its `ArmRun`. Below both the comparison and the agents, so the RL arms (`dis_rl.agents.rl_arm`) register their
kinds without importing the comparison above them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ArmRun:
    """One arm x seed: its evaluations (in order) and what an example cost."""

    evals: list[dict]  # each: network_calls, train_s, valid, exact, env_steps
    calls_per_example: float  # schedule: most calls one example can cost per batch
    realised_calls_per_example: float  # mean calls an example actually cost
    parameters: int = 0
    # Where the arm's own budget starts on each counter (network_calls, train_s, env_steps): a
    # fine-tuned arm's evaluations include its pretraining, its budget does not. Empty: at 0.
    start: dict = field(default_factory=dict)


ARM_KINDS: dict[str, Callable[[Any, Path, bool], ArmRun]] = {}  # dis_rl.compare adds dis and trm
# Arm kinds whose config is not a train config: ``loader(path, overrides, seed, budget, eval_points)``
# returns the arm's resolved config (with ``name``, ``seed`` and ``to_dict()``).
ARM_LOADERS: dict[str, Callable] = {}


def register_arm_kind(kind: str, runner: Callable[[Any, Path, bool], ArmRun],
                      loader: Callable | None = None) -> None:
    """Add an arm kind (e.g. ``rl``): ``runner(run_config, run_dir, progress) -> ArmRun``."""
    ARM_KINDS[kind] = runner
    if loader is not None:
        ARM_LOADERS[kind] = loader
