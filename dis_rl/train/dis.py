"""Deep Improvement Supervision (paper Fig. 3).

One round = one batch: draw the batch's target frames from ``Phi``, then for each supervision
step ``s = 1..N_sup`` run one refinement step (``T`` cycles, ``n`` latent updates), take
``w_s * CE(logits_after, y_s)`` and make one optimiser step; the carry is detached between
steps. No halting head, no extra forward pass. Network calls: ``N_sup * T * (n + 1)`` per example.

Options, each with the paper's choice as default and the alternative one key away
(docs/TARGETS.md): ``train.answer_target`` (label | nearest | canonical: which valid answer of a
board with several the path leads to; `dis_rl.train.answer_targets`), ``train.targets`` (path |
mask | replace | solver), ``train.path_cells``
(scored | canvas: the public DIS code's whole-canvas path that also scores PAD),
``train.step_weights`` (linear ``s / N`` | uniform) and ``train.dis_loss`` (single: the paper's
Eq. 10 | dual: its Eq. 9, which adds ``CE(l_u^s, y_{s-1})`` for the readout before the step's
update; frame 0, the path's start, is ``y_0``).

Classifier-free dropout (``train.p_uncond > 0``): per step, each example is dropped with that
probability, i.e. its reasoning update is skipped (``TRM.step(skip_reasoning=...)``) and its
readout of the unchanged answer state is trained on the step's target, so the model learns an
explicit unconditional branch ``l_u`` for test-time guidance with ``w != 1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from dis_rl.losses import cross_entropy
from dis_rl.rollout import next_step_input
from dis_rl.targets import make_frames, step_weights, unscored_token
from dis_rl.train.answer_targets import AnswerTargets
from dis_rl.train.method import RoundStats

if TYPE_CHECKING:
    from dis_rl.train.loop import Trainer


class DISMethod:
    name = "dis"

    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        tc = trainer.cfg.train
        self.weights = step_weights(tc.supervision_steps, tc.step_weights)
        self.answers = AnswerTargets(trainer)
        if tc.targets == "solver":
            from dis_rl.puzzles.solver_order import SolverOrderSource

            # Batches then also carry each example's solver order (computed once per example).
            trainer.stream.source = SolverOrderSource(trainer.train_source)

    def calls_per_example(self) -> int:
        return self.t.cfg.train.supervision_steps * self.t.cfg.model.calls_per_step

    def train_round(self) -> RoundStats:
        t, tc = self.t, self.t.cfg.train
        # Frames are drawn for the global batch and then sharded, so K ranks draw what one process draws.
        batch = t.next_global_batch(tc.batch_size)
        labels, extra_calls = self.answer_labels(batch)
        order = batch.get("solve_order")
        if order is not None and labels is not batch["labels"]:
            order = self.reorder(batch["inputs"], batch["labels"], labels, order)
        frames = make_frames(tc.targets, batch["inputs"], labels, tc.supervision_steps, t.vocab_size,
                             t.target_rng, cells=tc.path_cells, order=order, with_start=True)
        inputs, pids, frames = t.shard(batch["inputs"]), t.shard(batch["puzzle_ids"]), t.shard(frames, dim=1)
        ignore = unscored_token(tc.path_cells)
        cells = t.shard(batch["cells"]) if "cells" in batch else None  # cropped canvas: where the tokens sit
        carry = t.model.initial_carry(*inputs.shape[:2])
        losses, previous = [], None
        for s in range(1, tc.supervision_steps + 1):
            with t.autocast():
                x = t.model.embed(next_step_input(tc.step_input, inputs, previous), pids, s)
                out = t.model.step(carry, x, skip_reasoning=self.uncond_mask(tc.batch_size), cells=cells)
                ce = cross_entropy(out.logits_after, frames[s], tc.loss, ignore)
                if tc.dis_loss == "dual":  # anchor the readout before the update on the previous target
                    ce = ce + cross_entropy(out.logits_before, frames[s - 1], tc.loss, ignore)
                loss = self.weights[s - 1] * ce.mean()
            t.optimizer_step(loss)  # dis_rl/train/optimizer.py: backward, all-reduce, NaN guard, clip, LR, EMA
            carry, previous = out.carry, out.logits_after.detach()
            losses.append(float(loss.detach()))
        n = inputs.shape[0]
        scalars = {"dis/answer_rollout_calls": float(extra_calls)} if self.answers.active else {}
        return RoundStats(losses=losses, examples=n, network_calls=n * self.calls_per_example() + extra_calls,
                          optimizer_steps=tc.supervision_steps, scalars=scalars)

    def answer_labels(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """The batch's answers under ``train.answer_target`` and the extra network calls they took
        (``nearest``: a no-grad rollout of the multi-answer boards, counted once, on the main rank,
        since every rank runs the same global rows)."""
        sets = self.answers.sets(batch["inputs"], batch["labels"])
        if sets is None or self.answers.kind != "nearest":
            return self.answers.choose(sets, batch["labels"]), 0
        preds, calls = self.answers.rollout_predictions(sets, batch)
        return self.answers.choose(sets, batch["labels"], preds), calls if self.t.dist.is_main else 0

    def reorder(self, inputs: torch.Tensor, stored: torch.Tensor, labels: torch.Tensor,
                order: torch.Tensor) -> torch.Tensor:
        """Solver orders toward the chosen answers: the source's orders lead to the stored labels,
        so rows whose answer changed get theirs recomputed."""
        from dis_rl.puzzles.solver_order import solver_order

        changed = (labels != stored).any(dim=1).nonzero().flatten()
        if not len(changed):
            return order
        order = order.clone()
        fresh = solver_order(self.t.cfg.data.domain, inputs[changed].cpu().numpy(), labels[changed].cpu().numpy())
        order[changed] = torch.as_tensor(fresh.astype(np.int64), device=order.device)
        return order

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
