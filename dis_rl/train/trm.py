"""The TRM baseline: deep supervision on the final label with adaptive halting (the TRM paper's training loop).

The batch is a set of ``batch_size`` *slots*, each holding one example and its carry ``(y, z)``.
One round = one supervision step of every slot: ``T`` cycles (``T - 1`` without gradients) of
``n`` latent updates, ``CE(logits_after, label) + halt_loss_weight * BCE(q, answer exact)``, one
optimiser step, the carry detached and kept. Then each slot decides whether its example is done:
it halts when the halting logit ``q`` is positive (once the example has had its exploration
minimum) or at ``N_sup`` steps. A halted slot gets a *new* example from the stream and a fresh
carry, so the batch stays full and no carry outlives its example.

Halting head: `TRM` has two outputs (halt, continue) as in the reference. We use only the first,
``q = halt_logits[:, 0]``, trained towards "the current argmax answer equals the label on every
non-PAD cell", and halt on ``q > 0``. This is the TRM paper's simplification (no Q-learning
continue target, so no extra forward pass); the continue output stays unused and untrained.

Exploration: when an example enters a slot it gets, with probability ``halt_exploration_prob``, a
minimum of ``U{2..N_sup}`` steps before ``q`` may halt it (drawn once per example; the reference
redraws every step, which holds fewer examples back for long).

Network calls are counted as realised: every slot pays ``T * (n + 1)`` per round, the no-grad
cycles included, so an example costs ``steps_taken * T * (n + 1)`` (at most ``N_sup * T * (n + 1)``).
Evaluation is the shared `evaluate`: all ``N_sup`` steps for every test puzzle, no halting.

Shapes: a source with several example shapes (the cropped ARC canvas) gets one slot batch per
shape. Each round draws a shape from the stream (weighted by its share of the examples) and runs
one supervision step of that shape's slots; its halted slots are refilled from the same shape.

Under torchrun the slot batch is global, as DIS's batch is: every rank holds the global slot data,
step counters and exploration minimums, and only its contiguous shard of the carry. After a step
the ranks all-gather their halt flags, so every rank refills the same global slots with the same
new examples from the shared stream and draws the same exploration minimums from a shared
generator. K processes therefore run what one process runs, and a checkpoint holds the carry
gathered from all ranks (no per-rank state), so a run resumes under any world size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from dis_rl import distributed
from dis_rl.losses import cross_entropy
from dis_rl.model.trm import Carry
from dis_rl.puzzles.base import PAD
from dis_rl.train.answer_targets import AnswerTargets
from dis_rl.train.method import RoundStats

if TYPE_CHECKING:
    from dis_rl.train.loop import Trainer


def exact_answers(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The halting target ``[B]`` bool: argmax of ``logits [B, L, V]`` equals ``labels`` on every non-PAD cell."""
    return ((logits.argmax(-1) == labels) | (labels == PAD)).all(dim=-1)


def draw_min_steps(n: int, prob: float, max_steps: int, generator: torch.Generator) -> torch.Tensor:
    """Per-example exploration minimum ``[n]``: ``U{2..max_steps}`` with probability ``prob``, else 1."""
    device = generator.device
    explore = torch.rand(n, generator=generator, device=device) < prob
    if max_steps < 2:
        return torch.ones(n, dtype=torch.long, device=device)
    low = torch.randint(2, max_steps + 1, (n,), generator=generator, device=device)
    return torch.where(explore, low, torch.ones_like(low))


@dataclass
class Slots:
    """The slot batch of one example shape: global ``[B]`` data and counters, this rank's carry."""

    data: dict[str, torch.Tensor]  # inputs, labels, puzzle_ids (and cells, when cropped) [B, ...]
    carry: Carry  # this rank's shard of the slots: [B / K, P + L, D]
    steps: torch.Tensor  # supervision steps the slot's example has had [B]
    min_steps: torch.Tensor  # its exploration minimum [B]
    halted: torch.Tensor  # bool [B]: done after the last round, refilled at the next


def halt_decision(q: torch.Tensor, steps: torch.Tensor, min_steps: torch.Tensor, max_steps: int) -> torch.Tensor:
    """Which slots halt ``[B]``: at ``max_steps``, or when ``q > 0`` after the exploration minimum."""
    return (steps >= max_steps) | ((q > 0) & (steps >= min_steps))


class TRMMethod:
    name = "trm"

    def __init__(self, trainer: Trainer) -> None:
        cfg = trainer.cfg  # validated by the config (RunConfig.validate): halting head, no step index
        self.t = trainer
        self.max_steps = cfg.train.supervision_steps
        # Shared by every rank (same seed, same draws in the same order): exploration minimums.
        self.rng = torch.Generator(device=trainer.device).manual_seed(cfg.train.seed + 2)
        self.slots: dict[int, Slots] = {}  # stream bucket -> its slot batch, filled on first use
        self.current = 0  # the bucket of the last round
        # Totals over examples that have left their slot (for the realised calls per example).
        self.finished_examples = 0
        self.finished_steps = 0
        self.answers = AnswerTargets(trainer)

    # The slot batch of the last round (the only one for a one-shape source).
    @property
    def data(self) -> dict[str, torch.Tensor]:
        return self.slots[self.current].data

    @property
    def carry(self) -> Carry:
        return self.slots[self.current].carry

    @property
    def steps(self) -> torch.Tensor:
        return self.slots[self.current].steps

    @property
    def min_steps(self) -> torch.Tensor:
        return self.slots[self.current].min_steps

    @property
    def halted(self) -> torch.Tensor:
        return self.slots[self.current].halted

    def calls_per_example(self) -> int:
        """The most one example can cost, ``N_sup * T * (n + 1)``; see `realised_calls_per_example`."""
        return self.max_steps * self.t.cfg.model.calls_per_step

    def realised_calls_per_example(self) -> float:
        """Mean network calls of the examples that have halted so far (0 before any has)."""
        if not self.finished_examples:
            return 0.0
        return self.finished_steps * self.t.cfg.model.calls_per_step / self.finished_examples

    def total_steps(self) -> int:
        """Supervision steps taken, summed over every example ever loaded (in-flight ones included)."""
        in_flight = sum(int(s.steps[~s.halted].sum()) for s in self.slots.values())  # halted: already finished
        return self.finished_steps + in_flight

    # -- slots -----------------------------------------------------------------------------------
    def _local(self, slots: torch.Tensor) -> torch.Tensor:
        """The global slot numbers that sit on this rank, as positions in its carry shard."""
        part = distributed.shard_slice(self.t.cfg.train.batch_size, self.t.dist)
        mine = slots[(slots >= part.start) & (slots < part.stop)]
        return mine - part.start

    def refill(self, bucket: int | None = None) -> int:
        """Load new examples into the halted slots of a shape's batch (all slots the first time),
        each with a fresh carry; returns how many of them sit on this rank."""
        t, size = self.t, self.t.cfg.train.batch_size
        bucket = self.current if bucket is None else bucket
        s = self.slots.get(bucket)
        if s is None:
            data = t.next_global_batch(size, bucket)
            local = t.shard(torch.arange(size, device=t.device)).numel()
            self.slots[bucket] = Slots(
                data=data, carry=t.model.initial_carry(local, data["inputs"].shape[1]),
                steps=torch.zeros(size, dtype=torch.long, device=t.device), min_steps=self._min_steps(size),
                halted=torch.zeros(size, dtype=torch.bool, device=t.device))
            return local
        slots = s.halted.nonzero().squeeze(1)
        k = int(slots.numel())
        if k == 0:
            return 0
        new = t.next_global_batch(k, bucket)
        for key, value in new.items():
            s.data[key][slots] = value
        s.steps[slots] = 0
        s.min_steps[slots] = self._min_steps(k)
        s.halted[slots] = False
        mine = self._local(slots)
        fresh = t.model.initial_carry(int(mine.numel()), s.data["inputs"].shape[1])
        s.carry.y[mine] = fresh.y
        s.carry.z[mine] = fresh.z
        return int(mine.numel())

    def _min_steps(self, n: int) -> torch.Tensor:
        return draw_min_steps(n, self.t.cfg.train.halt_exploration_prob, self.max_steps, self.rng).to(self.t.device)

    # -- one round -------------------------------------------------------------------------------
    def train_round(self) -> RoundStats:
        t, tc = self.t, self.t.cfg.train
        self.current = t.stream.next_bucket()
        new_examples = self.refill(self.current)
        s = self.slots[self.current]
        inputs, labels = t.shard(s.data["inputs"]), t.shard(s.data["labels"])
        cells = t.shard(s.data["cells"]) if "cells" in s.data else None
        sets = self.answers.sets(inputs, labels)
        with t.autocast():
            x = t.model.embed(inputs, t.shard(s.data["puzzle_ids"]))
            out = t.model.step(s.carry, x, cells=cells)
            # train.answer_target: `nearest` takes the answer nearest to this step's own prediction
            # (min-loss over the answer set, no extra network call); the halting target follows it.
            labels = self.answers.choose(sets, labels, out.logits_after.detach().argmax(-1))
            ce = cross_entropy(out.logits_after, labels, tc.loss).mean()
            q = out.halt_logits[:, 0].float()
            correct = exact_answers(out.logits_after.detach(), labels)
            bce = F.binary_cross_entropy_with_logits(q, correct.float())
            loss = ce + tc.halt_loss_weight * bce
        t.optimizer_step(loss)  # the one step DIS takes too (dis_rl/train/optimizer.py)
        s.carry = Carry(out.carry.y.clone(), out.carry.z.clone())  # own storage: refill writes into it
        s.steps += 1
        local_halt = halt_decision(q.detach(), t.shard(s.steps), t.shard(s.min_steps), self.max_steps)
        s.halted = distributed.all_gather_shards(local_halt, t.dist)
        done = int(s.halted.sum())
        self.finished_examples += done
        self.finished_steps += int(s.steps[s.halted].sum())
        q = q.detach()
        # ce, bce and the accuracies are this rank's share of the slots (the logged loss is global).
        scalars = {
            "trm/ce": float(ce.detach()),
            "trm/halt_bce": float(bce.detach()),
            "trm/train_exact": float(correct.float().mean()),
            "trm/halt_accuracy": float(((q > 0) == correct).float().mean()),
            "trm/halted_slots": float(done),
            "trm/realised_calls_per_example": self.realised_calls_per_example(),
        }
        return RoundStats(losses=[float(loss.detach())], examples=new_examples,
                          network_calls=inputs.shape[0] * t.cfg.model.calls_per_step, optimizer_steps=1,
                          scalars=scalars)

    # -- resume ----------------------------------------------------------------------------------
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Global state; a collective under torchrun (every rank calls it: the carry is gathered)."""
        state = {
            "rng": self.rng.get_state(),
            "finished": torch.tensor([self.finished_examples, self.finished_steps, self.current], dtype=torch.long),
        }
        for bucket in sorted(self.slots):  # the same order on every rank: the gathers pair up
            s = self.slots[bucket]
            part = {"carry_y": distributed.all_gather_shards(s.carry.y, self.t.dist),
                    "carry_z": distributed.all_gather_shards(s.carry.z, self.t.dist),
                    "steps": s.steps, "min_steps": s.min_steps, "halted": s.halted,
                    **{f"data/{k}": v for k, v in s.data.items()}}
            state.update({f"slots/{bucket}/{k}": v for k, v in part.items()})
        return {k: v.detach().cpu().contiguous() for k, v in state.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        if not tensors:
            return
        t, dev = self.t, self.t.device
        self.rng.set_state(tensors["rng"].cpu())
        finished = [int(v) for v in tensors["finished"]]
        self.finished_examples, self.finished_steps = finished[:2]
        self.current = finished[2] if len(finished) > 2 else 0
        if "carry_y" in tensors:  # checkpoints of the one-shape version: one slot batch, no prefix
            tensors = {f"slots/0/{k}": v for k, v in tensors.items() if k not in ("rng", "finished")}
        buckets = sorted({int(k.split("/")[1]) for k in tensors if k.startswith("slots/")})
        self.slots = {}
        for bucket in buckets:
            part = {k[len(f"slots/{bucket}/"):]: v.to(dev) for k, v in tensors.items()
                    if k.startswith(f"slots/{bucket}/")}
            self.slots[bucket] = Slots(
                data={k[5:]: v for k, v in part.items() if k.startswith("data/")},
                carry=Carry(t.shard(part["carry_y"]).clone(), t.shard(part["carry_z"]).clone()),
                steps=part["steps"], min_steps=part["min_steps"], halted=part["halted"])
