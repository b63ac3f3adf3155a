"""Target generators ``Phi``: one intermediate target per supervision step on a path from the
input to the answer (the DIS paper's Phi).

Every generator returns frames ``[N_sup, B, L]``; frame ``s - 1`` is the target of step ``s``.
All three share one construction: each cell draws a uniform key ``u`` once per batch, and
frame ``s`` shows the label on the cells whose key falls under a threshold that rises with
``s`` (to 1 at the last frame), so frames are nested, the last frame is the label and the
Hamming distance to the label never increases with ``s``.

- ``path`` (default; the public DIS code): the cells where input and label differ, in random
  order; frame ``s`` replaces the first ``floor(s * k / N)`` of the ``k`` with label values.
- ``mask``: each cell independently shows the label with probability ``s / N`` and the input
  value otherwise (a linear masking rate ``1 - s / N``; the input is the 'masked' value).
- ``replace``: like ``mask`` but hidden cells hold a random non-PAD token (fixed per cell within
  the batch), i.e. random replacement with a linear rate.

PAD cells of the label stay PAD in every frame (they are never scored).
"""

from __future__ import annotations

import torch

from dis_rl.puzzles.base import PAD

KINDS = ("path", "mask", "replace")


def step_weights(num_steps: int) -> torch.Tensor:
    """Linearly increasing loss weights ``w_s = s / N`` (the last step weighs 1)."""
    return torch.arange(1, num_steps + 1, dtype=torch.float32) / num_steps


def make_frames(
    kind: str,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    num_steps: int,
    vocab_size: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Targets ``[num_steps, B, L]`` for one batch (``inputs``/``labels`` are ``[B, L]`` tokens)."""
    if kind not in KINDS:
        raise ValueError(f"unknown target generator {kind!r}; expected one of {KINDS}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    u = torch.rand(labels.shape, generator=generator, device=labels.device)
    steps = torch.arange(1, num_steps + 1, device=labels.device).view(-1, 1, 1)
    scored = labels != PAD

    if kind == "path":
        differ = (inputs != labels) & scored
        # Rank of each differing cell in a random order (non-differing cells sort last).
        order_key = torch.where(differ, u, torch.full_like(u, 2.0))
        rank = order_key.argsort(dim=-1).argsort(dim=-1)
        k = differ.sum(-1, keepdim=True)  # [B, 1]
        revealed_count = (steps * k.unsqueeze(0)) // num_steps  # floor(s * k / N), [N, B, 1]
        reveal = differ.unsqueeze(0) & (rank.unsqueeze(0) < revealed_count)
        hidden_value = inputs.unsqueeze(0)
    else:
        reveal = u.unsqueeze(0) < steps.float() / num_steps  # rate s/N of cells show the label
        if kind == "mask":
            hidden_value = inputs.unsqueeze(0)
        else:
            noise = torch.randint(1, vocab_size, labels.shape, generator=generator, device=labels.device)
            hidden_value = noise.unsqueeze(0)
        reveal = reveal | (steps == num_steps)  # u < 1 always, but make the last frame exact

    frames = torch.where(reveal, labels.unsqueeze(0), hidden_value)
    return torch.where(scored.unsqueeze(0), frames, torch.full_like(frames, PAD))
