"""PPO from scratch (stable-baselines3) on the refine-mode env: the RL arm with no pretraining.

The policy is `dis_rl.agents.sb3_policy.TRMActorCriticPolicy` (token embeddings, backbone blocks, per-cell
heads, batched distribution) on the vector-native env through `SB3VecEnv`. A callback evaluates
the deterministic policy on every test board (valid completions: the env's verifier accepted the
answer within the step budget) and records accuracy against env steps and network calls in
``eval_log.jsonl``, the same records `dis_rl.agents.pg_finetune` writes.

Network calls: one policy forward per observation: every rollout step, the bootstrap value of each
rollout, and ``n_epochs`` passes over each rollout in training (evaluation is not counted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from dis_rl.agents.rl_args import arg, hparams_markdown
from dis_rl.agents.sb3_policy import TRMActorCriticPolicy
from dis_rl.agents.sb3_vecenv import SB3VecEnv
from dis_rl.config import DataConfig
from dis_rl.envs.core import REFINE_STEPS
from dis_rl.registration import make_refine_env
from dis_rl.runs import RunBudget, log_evaluation

DOMAINS = ("nqueens", "sudoku")  # domains whose refine env PPO from scratch supports


@dataclass
class PPOArgs:
    """Every hyper-parameter of a PPO-from-scratch run (the ``ppo:`` section of an RL config)."""

    data: DataConfig = arg(DataConfig(), "the puzzles: a run config's data section (domain nqueens | sudoku); the "
                           "DIS config's, so the test boards match")
    max_steps: int = arg(REFINE_STEPS, "refinement steps per episode")
    success_bonus: float = arg(1.0, "env reward for solving")
    step_penalty: float = arg(0.0, "env reward subtracted per step")
    total_env_steps: int = arg(100_000, "PPO.learn(total_timesteps)")
    max_seconds: float = arg(0.0, "stop at the first evaluation after this many seconds (0: no limit)")
    num_envs: int = arg(32, "parallel episodes of the vector env")
    n_steps: int = arg(32, "rollout length per env")
    batch_size: int = arg(256, "minibatch size")
    n_epochs: int = arg(4, "passes over each rollout")
    lr: float = arg(3e-4, "Adam learning rate")
    gamma: float = arg(0.99, "discount")
    gae_lambda: float = arg(0.95, "GAE lambda")
    clip_range: float = arg(0.2, "ratio clip")
    ent_coef: float = arg(0.0, "entropy bonus")
    vf_coef: float = arg(0.5, "value loss weight")
    max_grad_norm: float = arg(0.5, "gradient-norm clip")
    hidden: int = arg(64, "backbone width")
    layers: int = arg(2, "backbone blocks")
    heads: int = arg(2, "attention heads")
    # The supervised N-Queens runs stay at the copy-the-input plateau with attention (RoPE over the
    # flattened board sees offsets, and "same row" is no function of the offset): mlp, as the demo.
    variant: str = arg("mlp", "backbone block: mlp (TRM's token-MLP, the demo's) | attention")
    eval_every: int = arg(10_000, "env steps between evaluations on the test boards")

    def validate(self) -> None:
        self.data.validate()
        if self.data.domain not in DOMAINS:
            raise ValueError(f"ppo.data.domain must be one of {list(DOMAINS)}, got {self.data.domain!r}")
        for name in ("max_steps", "total_env_steps", "num_envs", "n_steps", "batch_size",
                     "n_epochs", "hidden", "heads", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"ppo.{name} must be >= 1, got {getattr(self, name)}")
        if self.variant not in ("mlp", "attention"):
            raise ValueError(f"ppo.variant must be mlp or attention, got {self.variant!r}")
        if self.lr <= 0 or self.layers < 0 or self.max_seconds < 0:
            raise ValueError("ppo.lr must be > 0, ppo.layers and ppo.max_seconds >= 0")

    def make_env(self, num_envs: int, **kwargs: Any):
        """The vector-native refine env over ``data``'s puzzles with this run's steps and rewards."""
        return make_refine_env(self.data, num_envs, max_steps=self.max_steps, success_bonus=self.success_bonus,
                               step_penalty=self.step_penalty, **kwargs)


def evaluate_policy_on_test(model: PPO, args: PPOArgs) -> tuple[float, float]:
    """Shares of test puzzles whose final answer (after the step budget) the domain's verifier
    accepts and equals the stored label. The run scores itself from the data layer's labels: the
    env's test split holds none, and its scorer answers each test board only once per process,
    which would leave every evaluation after the first unscored."""
    from dis_rl.data import puzzle_sets
    from dis_rl.puzzles import get_domain

    test = puzzle_sets(args.data)[1]
    count, labels = len(test), test.labels
    env = args.make_env(count, split="test")
    obs, _ = env.reset(options={"split": "test", "puzzle": list(range(count))})
    solved = np.zeros(count, dtype=bool)
    exact = np.zeros(count, dtype=bool)
    running = np.ones(count, dtype=bool)
    domain = get_domain(args.data.domain)
    while running.any():
        action, _ = model.predict(obs, deterministic=True)
        obs, _, terminated, truncated, infos = env.step(action)
        ended = running & (terminated | truncated)
        if ended.any():
            solved[ended] = domain.verify(test.inputs[ended], obs["answer"][ended], labels[ended])
        exact[ended] = ((obs["answer"][ended] == labels[ended]) | (labels[ended] == 0)).all(axis=1)
        running &= ~(terminated | truncated)
    env.close()
    return float(solved.mean()), float(exact.mean())


class _EvalCallback(BaseCallback):
    def __init__(self, args: PPOArgs, run_dir: Path, writer, budget: RunBudget, progress: bool = True) -> None:
        from dis_rl.progress import BudgetBar

        super().__init__()
        self.bar = BudgetBar("ppo_scratch", budget.max_network_calls, budget.max_train_seconds,
                             args.total_env_steps, "env step", progress)
        self.args, self.run_dir, self.writer, self.budget = args, run_dir, writer, budget
        self.network_calls = 0
        self.train_s = 0.0
        self.clock = time.perf_counter()
        self.stop = False
        self.next_eval = 0
        self.started = time.perf_counter()
        self.records: list[dict[str, Any]] = []

    def evaluate(self) -> None:
        self.train_s += time.perf_counter() - self.clock
        valid, exact = evaluate_policy_on_test(self.model, self.args)
        steps = int(self.model.num_timesteps)
        record = {"env_steps": steps, "network_calls": self.network_calls, "train_s": round(self.train_s, 3),
                  "elapsed_s": round(time.perf_counter() - self.started, 3), "valid": valid, "exact": exact,
                  "parameters": sum(p.numel() for p in self.model.policy.parameters())}
        log_evaluation(self.run_dir, record, self.writer, steps)
        self.records.append(record)
        self.bar.write(f"env steps {steps:,}  network calls {self.network_calls:,}  valid {100 * valid:.1f}%")
        self.bar.set_postfix(valid=f"{100 * valid:.1f}%")
        self.next_eval = steps + self.args.eval_every
        self.clock = time.perf_counter()

    def _on_training_start(self) -> None:
        self.evaluate()

    def _on_step(self) -> bool:
        if self.stop:
            return False
        self.network_calls += self.training_env.num_envs
        # Between env steps too, not only at rollout ends: a rollout (and the update before it) can
        # outlast a short seconds budget many times over. Stopping here skips the pending update.
        now_s = self.train_s + time.perf_counter() - self.clock
        wall = time.perf_counter() - self.started
        if (self.args.max_seconds and wall >= self.args.max_seconds) or self.budget.exhausted(
                self.network_calls, now_s, wall):
            self.evaluate()
            self.stop = True
            return False
        return True

    def _on_rollout_end(self) -> None:
        # The bootstrap value, then n_epochs passes over the rollout that is about to train.
        a = self.args
        calls_before, s_before = self.network_calls, self.train_s
        self.network_calls += a.num_envs + a.n_epochs * a.n_steps * a.num_envs
        now_s = self.train_s + time.perf_counter() - self.clock
        self.writer.add_scalar("charts/network_calls", self.network_calls, self.model.num_timesteps)
        stop = (a.max_seconds and time.perf_counter() - self.started >= a.max_seconds) or self.budget.exhausted(
            self.network_calls, now_s, time.perf_counter() - self.started)
        if (self.model.num_timesteps >= self.next_eval or stop
                or self.budget.crossed(calls_before, self.network_calls, s_before, now_s)):
            self.evaluate()
        self.bar.advance(self.network_calls, now_s, self.model.num_timesteps)
        if stop:
            self.stop = True  # _on_step ends learn() at the next rollout's first step



def train_ppo(args: PPOArgs, run_dir: str | Path, seed: int = 0, threads: int = 1,
              budget: RunBudget | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Train PPO from scratch and return the evaluation records (also in ``eval_log.jsonl``);
    ``progress``: a bar over the env steps (or the compare budget)."""
    args.validate()
    if threads:
        torch.set_num_threads(threads)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "eval_log.jsonl").write_text("")
    venv = SB3VecEnv(args.make_env(args.num_envs))
    venv.seed(seed)
    model = PPO(
        TRMActorCriticPolicy, venv, learning_rate=args.lr, n_steps=args.n_steps, batch_size=args.batch_size,
        n_epochs=args.n_epochs, gamma=args.gamma, gae_lambda=args.gae_lambda, clip_range=args.clip_range,
        ent_coef=args.ent_coef, vf_coef=args.vf_coef, max_grad_norm=args.max_grad_norm, seed=seed, device="cpu",
        tensorboard_log=None,
        policy_kwargs={"features_extractor_kwargs": {"hidden": args.hidden, "layers": args.layers,
                                                     "heads": args.heads, "variant": args.variant}},
    )
    from stable_baselines3.common.logger import configure
    from torch.utils.tensorboard import SummaryWriter

    # SB3's own scalars (train/..., rollout/...) go to tb/sb3; ours to tb/.
    model.set_logger(configure(str(run_dir / "tb" / "sb3"), ["tensorboard"]))
    writer = SummaryWriter(str(run_dir / "tb"))
    writer.add_text("hyperparameters", hparams_markdown(args))
    callback = _EvalCallback(args, run_dir, writer, budget or RunBudget(), progress)
    total = args.total_env_steps if not (budget and (budget.max_network_calls or budget.max_train_seconds)) else 10**12
    model.learn(total, callback=callback)
    if not callback.stop and (not callback.records or callback.records[-1]["env_steps"] != model.num_timesteps):
        callback.evaluate()
    callback.bar.close()
    model.save(str(run_dir / "ppo_policy.zip"))
    writer.close()
    venv.close()
    return callback.records
