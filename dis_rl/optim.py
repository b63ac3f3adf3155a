"""Optimisers and schedules: Adam-atan2 (in PyTorch, no CUDA extension), signSGD for the sparse
puzzle-embedding table, a linear warm-up, and an exponential moving average of weights."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class AdamAtan2(torch.optim.Optimizer):
    """Adam with ``atan2(m_hat, sqrt(v_hat))`` in place of ``m_hat / (sqrt(v_hat) + eps)``:
    scale-invariant and epsilon-free. Weight decay is decoupled (``theta *= 1 - lr * wd``)."""

    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.95), weight_decay: float = 0.1):
        if lr < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid Adam-atan2 settings lr={lr} betas={betas} weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = float(state["step"])
                m, v = state["exp_avg"], state["exp_avg_sq"]
                p.mul_(1 - lr * wd)
                m.lerp_(p.grad, 1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                denom = v.sqrt() / (1 - b2**t) ** 0.5
                p.add_(torch.atan2(m, denom), alpha=-lr / (1 - b1**t))
        return loss


def touched_rows(grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows an embedding-table gradient touches and their gradients (sparse or dense grad)."""
    if grad.is_sparse:
        grad = grad.coalesce()
        return grad.indices()[0], grad.values()
    rows = torch.nonzero(grad.abs().sum(-1) > 0).squeeze(-1)
    return rows, grad[rows]


class SignSGD(torch.optim.Optimizer):
    """signSGD with decoupled weight decay for sparse embedding tables: only rows present in the
    gradient (the batch's puzzle ids) move, so an unseen id keeps its value."""

    def __init__(self, params, lr: float = 1e-2, weight_decay: float = 0.1):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                rows, values = touched_rows(p.grad)
                p[rows] = p[rows] * (1 - lr * wd) - lr * torch.sign(values)
        return loss


def warmup_factor(step: int, warmup_steps: int) -> float:
    """Linear warm-up to 1 over ``warmup_steps`` optimiser steps, then constant."""
    return 1.0 if warmup_steps <= 0 else min(1.0, (step + 1) / warmup_steps)


def schedule_factor(schedule: str, progress: float, min_ratio: float) -> float:
    """The LR multiplier after warm-up at ``progress`` (share of the run's batches done):
    ``constant`` 1; ``cosine`` from 1 down to ``min_ratio`` at the end of the run."""
    if schedule == "constant":
        return 1.0
    progress = min(max(progress, 0.0), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class EMA:
    """Exponential moving average of a model's parameters (a shadow copy used for evaluation)."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for s, p in zip(self.shadow.parameters(), model.parameters()):
            s.lerp_(p.detach(), 1 - self.decay)
