"""Running the refinement steps of a model on a batch (no learning).

`next_step_input` is the one home of "what does step ``s`` embed": the original input every step
(the paper's pseudocode) or the previous step's prediction (the public DIS code).
`refine_step` is one guided step (embed, model step, mix, decode); `rollout` chains it and is
what evaluation, the CFG agent and the guidance sweeps call. ``w`` mixes the readouts before and
after each step, ``l_w = l_u + w (l_c - l_u)`` (``w = 1``: plain decoding); decoding is argmax at
``temperature = 0`` and per-cell sampling from ``softmax(l_w / temperature)`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from dis_rl.model.trm import TRM, Carry, StepOutput


def next_step_input(mode: str, inputs: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
    """Tokens that step ``s`` embeds. ``previous`` is the previous step's logits ``[B, L, V]``
    (their argmax is used) or its decoded tokens ``[B, L]`` (a sampled prediction); None at step 1."""
    if mode == "input" or previous is None:
        return inputs
    if mode == "prediction":
        return previous if previous.dim() == inputs.dim() else previous.argmax(-1)
    raise ValueError(f"unknown step_input {mode!r}; expected 'input' or 'prediction'")


def guided_logits(logits_before: torch.Tensor, logits_after: torch.Tensor, w: float) -> torch.Tensor:
    """Classifier-free-guidance mix of the readouts; ``w = 1`` returns ``logits_after`` exactly."""
    if w == 1.0:
        return logits_after
    if w == 0.0:
        return logits_before
    return logits_before + w * (logits_after - logits_before)


def decode(logits: torch.Tensor, temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Tokens ``[B, L]``: argmax at temperature 0, else one independent draw per cell."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    flat = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator)
    return flat.view(probs.shape[:-1])


class GuidedStep(NamedTuple):
    output: StepOutput  # the model's step (carry, both readouts)
    guided: torch.Tensor  # l_w [B, L, V]
    prediction: torch.Tensor  # decoded tokens [B, L]


def refine_step(
    model: TRM,
    carry: Carry,
    inputs: torch.Tensor,
    puzzle_ids: torch.Tensor | None,
    step: int,
    previous: torch.Tensor | None = None,
    step_input: str = "input",
    w: float = 1.0,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    cells: torch.Tensor | None = None,
) -> GuidedStep:
    """Refinement step ``step`` (1-based) from ``carry``; ``previous`` is the last prediction;
    ``cells``: where the tokens of a cropped sequence sit in the full grid (`TRM.step`)."""
    x = model.embed(next_step_input(step_input, inputs, previous), puzzle_ids, step)
    out = model.step(carry, x, cells=cells)
    mixed = guided_logits(out.logits_before, out.logits_after, w)
    return GuidedStep(out, mixed, decode(mixed, temperature, generator))


def w_schedule(w: float | list[float] | tuple[float, ...], steps: int) -> list[float]:
    """One ``w`` per step from a constant or a per-step list."""
    ws = [float(v) for v in w] if isinstance(w, (list, tuple)) else [float(w)] * steps
    if len(ws) != steps:
        raise ValueError(f"w schedule has {len(ws)} entries for {steps} steps")
    return ws


@dataclass
class Rollout:
    logits_before: list[torch.Tensor]  # per step [B, L, V]
    logits_after: list[torch.Tensor]
    guided: list[torch.Tensor]  # per step, the logits decoded (after the w mix)
    predictions: list[torch.Tensor]  # per step [B, L]: argmax of `guided` (or a draw, temperature > 0)
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
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    cells: torch.Tensor | None = None,
) -> Rollout:
    """Run ``steps`` refinement steps from the initial carry; ``w`` may be a per-step list;
    ``cells`` as in `refine_step` (cropped sequences)."""
    ws = w_schedule(w, steps)
    carry = model.initial_carry(*inputs.shape[:2]) if carry is None else carry
    out = Rollout([], [], [], [], carry)
    previous = None
    for s in range(1, steps + 1):
        step = refine_step(model, carry, inputs, puzzle_ids, s, previous, step_input, ws[s - 1], temperature, generator,
                           cells)
        carry, previous = step.output.carry, step.prediction
        out.logits_before.append(step.output.logits_before)
        out.logits_after.append(step.output.logits_after)
        out.guided.append(step.guided)
        out.predictions.append(step.prediction)
    out.carry = carry
    return out
