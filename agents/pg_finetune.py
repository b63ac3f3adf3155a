"""Policy-gradient fine-tuning of a pretrained TRM in the refinement envs (CleanRL-style, one file).

The policy is the CFG agent's per-cell distribution: at refinement step ``t`` the model makes one
step from its carry and every cell's next token is drawn from
``softmax((l_u + w (l_c - l_u)) / temperature)`` (``l_u``/``l_c``: readouts before/after the step's
reasoning update; `dis_rl.rollout.refine_step`, the step `dis_rl.agents.cfg_agent.CFGAgent`
takes). An episode is the refinement steps of one
puzzle in the refine-mode env, batched through the vector-native env; the rewards are the env's
(drop in distance to the nearest solution, plus the success bonus). The carry is detached between
steps (as in DIS training), so each step's log-probability depends on that step's computation only.

Algorithms (``algorithm``):

- ``reinforce``: return-to-go minus a baseline: ``baseline=mean`` (the batch's mean return-to-go
  at that step) or ``baseline=learned`` (a small value head on the carry).
- ``ppo``: the clipped surrogate over ``update_epochs`` passes; advantages by GAE with the learned
  value head (``baseline=learned``) or return-to-go minus the mean baseline.
- ``grpo``: ``group_size`` sampled refinements of each puzzle; an episode's advantage is its return
  standardised within its group (no value function), with the clipped surrogate.

``kl_coef > 0`` adds ``KL(pi || pi_pretrained)`` (exact, summed over cells) to the loss. The clip
ratio is per cell (``clip_per=cell``, the factored action's parts, like GRPO's per-token ratio) or
for the whole answer (``clip_per=action``). TensorBoard: ``losses/...``, ``charts/...``,
``eval/valid``; ``eval_log.jsonl`` records accuracy against env steps and network calls.

One file past 400 lines on purpose, as CleanRL keeps its algorithms: the config, the rollout, the
three advantage rules and the update read top to bottom in the order one iteration runs them, and
none of them has a second user to share a smaller module with.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dis_rl.agents.rl_args import arg, hparams_markdown
from dis_rl.data import puzzle_sets
from dis_rl.model.trm import TRM, Carry
from dis_rl.policy_kl import policy_kl
from dis_rl.puzzles import get_domain
from dis_rl.puzzles.answers import answer_sets
from dis_rl.registration import make_refine_env
from dis_rl.rollout import refine_step
from dis_rl.runs import RunBudget

ALGORITHMS = ("reinforce", "ppo", "grpo")
BASELINES = ("mean", "learned")
DOMAINS = ("nqueens",)  # domains whose refine env the fine-tuning supports


@dataclass
class PGArgs:
    """Every hyper-parameter of a fine-tuning run (the ``finetune:`` section of an RL config)."""

    checkpoint: str = arg("", "pretrained DIS/TRM checkpoint (run folder, checkpoints/ or step folder)")
    algorithm: str = arg("grpo", "reinforce | ppo | grpo")
    baseline: str = arg("mean", "reinforce/ppo baseline: mean (batch mean return-to-go) | learned (value head)")
    w: float = arg(1.0, "guidance scale of the policy's logits l_u + w (l_c - l_u) (the CFG agent's w)")
    temperature: float = arg(1.0, "sampling temperature of the per-cell distribution (> 0)")
    steps: int = arg(0, "refinement steps per episode (0: the checkpoint's supervision_steps)")
    puzzles_per_batch: int = arg(16, "distinct training puzzles per iteration")
    focus: str = arg("all", "training puzzles drawn from: all | several (boards with more than one valid answer)")
    group_size: int = arg(8, "sampled refinements per puzzle (GRPO's K; also used by reinforce/ppo)")
    iterations: int = arg(100, "training iterations (one batch of episodes and its update each)")
    max_env_steps: int = arg(0, "stop after this many env steps (0: no limit)")
    max_seconds: float = arg(0.0, "stop after this many seconds (0: no limit)")
    lr: float = arg(1e-4, "AdamW learning rate of the model")
    value_lr: float = arg(1e-3, "learning rate of the value head (baseline=learned)")
    weight_decay: float = arg(0.0, "AdamW weight decay")
    gamma: float = arg(1.0, "discount (an episode is a few refinement steps: 1 keeps the env's total)")
    gae_lambda: float = arg(0.95, "GAE lambda (ppo with baseline=learned)")
    update_epochs: int = arg(2, "passes over each batch (ppo/grpo; reinforce always 1)")
    clip_coef: float = arg(0.2, "PPO/GRPO ratio clip")
    clip_per: str = arg("cell", "where the ratio is clipped: cell (per cell) | action (the whole answer)")
    ent_coef: float = arg(0.0, "entropy bonus (entropy summed over cells)")
    kl_coef: float = arg(0.0, "weight of KL(pi || pretrained pi); 0 disables")
    vf_coef: float = arg(0.5, "value loss weight (baseline=learned)")
    max_grad_norm: float = arg(1.0, "global gradient-norm clip (0: none)")
    norm_adv: bool = arg(True, "standardise advantages over the batch (reinforce/ppo)")
    success_bonus: float = arg(1.0, "env reward for solving the puzzle")
    step_penalty: float = arg(0.0, "env reward subtracted per step")
    eval_every: int = arg(10, "iterations between evaluations on the test boards (0: start and end only)")
    eval_batch_size: int = arg(200, "test puzzles per evaluation forward pass")
    log_every: int = arg(1, "iterations between TensorBoard scalars")
    keep_checkpoints: int = arg(1, "checkpoints kept: 1 saves the end only; N > 1 saves one at every evaluation "
                                   "and keeps the last N (a policy's path away from the pretrained one)")

    def validate(self) -> None:
        if not self.checkpoint:
            raise ValueError("finetune.checkpoint is required: a pretrained DIS/TRM run folder or checkpoint")
        for name, allowed in (("algorithm", ALGORITHMS), ("baseline", BASELINES), ("clip_per", ("cell", "action")),
                              ("focus", ("all", "several"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"finetune.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("puzzles_per_batch", "group_size", "iterations", "update_epochs", "eval_batch_size", "log_every",
                     "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"finetune.{name} must be >= 1, got {getattr(self, name)}")
        if self.algorithm == "grpo" and self.group_size < 2:
            raise ValueError("finetune.group_size must be >= 2 for grpo (advantages are relative within a group)")
        if self.temperature <= 0 or self.lr <= 0:
            raise ValueError("finetune.temperature and finetune.lr must be > 0")
        for name in ("steps", "max_env_steps", "max_seconds", "kl_coef", "ent_coef", "eval_every", "clip_coef"):
            if getattr(self, name) < 0:
                raise ValueError(f"finetune.{name} must be >= 0, got {getattr(self, name)}")


# -- advantages (pure functions over [episodes, steps] arrays; `alive` marks steps that happened) --

def returns_to_go(rewards: torch.Tensor, alive: torch.Tensor, gamma: float) -> torch.Tensor:
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        running = (rewards[:, t] + gamma * running) * alive[:, t]
        out[:, t] = running
    return out


def mean_baseline_advantages(returns: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
    """Return-to-go minus its mean over the episodes still running at that step."""
    alive = alive.float()
    baseline = (returns * alive).sum(0) / alive.sum(0).clamp(min=1)
    return (returns - baseline) * alive


def group_relative_advantages(returns: torch.Tensor, alive: torch.Tensor, group_size: int,
                              eps: float = 1e-6) -> torch.Tensor:
    """GRPO: an episode's total return standardised within its group of ``group_size`` rows
    (consecutive rows share a puzzle), given to every step of the episode."""
    total = returns[:, 0].reshape(-1, group_size)
    std = total.std(dim=1, keepdim=True, unbiased=False)
    adv = (total - total.mean(dim=1, keepdim=True)) / (std + eps)
    return adv.reshape(-1, 1) * alive.float()


def gae_advantages(rewards: torch.Tensor, values: torch.Tensor, alive: torch.Tensor, gamma: float,
                   lam: float) -> torch.Tensor:
    """GAE with ``values [N, S]`` of the states each step acted in; the state after an episode's
    last step is terminal (value 0): the step budget is the task's, not an arbitrary cut."""
    n, steps = rewards.shape
    adv = torch.zeros_like(rewards)
    running = torch.zeros(n, dtype=rewards.dtype)
    for t in reversed(range(steps)):
        next_alive = alive[:, t + 1].float() if t + 1 < steps else torch.zeros(n)
        next_value = values[:, t + 1] if t + 1 < steps else torch.zeros(n)
        delta = rewards[:, t] + gamma * next_value * next_alive - values[:, t]
        running = (delta + gamma * lam * next_alive * running) * alive[:, t].float()
        adv[:, t] = running
    return adv


# -- the policy ---------------------------------------------------------------------------------

class CarryValueHead(nn.Module):
    """Baseline from the (detached) carry the step starts from: mean-pooled ``y`` plus the step."""

    def __init__(self, hidden: int, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.net = nn.Sequential(nn.Linear(hidden + steps, 64), nn.Tanh(), nn.Linear(64, 1))

    def forward(self, carry_y: torch.Tensor, step: int) -> torch.Tensor:
        onehot = F.one_hot(torch.full(carry_y.shape[:1], step - 1), self.steps).float()
        return self.net(torch.cat([carry_y.mean(dim=1).float(), onehot], dim=-1)).squeeze(-1)


def policy_step(model: TRM, carry: Carry, inputs: torch.Tensor, answers: torch.Tensor, pids: torch.Tensor,
                step: int, step_input: str, w: float, temperature: float) -> tuple[Carry, torch.Tensor]:
    """One refinement step as a policy: ``(next carry, per-cell log-probs [B, L, V])``. The same
    step the CFG agent takes (`dis_rl.rollout.refine_step`: the guided logits ``l_w``), with the
    current answer as the previous prediction; the sampling happens outside (with gradients off)."""
    previous = answers if step > 1 else None
    out = refine_step(model, carry, inputs, pids, step, previous, step_input, w)
    return out.output.carry, torch.log_softmax(out.guided.float() / temperature, dim=-1)


def replay(model: TRM, batch: dict[str, torch.Tensor], args: PGArgs, step_input: str, value_head=None):
    """Re-run the policy over stored episodes: per step the log-prob tables, and the values."""
    inputs, pids, answers = batch["inputs"], batch["pids"], batch["answers"]
    carry = model.initial_carry(inputs.shape[0])
    tables, values = [], []
    for t in range(answers.shape[1]):
        if value_head is not None:
            values.append(value_head(carry.y, t + 1))
        carry, log_p = policy_step(model, carry, inputs, answers[:, t], pids, t + 1, step_input, args.w,
                                   args.temperature)
        tables.append(log_p)
    return tables, (torch.stack(values, 1) if values else None)


def sample(log_p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One token per cell (Gumbel-max)."""
    uniform = torch.rand(log_p.shape, generator=generator).clamp_(min=1e-20)
    return (log_p - (-uniform.log()).log()).argmax(dim=-1)


# -- one iteration in three phases: collect, advantages, update ---------------------------------

@dataclass
class Episodes:
    """One iteration's episodes, ``N`` rows (``group_size`` consecutive rows share a puzzle) of up to ``S`` steps."""

    inputs: torch.Tensor  # [N, L] the puzzles
    pids: torch.Tensor  # [N] their embedding ids
    answers: torch.Tensor  # [N, S, L] the answer each step acted on
    actions: torch.Tensor  # [N, S, L] the sampled next answers
    old_logp: torch.Tensor  # [N, S, L] per-cell log-probability of the sampled token when it was sampled
    rewards: torch.Tensor  # [N, S]
    alive: torch.Tensor  # [N, S] bool: the step happened (the episode had not ended)
    solved: torch.Tensor  # [N] bool
    env_steps: int  # steps that happened, summed over rows
    policy_steps: int  # refinement steps the model ran over all N rows (an episode batch may end early)

    def replay_batch(self) -> dict[str, torch.Tensor]:
        return {"inputs": self.inputs, "pids": self.pids, "answers": self.answers}


def training_pool(train_set, focus: str) -> np.ndarray:
    """The training puzzles episodes are drawn from: ``all``, or ``several``: the boards with more
    than one valid answer (their answer sets, `dis_rl.puzzles.answers`: a property of the input and
    the rules, not of the stored label). A group of a board the policy already solves every time
    has zero advantage and teaches nothing, so ``several`` spends the budget where the pretrained
    policy mode-averages."""
    if focus == "all":
        return np.arange(len(train_set))
    sets = answer_sets(get_domain(train_set.domain), train_set.inputs, train_set.labels)
    pool = np.flatnonzero(sets.multiple)
    if not len(pool):
        raise ValueError("finetune.focus several: no training board has more than one valid answer")
    return pool


def collect(model: TRM, env, train_set, args: PGArgs, steps: int, step_input: str, rng: np.random.Generator,
            generator: torch.Generator, pool: np.ndarray | None = None) -> Episodes:
    """Phase 1: ``group_size`` sampled refinements of each of ``puzzles_per_batch`` training puzzles
    (drawn from ``pool``, default all), no gradients."""
    num_envs = args.puzzles_per_batch * args.group_size
    pool = np.arange(len(train_set)) if pool is None else pool
    puzzles = np.repeat(pool[rng.integers(0, len(pool), args.puzzles_per_batch)], args.group_size)
    obs, info = env.reset(seed=int(rng.integers(2**31)), options={"split": "train", "puzzle": puzzles.tolist()})
    inputs = torch.from_numpy(obs["input"].astype(np.int64))
    pids = torch.from_numpy(np.asarray(info["puzzle_id"], dtype=np.int64))  # the env says which puzzle it is
    seq_len = inputs.shape[1]
    answers = torch.zeros(num_envs, steps, seq_len, dtype=torch.long)
    actions = torch.zeros_like(answers)
    old_logp = torch.zeros(num_envs, steps, seq_len)
    rewards = torch.zeros(num_envs, steps)
    alive = torch.zeros(num_envs, steps, dtype=torch.bool)
    running = torch.ones(num_envs, dtype=torch.bool)
    solved = torch.zeros(num_envs, dtype=torch.bool)
    env_steps = policy_steps = 0
    carry = model.initial_carry(num_envs)
    with torch.no_grad():
        for t in range(steps):
            answers[:, t] = torch.from_numpy(obs["answer"].astype(np.int64))
            carry, log_p = policy_step(model, carry, inputs, answers[:, t], pids, t + 1, step_input, args.w,
                                       args.temperature)
            action = sample(log_p, generator)
            actions[:, t], alive[:, t] = action, running
            old_logp[:, t] = log_p.gather(-1, action[..., None]).squeeze(-1)
            obs, reward, terminated, truncated, _ = env.step(action.numpy())
            rewards[:, t] = torch.from_numpy(reward).float() * running
            solved |= torch.from_numpy(terminated) & running
            env_steps += int(running.sum())
            policy_steps += 1
            running &= ~torch.from_numpy(terminated | truncated)
            if not running.any():
                break
    return Episodes(inputs, pids, answers, actions, old_logp, rewards, alive, solved, env_steps, policy_steps)


@dataclass
class Advantages:
    advantages: torch.Tensor  # [N, S]
    returns: torch.Tensor  # [N, S] return-to-go (the value head's target)
    ref_tables: list[torch.Tensor] | None  # the pretrained policy's log-prob tables per step (kl_coef > 0)
    replays: int  # replays of the whole batch this phase ran (value estimates, the reference policy)


def compute_advantages(model: TRM, reference: TRM | None, value_head: CarryValueHead | None, ep: Episodes,
                       args: PGArgs, step_input: str) -> Advantages:
    """Phase 2: GRPO's group-relative advantages, GAE (ppo + learned), return minus the learned value
    (reinforce + learned) or return minus the mean baseline; then, except for GRPO, standardised."""
    returns = returns_to_go(ep.rewards, ep.alive, args.gamma)
    alive, values, replays = ep.alive, None, 0
    if value_head is not None:
        with torch.no_grad():
            _, values = replay(model, ep.replay_batch(), args, step_input, value_head)
        replays += 1
    if args.algorithm == "grpo":
        advantages = group_relative_advantages(returns, alive, args.group_size)
    elif values is not None and args.algorithm == "ppo":
        advantages = gae_advantages(ep.rewards, values, alive, args.gamma, args.gae_lambda)
    elif values is not None:
        advantages = (returns - values) * alive
    else:
        advantages = mean_baseline_advantages(returns, alive)
    if args.norm_adv and args.algorithm != "grpo" and alive.sum() > 1:
        live = advantages[alive]
        advantages = (advantages - live.mean()) / (live.std() + 1e-8) * alive
    ref_tables = None
    if reference is not None:
        with torch.no_grad():
            ref_tables, _ = replay(reference, ep.replay_batch(), args, step_input)
        replays += 1
    return Advantages(advantages, returns, ref_tables, replays)


def update(model: TRM, value_head: CarryValueHead | None, optimizer: torch.optim.Optimizer,
           value_opt: torch.optim.Optimizer | None, params: list[torch.Tensor], ep: Episodes, adv: Advantages,
           args: PGArgs, step_input: str) -> tuple[dict[str, float], int]:
    """Phase 3: the clipped surrogate (ppo, grpo; ``update_epochs`` passes) or the plain policy gradient
    (reinforce, one pass), plus entropy, KL to the pretrained policy and the value loss. Returns the last
    pass's scalars and the number of passes (each a replay of the batch)."""
    epochs = 1 if args.algorithm == "reinforce" else args.update_epochs
    alive = ep.alive
    count = alive.sum().clamp(min=1)
    stats: dict[str, float] = {}
    for _ in range(epochs):
        tables, new_values = replay(model, ep.replay_batch(), args, step_input, value_head)
        log_p = torch.stack(tables, 1)  # [N, S, L, V]
        new_logp = log_p.gather(-1, ep.actions[..., None]).squeeze(-1)  # [N, S, L]
        a = adv.advantages[..., None]
        if args.algorithm == "reinforce":
            pg = -(a * new_logp).sum(-1)
            ratio = torch.ones_like(pg)
        else:
            diff = new_logp - ep.old_logp
            if args.clip_per == "action":
                diff = diff.sum(-1, keepdim=True)
            ratio = diff.exp()
            clipped = ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)
            pg = -torch.min(ratio * a, clipped * a).mean(-1)
            ratio = ratio.mean(-1)
        entropy = -(log_p.exp() * log_p).sum((-1, -2))  # [N, S]
        loss = ((pg - args.ent_coef * entropy) * alive).sum() / count
        kl = torch.zeros(())
        if adv.ref_tables is not None:
            ref = torch.stack(adv.ref_tables, 1)
            kl = ((log_p.exp() * (log_p - ref)).sum((-1, -2)) * alive).sum() / count
            loss = loss + args.kl_coef * kl
        value_loss = torch.zeros(())
        if new_values is not None:
            value_loss = (((new_values - adv.returns) ** 2) * alive).sum() / count
        optimizer.zero_grad(set_to_none=True)
        if value_opt is not None:
            value_opt.zero_grad(set_to_none=True)
        (loss + args.vf_coef * value_loss).backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm or float("inf"))
        optimizer.step()
        if value_opt is not None:
            value_opt.step()
        with torch.no_grad():
            approx_kl = ((ratio - 1) - ratio.log()).mul(alive).sum() / count
        stats = {"policy_loss": float((pg * alive).sum().detach() / count),
                 "entropy": float((entropy * alive).sum().detach() / count),
                 "kl_to_pretrained": float(kl.detach()), "value_loss": float(value_loss.detach()),
                 "approx_kl": float(approx_kl), "grad_norm": float(grad_norm)}
    return stats, epochs


# -- the run ------------------------------------------------------------------------------------

def trainable_policy(checkpoint: str) -> tuple[TRM, Any, Any, list[torch.Tensor]]:
    """The pretrained model in train mode with only its dense parameters trainable (the puzzle-embedding
    table stays frozen): ``(model, cfg, ckpt, params)``."""
    from dis_rl.loading import load_model

    model, cfg, ckpt = load_model(checkpoint)
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    params = model.dense_parameters()
    for p in params:
        p.requires_grad_(True)
    return model, cfg, ckpt, params


def pretraining_cost(meta: dict[str, Any], where: str) -> tuple[int, float, int]:
    """Network calls, training seconds and env steps that made a checkpoint, from its metadata:
    ``trainer`` in a run's step folder, ``training`` in an exported or shipped one, plus the
    ``pretraining`` a fine-tuned checkpoint carries from its own base. One that records no cost is
    refused: a curve fine-tuned from it would start at 0 calls as if it had cost nothing."""
    record = meta.get("trainer") or meta.get("training") or {}
    if "network_calls" not in record:
        raise ValueError(f"{where}: meta.json records no training cost (no trainer.network_calls or "
                         f"training.network_calls), so the fine-tuned arm's curve cannot start after it")
    base = meta.get("pretraining") or {}
    steps = record.get("env_steps", int(record.get("examples", 0)) * int(meta["config"]["train"]["supervision_steps"]))
    return (int(record["network_calls"]) + int(base.get("network_calls", 0)),
            float(record.get("train_s", record.get("elapsed_s", 0.0))) + float(base.get("train_s", 0.0)),
            int(steps) + int(base.get("env_steps", 0)))


def finetune(args: PGArgs, run_dir: str | Path, seed: int = 0, threads: int = 1,
             budget: RunBudget | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Fine-tune ``args.checkpoint`` and return the evaluation records (also in ``eval_log.jsonl``);
    ``progress``: a bar over the iterations (or the compare budget)."""
    from torch.utils.tensorboard import SummaryWriter

    from dis_rl.checkpoint import save_checkpoint
    from dis_rl.evaluate import evaluate
    from dis_rl.progress import BudgetBar
    from dis_rl.runs import log_evaluation

    args.validate()
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "eval_log.jsonl").write_text("")
    writer = SummaryWriter(str(run_dir / "tb"))
    writer.add_text("hyperparameters", hparams_markdown(args))

    # Pretrained policy, its frozen copy (the KL anchor) and the env over the same puzzles.
    model, cfg, ckpt, params = trainable_policy(args.checkpoint)
    # What made the checkpoint, carried into this run's own checkpoint (a chain of fine-tunings adds up).
    base_cost = dict(zip(("network_calls", "train_s", "env_steps"), pretraining_cost(ckpt.meta, args.checkpoint)))
    reference = copy.deepcopy(model).eval() if args.kl_coef > 0 else None
    steps = args.steps or cfg.train.supervision_steps
    step_input = cfg.train.step_input
    if cfg.data.domain not in DOMAINS:
        raise ValueError(f"fine-tuning supports domains {list(DOMAINS)}; the checkpoint's is {cfg.data.domain!r}")
    num_envs = args.puzzles_per_batch * args.group_size
    env = make_refine_env(cfg.data, num_envs, max_steps=steps, success_bonus=args.success_bonus,
                          step_penalty=args.step_penalty)
    # The data layer's puzzles, the ones the env episodes over (`make_refine_env(cfg.data)`); the env's
    # test split holds no label (the evaluation protocol), so the evaluation reads the data layer's.
    # The agent learns about its episodes from the env's info (puzzle_id), never from the env's task.
    train_set, test_set = puzzle_sets(cfg.data)
    value_head = CarryValueHead(cfg.model.hidden, steps) if args.baseline == "learned" else None
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    value_opt = torch.optim.Adam(value_head.parameters(), lr=args.value_lr) if value_head is not None else None
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    pool = training_pool(train_set, args.focus)
    calls_per_batch_step = num_envs * cfg.model.calls_per_step  # one refinement step of every row
    budget = budget or RunBudget()
    env_steps, network_calls, started, train_s = 0, 0, time.perf_counter(), 0.0
    records: list[dict[str, Any]] = []

    pretrained = copy.deepcopy(model).eval()  # the KL anchor of the evaluation records (never trained)

    def run_eval(iteration: int) -> dict[str, Any]:
        result = evaluate(model, test_set, steps, step_input, args.eval_batch_size, w=args.w)
        kl_test = policy_kl(model, pretrained, test_set, steps, step_input, args.w, args.w, args.temperature)
        model.train()
        record = {"iteration": iteration, "env_steps": env_steps, "network_calls": network_calls,
                  "elapsed_s": round(time.perf_counter() - started, 3), "train_s": round(train_s, 3),
                  "valid": result.valid,
                  "exact": result.exact, "hamming_per_step": result.hamming_per_step,
                  "parameters": model.num_parameters(), "kl_to_pretrained_test": kl_test}
        writer.add_scalar("eval/kl_to_pretrained", kl_test, env_steps)
        if args.keep_checkpoints > 1:
            save_checkpoint(run_dir / "checkpoints", iteration, model.state_dict(), checkpoint_meta(),
                            keep=args.keep_checkpoints)
        bands = result.by_answers()
        if bands:  # valid share by the boards' number of valid answers (as the trainer logs it)
            record["valid_by_answers"] = {name: {"puzzles": n, "valid": v} for name, n, v in bands}
            for name, _, v in bands:
                writer.add_scalar(f"eval/valid_answers_{name}", v, env_steps)
        log_evaluation(run_dir, record, writer, env_steps)
        records.append(record)
        return record

    def checkpoint_meta() -> dict[str, Any]:
        return {"config": ckpt.meta["config"], "data": ckpt.meta["data"],
                "rl": {"arm": "pg_finetune", **dataclasses.asdict(args), "seed": seed},
                "trainer": {"env_steps": env_steps, "network_calls": network_calls, "train_s": round(train_s, 3)},
                "pretraining": base_cost}

    run_eval(0)
    bar = BudgetBar(f"pg_finetune {args.algorithm}", budget.max_network_calls, budget.max_train_seconds,
                    args.iterations, "iter", progress)
    for iteration in range(1, args.iterations + 1):
        round_start, calls_before, s_before = time.perf_counter(), network_calls, train_s
        ep = collect(model, env, train_set, args, steps, step_input, rng, generator, pool)
        adv = compute_advantages(model, reference, value_head, ep, args, step_input)
        stats, passes = update(model, value_head, optimizer, value_opt, params, ep, adv, args, step_input)
        env_steps += ep.env_steps
        network_calls += calls_per_batch_step * (ep.policy_steps + (adv.replays + passes) * steps)
        train_s += time.perf_counter() - round_start

        # Log and evaluate.
        if iteration % args.log_every == 0:
            for key, value in stats.items():
                writer.add_scalar(f"losses/{key}", value, env_steps)
            writer.add_scalar("charts/episodic_return", float(adv.returns[:, 0].mean()), env_steps)
            writer.add_scalar("charts/solved_rate", float(ep.solved.float().mean()), env_steps)
            writer.add_scalar("charts/env_steps", env_steps, iteration)
            writer.add_scalar("charts/network_calls", network_calls, env_steps)
            writer.add_scalar("charts/SPS", env_steps / max(time.perf_counter() - started, 1e-9), env_steps)
        # A seconds budget also ends the run when the next round, as long as this one, would end more
        # than half a round past it: the budget is met within half a round rather than a whole one.
        half = (time.perf_counter() - round_start) / 2
        out_of_budget = (args.max_env_steps and env_steps >= args.max_env_steps) or (
            args.max_seconds and time.perf_counter() - started + half >= args.max_seconds
        ) or budget.exhausted(network_calls, train_s + half, time.perf_counter() - started + half)
        if (out_of_budget or iteration == args.iterations or (args.eval_every and iteration % args.eval_every == 0)
                or budget.crossed(calls_before, network_calls, s_before, train_s)):
            record = run_eval(iteration)
            bar.write(f"iteration {iteration}: env steps {env_steps:,}  network calls {network_calls:,}  "
                      f"valid {100 * record['valid']:.1f}%  train solved {100 * float(ep.solved.float().mean()):.1f}%  "
                      f"kl {stats['kl_to_pretrained']:.4f}")
            bar.set_postfix(valid=f"{100 * record['valid']:.1f}%")
        bar.advance(network_calls, train_s, iteration)
        if out_of_budget:
            break
    bar.close()
    writer.close()
    env.close()
    if args.keep_checkpoints == 1:
        save_checkpoint(run_dir / "checkpoints", len(records), model.state_dict(), checkpoint_meta(), keep=1)
    return records
