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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from dis_rl.config import ConfigError
from dis_rl.losses import cross_entropy
from dis_rl.model.trm import Carry
from dis_rl.puzzles.base import PAD
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


def halt_decision(q: torch.Tensor, steps: torch.Tensor, min_steps: torch.Tensor, max_steps: int) -> torch.Tensor:
    """Which slots halt ``[B]``: at ``max_steps``, or when ``q > 0`` after the exploration minimum."""
    return (steps >= max_steps) | ((q > 0) & (steps >= min_steps))


class TRMMethod:
    name = "trm"

    def __init__(self, trainer: Trainer) -> None:
        cfg = trainer.cfg  # validated by the config (RunConfig.validate): halting head, no step index
        if trainer.dist.enabled:
            # Halting makes each slot's refill data-dependent; a world-size-invariant version needs the
            # halt flags gathered and the carry gathered into checkpoints. Until then: one process.
            raise ConfigError("train.method trm runs in one process only (no torchrun yet): its halting slots are "
                              "per-rank state")
        self.t = trainer
        self.max_steps = cfg.train.supervision_steps
        self.rng = torch.Generator(device=trainer.device).manual_seed(cfg.train.seed + 2)
        # Slot state (None until the first round fills every slot).
        self.carry: Carry | None = None
        self.data: dict[str, torch.Tensor] = {}
        self.steps = torch.zeros(0, dtype=torch.long)  # supervision steps the slot's example has had
        self.min_steps = torch.zeros(0, dtype=torch.long)
        self.halted = torch.zeros(0, dtype=torch.bool)
        # Totals over examples that have left their slot (for the realised calls per example).
        self.finished_examples = 0
        self.finished_steps = 0

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
        if self.carry is None:
            return 0
        return self.finished_steps + int(self.steps[~self.halted].sum())  # halted ones are already finished

    # -- slots -----------------------------------------------------------------------------------
    def refill(self) -> int:
        """Load new examples into halted slots (all slots at the start), each with a fresh carry."""
        t, size = self.t, self.t.cfg.train.batch_size
        if self.carry is None:
            self.data = t.next_batch(size)
            self.carry = t.model.initial_carry(size)
            self.steps = torch.zeros(size, dtype=torch.long, device=t.device)
            self.min_steps = self._min_steps(size)
            self.halted = torch.zeros(size, dtype=torch.bool, device=t.device)
            return size
        slots = self.halted.nonzero().squeeze(1)
        k = int(slots.numel())
        if k == 0:
            return 0
        new = t.next_batch(k)
        for key, value in new.items():
            self.data[key][slots] = value
        fresh = t.model.initial_carry(k)
        self.carry.y[slots] = fresh.y
        self.carry.z[slots] = fresh.z
        self.steps[slots] = 0
        self.min_steps[slots] = self._min_steps(k)
        self.halted[slots] = False
        return k

    def _min_steps(self, n: int) -> torch.Tensor:
        return draw_min_steps(n, self.t.cfg.train.halt_exploration_prob, self.max_steps, self.rng).to(self.t.device)

    # -- one round -------------------------------------------------------------------------------
    def train_round(self) -> RoundStats:
        t, tc = self.t, self.t.cfg.train
        new_examples = self.refill()
        inputs, labels = self.data["inputs"], self.data["labels"]
        with t.autocast():
            x = t.model.embed(inputs, self.data.get("puzzle_ids"))
            out = t.model.step(self.carry, x)
            ce = cross_entropy(out.logits_after, labels, tc.loss).mean()
            q = out.halt_logits[:, 0].float()
            correct = exact_answers(out.logits_after.detach(), labels)
            bce = F.binary_cross_entropy_with_logits(q, correct.float())
            loss = ce + tc.halt_loss_weight * bce
        t.optimizer_step(loss)
        self.carry = Carry(out.carry.y.clone(), out.carry.z.clone())  # own storage: refill writes into it
        self.steps += 1
        self.halted = halt_decision(q.detach(), self.steps, self.min_steps, self.max_steps)
        done = int(self.halted.sum())
        self.finished_examples += done
        self.finished_steps += int(self.steps[self.halted].sum())
        q = q.detach()
        scalars = {
            "trm/ce": float(ce.detach()),
            "trm/halt_bce": float(bce.detach()),
            "trm/train_exact": float(correct.float().mean()),
            "trm/halt_accuracy": float(((q > 0) == correct).float().mean()),
            "trm/halted_slots": float(done),
            "trm/realised_calls_per_example": self.realised_calls_per_example(),
        }
        size = inputs.shape[0]
        return RoundStats(losses=[float(loss.detach())], examples=new_examples,
                          network_calls=size * t.cfg.model.calls_per_step, optimizer_steps=1, scalars=scalars)

    # -- resume ----------------------------------------------------------------------------------
    def state_tensors(self) -> dict[str, torch.Tensor]:
        state = {
            "rng": self.rng.get_state(),
            "finished": torch.tensor([self.finished_examples, self.finished_steps], dtype=torch.long),
        }
        if self.carry is not None:
            state.update({"carry_y": self.carry.y, "carry_z": self.carry.z, "steps": self.steps,
                          "min_steps": self.min_steps, "halted": self.halted})
            state.update({f"data/{k}": v for k, v in self.data.items()})
        return {k: v.detach().cpu().contiguous() for k, v in state.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        if not tensors:
            return
        dev = self.t.device
        self.rng.set_state(tensors["rng"].cpu())
        self.finished_examples, self.finished_steps = (int(v) for v in tensors["finished"])
        if "carry_y" in tensors:
            self.carry = Carry(tensors["carry_y"].to(dev), tensors["carry_z"].to(dev))
            self.steps, self.min_steps = tensors["steps"].to(dev), tensors["min_steps"].to(dev)
            self.halted = tensors["halted"].to(dev)
            self.data = {k[5:]: v.to(dev) for k, v in tensors.items() if k.startswith("data/")}
