"""Cross-entropy losses over token grids, as the TRM reference computes them.

Both losses skip PAD labels (token 0) and normalise each example by its own number of scored
cells, so large and small grids weigh the same. Stablemax replaces ``exp`` by
``s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0)`` and is computed in float64.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dis_rl.puzzles.base import PAD


def stablemax_log_probs(logits: torch.Tensor) -> torch.Tensor:
    x = logits.double()
    s = torch.where(x >= 0, x + 1, 1 / (1 - torch.clamp(x, max=0)))
    return torch.log(s / s.sum(dim=-1, keepdim=True))


def token_log_probs(logits: torch.Tensor, kind: str = "stablemax") -> torch.Tensor:
    if kind == "stablemax":
        return stablemax_log_probs(logits)
    if kind == "softmax":
        return F.log_softmax(logits.float(), dim=-1)
    raise ValueError(f"unknown loss {kind!r}; expected 'stablemax' or 'softmax'")


def cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, kind: str = "stablemax", ignore_index: int = PAD
) -> torch.Tensor:
    """Per-example mean CE ``[B]`` over target cells other than ``ignore_index`` (``logits [B, L, V]``,
    ``targets [B, L]``). PAD is skipped by default; the public DIS code's canvas frames skip
    `dis_rl.targets.IGNORE` instead and so score PAD targets too."""
    logp = token_log_probs(logits, kind)
    mask = targets != ignore_index
    nll = -logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    nll = torch.where(mask, nll, torch.zeros_like(nll))
    return (nll.sum(-1) / mask.sum(-1).clamp(min=1)).float()
