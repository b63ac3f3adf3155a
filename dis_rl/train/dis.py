"""Deep Improvement Supervision (paper Fig. 3).

One round = one batch: draw the batch's target frames from ``Phi``, then for each supervision
step ``s = 1..N_sup`` run one refinement step (``T`` cycles, ``n`` latent updates), take
``w_s * CE(logits_after, y_s)`` and make one optimiser step; the carry is detached between
steps. No halting head, no extra forward pass. Network calls: ``N_sup * T * (n + 1)`` per example.

Classifier-free dropout (``train.p_uncond > 0``): per step, each example is dropped with that
probability, i.e. its reasoning update is skipped (``TRM.step(skip_reasoning=...)``) and its
readout of the unchanged answer state is trained on the step's target, so the model learns an
explicit unconditional branch ``l_u`` for test-time guidance with ``w != 1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from dis_rl.losses import cross_entropy
from dis_rl.rollout import next_step_input
from dis_rl.targets import make_frames, step_weights
from dis_rl.train.method import RoundStats

if TYPE_CHECKING:
    from dis_rl.train.loop import Trainer


class DISMethod:
    name = "dis"

    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        self.weights = step_weights(trainer.cfg.train.supervision_steps)

    def calls_per_example(self) -> int:
        return self.t.cfg.train.supervision_steps * self.t.cfg.model.calls_per_step

    def train_round(self) -> RoundStats:
        t, tc = self.t, self.t.cfg.train
        # Frames are drawn for the global batch and then sharded, so K ranks draw what one process draws.
        batch = t.next_global_batch(tc.batch_size)
        frames = make_frames(tc.targets, batch["inputs"], batch["labels"], tc.supervision_steps, t.vocab_size,
                             t.target_rng)
        inputs, pids, frames = t.shard(batch["inputs"]), t.shard(batch["puzzle_ids"]), t.shard(frames, dim=1)
        carry = t.model.initial_carry(inputs.shape[0])
        losses, previous = [], None
        for s in range(1, tc.supervision_steps + 1):
            with t.autocast():
                x = t.model.embed(next_step_input(tc.step_input, inputs, previous), pids, s)
                out = t.model.step(carry, x, skip_reasoning=self.uncond_mask(tc.batch_size))
                loss = self.weights[s - 1] * cross_entropy(out.logits_after, frames[s - 1], tc.loss).mean()
            t.optimizer_step(loss)
            carry, previous = out.carry, out.logits_after.detach()
            losses.append(float(loss.detach()))
        n = inputs.shape[0]
        return RoundStats(losses=losses, examples=n, network_calls=n * self.calls_per_example(),
                          optimizer_steps=tc.supervision_steps)

    def uncond_mask(self, batch: int) -> torch.Tensor | None:
        """This rank's share of the global batch's examples whose step is dropped (None when
        ``p_uncond`` is 0, so plain runs draw nothing)."""
        p = self.t.cfg.train.p_uncond
        if p <= 0:
            return None
        rng = self.t.target_rng
        # Drawn for the global batch, then sharded: K ranks drop what one process drops.
        return self.t.shard(torch.rand(batch, generator=rng, device=rng.device) < p)

    # DIS keeps no state between rounds.
    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        pass
