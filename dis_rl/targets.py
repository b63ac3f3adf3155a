"""Target generators ``Phi``: one intermediate target per supervision step on a path from the
input to the answer (the DIS paper's Phi), and the step weights of the DIS loss.

Every generator returns frames ``[N_sup, B, L]``; frame ``s - 1`` is the target of step ``s``
(with ``with_start=True``, ``[N_sup + 1, B, L]`` whose frame 0 is the start of the path, the
``y_{s-1}`` of the dual loss's first step). All generators share one construction: each cell
draws a uniform key ``u`` once per batch, and frame ``s`` shows the label on the cells whose
key falls under a threshold that rises with ``s`` (to 1 at the last frame), so frames are nested,
the last frame is the label and the Hamming distance to the label never increases with ``s``.

- ``path`` (default; the public DIS code): the ``k`` cells where input and label differ, in
  random order; frame ``s`` replaces the first ``floor(s * k / N)`` of them with label values.
- ``solver`` (the paper's "programmable edits"): as ``path``, but the cells are revealed in the
  order a solver deduces them (``order [B, L]``: the deduction wave of each cell, computed by the
  puzzle layer, `dis_rl.puzzles.solver_order`), ties within a wave broken by ``u``.
- ``mask``: each cell independently shows the label with probability ``s / N`` and the input
  value otherwise (a linear masking rate ``1 - s / N``; the input is the 'masked' value).
- ``replace``: like ``mask`` but hidden cells hold a random non-PAD token (fixed per cell within
  the batch), i.e. random replacement with a linear rate.

Which cells take part (``cells``, config key ``train.path_cells``):

- ``scored`` (default, dis-rl): only the label's scored cells; PAD cells of the label stay PAD in
  every frame and are never trained.
- ``canvas`` (the public DIS code's behaviour, ``path`` only): the diff set is ``input != label``
  over the whole canvas with every label-PAD cell counted as differing, and every cell not yet
  revealed is a target, PAD included; revealed label-PAD cells are `IGNORE` (not scored). So on
  ARC the few real changes are revealed at random among hundreds of padding cells, and
  intermediate frames train PAD/EOS/colour cells outside the answer. Losses over such frames
  skip `IGNORE` instead of PAD (`unscored_token`).
"""

from __future__ import annotations

import torch

from dis_rl.puzzles.base import PAD

KINDS = ("path", "mask", "replace", "solver")
CELLS = ("scored", "canvas")
WEIGHTS = ("linear", "uniform")
IGNORE = -1  # canvas frames: a cell that is not scored (every other value, PAD included, is a target)


def step_weights(num_steps: int, kind: str = "linear") -> torch.Tensor:
    """Loss weight of each supervision step: ``linear`` ``w_s = s / N`` (the paper; the last step
    weighs 1) or ``uniform`` ``w_s = 1`` (the public DIS code)."""
    if kind == "linear":
        return torch.arange(1, num_steps + 1, dtype=torch.float32) / num_steps
    if kind == "uniform":
        return torch.ones(num_steps, dtype=torch.float32)
    raise ValueError(f"unknown step weights {kind!r}; expected one of {WEIGHTS}")


def unscored_token(cells: str) -> int:
    """The frame value a loss must skip: PAD for ``scored`` frames, `IGNORE` for ``canvas`` ones."""
    return IGNORE if cells == "canvas" else PAD


def make_frames(
    kind: str,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    num_steps: int,
    vocab_size: int,
    generator: torch.Generator | None = None,
    *,
    cells: str = "scored",
    order: torch.Tensor | None = None,
    with_start: bool = False,
) -> torch.Tensor:
    """Targets ``[num_steps, B, L]`` for one batch (``inputs``/``labels`` are ``[B, L]`` tokens).

    ``order`` (``solver`` only): ``[B, L]`` deduction wave of each cell (smaller first).
    ``with_start``: also return frame 0, the path's start (nothing revealed yet)."""
    if kind not in KINDS:
        raise ValueError(f"unknown target generator {kind!r}; expected one of {KINDS}")
    if cells not in CELLS:
        raise ValueError(f"unknown target cells {cells!r}; expected one of {CELLS}")
    if cells == "canvas" and kind != "path":
        raise ValueError(f"target cells 'canvas' (the public DIS code's path) needs kind 'path', got {kind!r}")
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if kind == "solver" and (order is None or order.shape != labels.shape):
        raise ValueError(f"target generator 'solver' needs a solver order of shape {tuple(labels.shape)}, "
                         f"got {None if order is None else tuple(order.shape)}")
    u = torch.rand(labels.shape, generator=generator, device=labels.device)
    first = 0 if with_start else 1
    steps = torch.arange(first, num_steps + 1, device=labels.device).view(-1, 1, 1)
    scored = labels != PAD

    if kind in ("path", "solver"):
        differ = inputs != labels
        differ = differ | ~scored if cells == "canvas" else differ & scored
        key = u if kind == "path" else order.to(u.dtype) + u  # waves first, random within a wave
        # Rank of each differing cell in the reveal order (non-differing cells sort last).
        rank = torch.where(differ, key, torch.full_like(u, float("inf"))).argsort(dim=-1).argsort(dim=-1)
        k = differ.sum(-1, keepdim=True)  # [B, 1]
        revealed_count = (steps * k.unsqueeze(0)) // num_steps  # floor(s * k / N), [S, B, 1]
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
    if cells == "canvas":
        return torch.where(reveal & ~scored.unsqueeze(0), torch.full_like(frames, IGNORE), frames)
    return torch.where(scored.unsqueeze(0), frames, torch.full_like(frames, PAD))
