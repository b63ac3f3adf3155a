"""Running the refinement steps of a model on a batch (no learning).

`step_inputs` is the one home of "what does step ``s`` embed": the original input every step
(the paper's pseudocode) or the previous step's argmax prediction (the public DIS code).
`rollout` is what evaluation, the CFG agent and the guidance sweeps call; its ``w`` mixes the
readouts before and after each step, ``l_w = l_u + w (l_c - l_u)`` (``w = 1``: plain decoding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dis_rl.model.trm import TRM, Carry


def next_step_input(mode: str, inputs: torch.Tensor, previous_logits: torch.Tensor | None) -> torch.Tensor:
    """Tokens that step ``s`` embeds; ``previous_logits`` is None at step 1."""
    if mode == "input" or previous_logits is None:
        return inputs
    if mode == "prediction":
        return previous_logits.argmax(-1)
    raise ValueError(f"unknown step_input {mode!r}; expected 'input' or 'prediction'")


def guided_logits(logits_before: torch.Tensor, logits_after: torch.Tensor, w: float) -> torch.Tensor:
    """Classifier-free-guidance mix of the readouts; ``w = 1`` returns ``logits_after`` exactly."""
    if w == 1.0:
        return logits_after
    if w == 0.0:
        return logits_before
    return logits_before + w * (logits_after - logits_before)


@dataclass
class Rollout:
    logits_before: list[torch.Tensor]  # per step [B, L, V]
    logits_after: list[torch.Tensor]
    guided: list[torch.Tensor]  # per step, the logits decoded (after the w mix)
    predictions: list[torch.Tensor]  # per step [B, L] argmax of `guided`
    carry: Carry


@torch.no_grad()
def rollout(
    model: TRM,
    inputs: torch.Tensor,
    puzzle_ids: torch.Tensor | None,
    steps: int,
    step_input: str = "input",
    w: float | list[float] = 1.0,
    carry: Carry | None = None,
) -> Rollout:
    """Run ``steps`` refinement steps from the initial carry; ``w`` may be a per-step list."""
    ws = list(w) if isinstance(w, (list, tuple)) else [float(w)] * steps
    if len(ws) != steps:
        raise ValueError(f"w schedule has {len(ws)} entries for {steps} steps")
    carry = model.initial_carry(inputs.shape[0]) if carry is None else carry
    out = Rollout([], [], [], [], carry)
    previous = None
    for s in range(1, steps + 1):
        x = model.embed(next_step_input(step_input, inputs, previous), puzzle_ids, s)
        step = model.step(carry, x)
        carry = step.carry
        mixed = guided_logits(step.logits_before, step.logits_after, ws[s - 1])
        out.logits_before.append(step.logits_before)
        out.logits_after.append(step.logits_after)
        out.guided.append(mixed)
        out.predictions.append(mixed.argmax(-1))
        previous = mixed
    out.carry = carry
    return out
