"""One RL arm as one run: the YAML config (``dis-rl rl CONFIG``) and the runner `dis-rl compare` uses.

A config names the arm (``ppo_scratch``: `dis_rl.agents.ppo_scratch`; ``pg_finetune``:
`dis_rl.agents.pg_finetune`, whose ``algorithm`` picks REINFORCE, PPO-clip or GRPO) and holds that arm's
hyper-parameters in its section (``ppo:`` or ``finetune:``). Parsing reuses `dis_rl.config`'s strict
builder: unknown keys, wrong types and bad values fail before any work, naming the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dis_rl import runs
from dis_rl.agents.pg_finetune import PGArgs, finetune, pretraining_cost
from dis_rl.agents.ppo_scratch import PPOArgs, train_ppo
from dis_rl.arms import ArmRun
from dis_rl.checkpoint import CheckpointError, read_meta, resolve_checkpoint
from dis_rl.config import ConfigError, apply_overrides, build_config, locate_config, read_yaml

ARMS = ("ppo_scratch", "pg_finetune")


@dataclass
class RLConfig:
    name: str = "rl"
    out_dir: str = "runs"
    arm: str = "pg_finetune"  # ppo_scratch | pg_finetune
    seed: int = 0
    threads: int = 1  # torch CPU threads
    budget: runs.RunBudget = field(default_factory=runs.RunBudget)  # set by `dis-rl compare`
    ppo: PPOArgs = field(default_factory=PPOArgs)
    finetune: PGArgs = field(default_factory=PGArgs)

    def validate(self) -> None:
        runs.check_run_name(self.name)
        if self.arm not in ARMS:
            raise ValueError(f"arm must be one of {ARMS}, got {self.arm!r}")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        (self.ppo if self.arm == "ppo_scratch" else self.finetune).validate()
        if self.arm == "pg_finetune":
            _check_pretrained(self.finetune.checkpoint)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def starting_checkpoints(self) -> list[str]:
        """The checkpoints this arm trains from (`dis_rl.compare` reuses a result only while their
        content is unchanged)."""
        return [self.finetune.checkpoint] if self.arm == "pg_finetune" else []


SECTIONS = {"ppo_scratch": "ppo", "pg_finetune": "finetune"}  # the section each arm reads


def _check_pretrained(checkpoint: str) -> None:
    """Fail before any work when the checkpoint to fine-tune is missing, saying how to get one."""
    try:
        resolve_checkpoint(checkpoint)
    except CheckpointError as err:
        raise ValueError(f"finetune.checkpoint: {err}. Train it first (`dis-rl train nqueens_dis` writes "
                         "runs/nqueens_dis) or fine-tune the shipped one: finetune.checkpoint=nqueens_dis") from None


def rl_config_from_dict(data: dict, overrides: list[str] | None = None, source: str = "<dict>") -> RLConfig:
    """An `RLConfig`; keys of the other arm's section (``finetune.lr`` for ``arm: ppo_scratch``) are
    refused, since they would do nothing."""
    data = apply_overrides(data, overrides, example="finetune.lr=3e-5")
    arm = data.get("arm", RLConfig.arm)
    for other_arm, section in SECTIONS.items():
        if other_arm != arm and data.get(section):
            key = f"{section}.{next(iter(data[section]))}"
            raise ConfigError(f"{source}: {key} does nothing for arm {arm!r} (the {section}: section belongs to "
                              f"arm {other_arm}; this arm reads {SECTIONS.get(arm, '?')}:)")
    return build_config(RLConfig, data, source)


def load_rl_config(path: str | Path, overrides: list[str] | None = None) -> RLConfig:
    """An RL config from a YAML file or a shipped config name (``rl_nqueens_finetune``)."""
    path = locate_config(path)
    return rl_config_from_dict(read_yaml(path), overrides, source=str(path))


def run_rl(cfg: RLConfig, run_dir: str | Path | None = None, overwrite: bool = False,
           progress: bool = True) -> list[dict[str, Any]]:
    """Run the config's arm; returns its evaluation records (``eval_log.jsonl`` in the run folder).
    A folder holding an earlier run is refused unless ``overwrite`` (`dis_rl.runs`)."""
    run_dir = runs.run_folder_path(run_dir) if run_dir is not None else Path(cfg.out_dir) / cfg.name
    runs.check_run_dir(run_dir, overwrite=overwrite)
    with runs.folder_lock(run_dir, "rl"):
        runs.prepare_run_dir(run_dir, overwrite=overwrite)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        if cfg.arm == "ppo_scratch":
            return train_ppo(cfg.ppo, run_dir, cfg.seed, cfg.threads, cfg.budget, progress=progress)
        return finetune(cfg.finetune, run_dir, cfg.seed, cfg.threads, cfg.budget, progress=progress)


# -- `dis-rl compare` arms --------------------------------------------------------------------------

def load_arm(path: Path, overrides: list[str], seed: int, budget, eval_points: int) -> RLConfig:
    """The compare loader (`dis_rl.arms.ARM_LOADERS`): the RL config with the comparison's seed and budget."""
    forced = [f"seed={seed}"]
    if budget.network_calls:
        every = max(1, -(-budget.network_calls // eval_points))
        forced += [f"budget.max_network_calls={every * eval_points}", f"budget.eval_every_calls={every}"]
    else:
        forced += [f"budget.max_train_seconds={budget.seconds}",
                   f"budget.eval_every_seconds={budget.seconds / eval_points}"]
    # The arm's own iteration / step limits must not end it before the budget does.
    arm = load_rl_config(path, overrides).arm
    forced += (["finetune.iterations=1000000000", "finetune.eval_every=0"] if arm == "pg_finetune"
               else ["ppo.eval_every=1000000000"])
    return load_rl_config(path, [*overrides, *forced])


load_arm.keys = {f.name for f in dataclasses.fields(RLConfig)}  # what compare's shared overrides may set


def run_arm(cfg: RLConfig, run_dir: Path, progress: bool) -> ArmRun:
    records = run_rl(cfg, run_dir, progress=progress)
    # A fine-tuned arm starts where its pretraining ended: its curve is drawn after the
    # pretraining's network calls, env steps (examples x N_sup) and training seconds.
    calls0 = steps0 = 0
    seconds0 = 0.0
    if cfg.arm == "pg_finetune":
        folder = resolve_checkpoint(cfg.finetune.checkpoint)
        calls0, seconds0, steps0 = pretraining_cost(read_meta(folder), str(folder))
    evals = [{"network_calls": calls0 + r["network_calls"], "train_s": seconds0 + r["train_s"], "valid": r["valid"],
              "exact": r.get("exact", float("nan")), "env_steps": steps0 + r["env_steps"]} for r in records]
    last = records[-1]
    per_step = last["network_calls"] / max(last["env_steps"], 1)  # calls per env step, acting and learning
    start = {"network_calls": calls0, "train_s": seconds0, "env_steps": steps0}
    return ArmRun(evals, per_step, per_step, records[-1].get("parameters", 0), start)
