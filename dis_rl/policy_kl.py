"""How far a policy moved from a reference: ``KL(pi || pi_ref)`` of the per-cell refinement policies.

The policy of a TRM at refinement step ``s`` is one categorical per cell, ``softmax(l_w / T)`` with
the guided logits ``l_w = l_u + w (l_c - l_u)`` (`dis_rl.rollout`); an answer is a product of them, so
the KL of two such policies is the sum of the per-cell KLs. This module measures it on a puzzle set,
summed over cells and averaged over steps and puzzles, for the policy-improvement view of
docs/GUIDANCE.md: a guidance sweep (one model, ``w`` against ``w_ref = 1``), fine-tuning checkpoints
and differently trained models all read against the same reference.

Both rollouts decode by argmax and, with ``step_input: input`` (every shipped config), each step
sees the same input whatever was decoded, so the two policies are compared on the same states.
"""

from __future__ import annotations

import torch

from dis_rl.model.trm import TRM
from dis_rl.puzzles.base import PuzzleSet
from dis_rl.rollout import rollout


@torch.no_grad()
def policy_kl(model: TRM, reference: TRM, puzzles: PuzzleSet, steps: int, step_input: str = "input",
              w: float = 1.0, w_ref: float = 1.0, temperature: float = 1.0, batch_size: int = 200) -> float:
    """Mean over puzzles and steps of ``sum over cells KL(pi_model,w || pi_reference,w_ref)`` (nats),
    scored cells only (the label's non-PAD cells)."""
    total, count = 0.0, 0
    for start in range(0, len(puzzles), batch_size):
        batch = puzzles.get(torch.arange(start, min(start + batch_size, len(puzzles))).numpy())
        inputs = torch.from_numpy(batch["inputs"])
        pids = torch.from_numpy(batch["puzzle_ids"])
        scored = torch.from_numpy(batch["labels"] != 0)
        mine = rollout(model, inputs, pids, steps, step_input, w)
        ref = rollout(reference, inputs, pids, steps, step_input, w_ref)
        for a, b in zip(mine.guided, ref.guided):
            log_p = torch.log_softmax(a.float() / temperature, dim=-1)
            log_q = torch.log_softmax(b.float() / temperature, dim=-1)
            kl = (log_p.exp() * (log_p - log_q)).sum(-1)  # [B, L]
            total += float((kl * scored).sum())
        count += len(inputs)
    return total / max(count * steps, 1)
