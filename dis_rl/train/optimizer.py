"""The optimisers a run trains with and the one optimiser step both methods take.

`DISMethod` takes one step per supervision step (``N_sup`` per batch), `TRMMethod` one per round;
both call ``trainer.optimizer_step(loss)``, which is `optimizer_step` below. In order: backward,
gradients averaged over ranks, the NaN guard (on the global loss, so every rank stops together),
clipping, every optimiser at the scheduled learning rate, the EMA of the weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from dis_rl import distributed
from dis_rl.config import TrainConfig
from dis_rl.model.trm import TRM
from dis_rl.optim import AdamAtan2, SignSGD, schedule_factor, warmup_factor

if TYPE_CHECKING:
    from dis_rl.train.loop import Trainer


def build_optimizers(model: TRM, tc: TrainConfig) -> tuple[dict[str, torch.optim.Optimizer], dict[str, float]]:
    """The optimisers by name (``model``: the dense weights; ``puzzle_emb``: the sparse puzzle-embedding
    table, when the model has one) and each one's base learning rate."""
    dense = model.dense_parameters()
    if tc.optimizer == "adam_atan2":
        opt: torch.optim.Optimizer = AdamAtan2(dense, lr=tc.lr, betas=tc.betas, weight_decay=tc.weight_decay)
    else:
        opt = torch.optim.AdamW(dense, lr=tc.lr, betas=tc.betas, weight_decay=tc.weight_decay)
    optimizers: dict[str, torch.optim.Optimizer] = {"model": opt}
    base_lrs = {"model": tc.lr}
    if model.puzzle_emb is not None:
        optimizers["puzzle_emb"] = SignSGD(
            model.puzzle_emb.parameters(), lr=tc.puzzle_emb_lr, weight_decay=tc.puzzle_emb_weight_decay
        )
        base_lrs["puzzle_emb"] = tc.puzzle_emb_lr
    return optimizers, base_lrs


def lr_factor(tc: TrainConfig, batches: int, opt_step: int) -> float:
    """The share of each base learning rate at optimiser step ``opt_step`` after ``batches`` batches:
    linear warm-up, then ``train.lr_schedule`` over ``train.max_batches``."""
    progress = batches / max(tc.max_batches, 1)
    return warmup_factor(opt_step, tc.warmup_steps) * schedule_factor(tc.lr_schedule, progress, tc.lr_min_ratio)


def optimizer_step(t: Trainer, loss: torch.Tensor) -> None:
    """One optimiser step of trainer ``t`` on ``loss`` (this rank's share of the batch's loss)."""
    model, tc = t.model, t.cfg.train
    for opt in t.optimizers.values():
        opt.zero_grad(set_to_none=True)
    loss.backward()
    sparse = list(model.puzzle_emb.parameters()) if model.puzzle_emb is not None else []
    global_loss = distributed.average_gradients(model.dense_parameters(), sparse, loss, t.dist)
    if not torch.isfinite(global_loss):
        raise t.diverged(f"loss became {float(global_loss)} at optimiser step {t.opt_steps} (batch {t.batches})")
    if tc.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.dense_parameters(), tc.grad_clip)
    factor = lr_factor(tc, t.batches, t.opt_steps)
    for name, opt in t.optimizers.items():
        for group in opt.param_groups:
            group["lr"] = t.base_lrs[name] * factor
        opt.step()
    if t.ema is not None:
        t.ema.update(model)
    t.opt_steps += 1
