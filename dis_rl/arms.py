"""The arm kinds `dis-rl compare` can run, as one plain table: kind -> the runner that trains one arm x
seed and returns its `ArmRun`. Below both the comparison and the agents: the table names its runners as
``"module:function"`` strings, imported when an arm of that kind runs, so this layer imports neither the
comparison nor the RL arms (torch, SB3) above it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field


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


# kind -> ``runner(run_config, run_dir, progress) -> ArmRun``. A new kind is a new row (a callable works
# too, e.g. a test's stand-in).
ARM_KINDS: dict[str, str | Callable] = {
    "dis": "dis_rl.compare.arm_runs:run_supervised",
    "trm": "dis_rl.compare.arm_runs:run_supervised",
    "ppo_scratch": "dis_rl.agents.rl_arm:run_arm",
    "pg_finetune": "dis_rl.agents.rl_arm:run_arm",
}
# Kinds whose config is not a train config: ``loader(path, overrides, seed, budget, eval_points)`` returns
# the arm's resolved config (with ``name``, ``seed`` and ``to_dict()``); the loader's ``keys`` are the
# top-level keys that config has (what the comparison's shared overrides may set).
ARM_LOADERS: dict[str, str | Callable] = {
    "ppo_scratch": "dis_rl.agents.rl_arm:load_arm",
    "pg_finetune": "dis_rl.agents.rl_arm:load_arm",
}


def resolve(entry: str | Callable) -> Callable:
    """A table entry's function: ``"module:function"`` imported now, a callable as it is."""
    if callable(entry):
        return entry
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)
