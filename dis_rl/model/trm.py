"""The Tiny Recursive Model: one tiny network refining an answer state ``y`` and a latent ``z``.

One *cycle*: ``n`` times ``z = net(z, y + x)``, then ``y = net(y, z)``. One *refinement step*
runs ``T`` cycles, the first ``T - 1`` without gradients, and reads logits from ``y`` before
and after. DIS, TRM, the CFG agent and the guidance sweeps are all built on `TRM.step`.

Cropped sequences: the model is built for ``seq_len`` grid cells (ARC: the 30x30 canvas) but may
run on any subset of them, given as ``cells`` (each token's cell index in the full grid). Rotary
position ids are then ``P + cell``, so a cell's phase is the one it has in the full sequence and a
model trained on crops runs on the full grid too (attention variant only: the token-MLP mixer has
one weight per position of the full sequence).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from dis_rl.model.config import ModelConfig
from dis_rl.model.layers import Block, Linear, trunc_normal_


class Carry(NamedTuple):
    y: torch.Tensor  # answer state [B, P + L, D]
    z: torch.Tensor  # latent state [B, P + L, D]


class StepOutput(NamedTuple):
    carry: Carry  # detached: supervision steps never backpropagate into earlier steps
    logits_before: torch.Tensor  # head(y) before this step's reasoning update [B, L, V]
    logits_after: torch.Tensor  # head(y) after it [B, L, V]
    halt_logits: torch.Tensor | None  # [B, 2] (halt, continue) when the halting head exists


class TRM(nn.Module):
    def __init__(self, cfg: ModelConfig, vocab_size: int, seq_len: int, num_puzzle_ids: int = 1) -> None:
        super().__init__()
        cfg.validate()
        self.cfg, self.vocab_size, self.seq_len = cfg, vocab_size, seq_len
        d, total_len = cfg.hidden, cfg.puzzle_emb_len + seq_len
        self.embed_scale = math.sqrt(d)
        self.tokens = nn.Embedding(vocab_size, d)
        trunc_normal_(self.tokens.weight, 1 / math.sqrt(d))
        self.step_emb: nn.Embedding | None = None
        self.step_time: Linear | None = None
        if cfg.step_embedding and cfg.step_index == "integer":
            self.step_emb = nn.Embedding(cfg.step_embedding, d)
            trunc_normal_(self.step_emb.weight, 1 / math.sqrt(d))
        elif cfg.step_embedding:
            # Continuous diffusion-style time: sinusoidal features of t in [0, 1], then a learned map.
            self.step_time = Linear(d, d)
            half = d // 2
            freqs = torch.exp(-math.log(10000.0) * torch.arange(half) / half)
            self.register_buffer("time_freqs", freqs, persistent=False)
        self.puzzle_emb: nn.Embedding | None = None
        if cfg.puzzle_emb and num_puzzle_ids > 1:
            width = cfg.puzzle_emb_width or d
            # Sparse gradients: a batch touches a handful of the (up to ~1M) rows.
            self.puzzle_emb = nn.Embedding(num_puzzle_ids, width, sparse=True)
            nn.init.zeros_(self.puzzle_emb.weight)
        self.blocks = nn.ModuleList(
            Block(d, cfg.heads, total_len, cfg.expansion, cfg.variant, cfg.rope_base) for _ in range(cfg.layers)
        )
        self.head = Linear(d, vocab_size)
        self.halt_head: Linear | None = None
        if cfg.halting_head:
            self.halt_head = Linear(d, 2, bias=True)
            with torch.no_grad():
                self.halt_head.weight.zero_()
                self.halt_head.bias.fill_(-5.0)
        # Fixed random initial states, broadcast to every position; not trained.
        self.register_buffer("y_init", trunc_normal_(torch.empty(d), 1.0))
        self.register_buffer("z_init", trunc_normal_(torch.empty(d), 1.0))

    # -- bookkeeping -------------------------------------------------------------------------
    def num_parameters(self, include_puzzle_emb: bool = False) -> int:
        """Trainable parameters; the puzzle-embedding table is excluded by convention."""
        return sum(
            p.numel()
            for name, p in self.named_parameters()
            if include_puzzle_emb or not name.startswith("puzzle_emb.")
        )

    def dense_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.startswith("puzzle_emb.")]

    # -- the recursion -----------------------------------------------------------------------
    def initial_carry(self, batch_size: int, length: int | None = None) -> Carry:
        """The fixed initial states for ``batch_size`` examples of ``length`` grid cells (default:
        ``seq_len``)."""
        length = self.seq_len if length is None else length
        shape = (batch_size, self.cfg.puzzle_emb_len + length, self.cfg.hidden)
        return Carry(self.y_init.expand(shape).clone(), self.z_init.expand(shape).clone())

    def embed(
        self, inputs: torch.Tensor, puzzle_ids: torch.Tensor | None = None, step: int | None = None
    ) -> torch.Tensor:
        """Input injection ``x [B, P + L, D]``: token embeddings behind a prefix whose slot 0 holds
        the puzzle vector, plus the step embedding, all scaled by ``sqrt(D)``."""
        b = inputs.shape[0]
        tok = self.tokens(inputs)
        prefix = tok.new_zeros(b, self.cfg.puzzle_emb_len, self.cfg.hidden)
        if self.puzzle_emb is not None and puzzle_ids is not None:
            vec = self.puzzle_emb(puzzle_ids).to(tok.dtype)
            prefix[:, 0, : vec.shape[-1]] = vec
        x = torch.cat([prefix, tok], dim=1)
        if self.step_emb is not None and step is not None:
            if not 0 <= step < self.step_emb.num_embeddings:
                raise ValueError(
                    f"step {step} is outside the step embedding (model.step_embedding="
                    f"{self.step_emb.num_embeddings}); raise it to at least the number of steps + 1"
                )
            x = x + self.step_emb.weight[step]
        if self.step_time is not None and step is not None:
            x = x + self.step_time(self.time_features(step, x.dtype))
        return x * self.embed_scale

    def time_features(self, step: int, dtype: torch.dtype) -> torch.Tensor:
        """Sinusoidal features ``[D]`` of ``t = step / (step_embedding - 1)`` (the continuous step index)."""
        t = step / (self.cfg.step_embedding - 1)
        if not 0 <= t <= 1:
            raise ValueError(f"step {step} is outside the continuous step range 0..{self.cfg.step_embedding - 1}")
        angles = 1000.0 * t * self.time_freqs
        feats = torch.cat([angles.sin(), angles.cos()])
        return torch.nn.functional.pad(feats, (0, self.cfg.hidden - feats.numel())).to(dtype)

    def positions(self, cells: torch.Tensor | None, length: int) -> torch.Tensor | None:
        """Rotary position ids ``[P + L]`` or ``[B, P + L]`` of a sequence whose grid tokens sit at
        ``cells`` (``[L]`` or ``[B, L]``) of the full grid; None (``0..P+L-1``) for the full grid."""
        if cells is None:
            if length != self.seq_len:
                raise ValueError(f"a sequence of {length} grid cells (the model has {self.seq_len}) needs `cells`")
            return None
        if self.cfg.variant != "attention":
            raise ValueError(f"model.variant {self.cfg.variant!r} mixes a fixed token axis of {self.seq_len} cells: "
                             "it cannot run on cropped sequences (use the attention variant or the full grid)")
        if cells.shape[-1] != length:
            raise ValueError(f"cells has {cells.shape[-1]} entries for {length} grid tokens")
        p = self.cfg.puzzle_emb_len
        prefix = torch.arange(p, device=cells.device).expand(*cells.shape[:-1], p)
        return torch.cat([prefix, cells.long() + p], dim=-1)

    def net(self, state: torch.Tensor, injection: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        h = state + injection
        for block in self.blocks:
            h = block(h, positions)
        return h

    def _cycle(
        self, y: torch.Tensor, z: torch.Tensor, x: torch.Tensor, positions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        for _ in range(self.cfg.latent_steps):
            z = self.net(z, y + x, positions)
        return self.net(y, z, positions), z

    def readout(self, y: torch.Tensor) -> torch.Tensor:
        return self.head(y[:, self.cfg.puzzle_emb_len :])

    def step(
        self, carry: Carry, x: torch.Tensor, skip_reasoning: torch.Tensor | None = None,
        cells: torch.Tensor | None = None,
    ) -> StepOutput:
        """One refinement step. ``skip_reasoning`` (bool ``[B]``, optional) keeps ``y`` of the
        marked examples unchanged: the classifier-free 'unconditional' branch. ``cells`` (``[L]``
        or ``[B, L]``): where the grid tokens sit in the full grid, for cropped sequences."""
        y, z = carry
        positions = self.positions(cells, x.shape[1] - self.cfg.puzzle_emb_len)
        logits_before = self.readout(y)
        with torch.no_grad():
            for _ in range(self.cfg.cycles - 1):
                y, z = self._cycle(y, z, x, positions)
        y, z = self._cycle(y, z, x, positions)
        if skip_reasoning is not None:
            keep = skip_reasoning.view(-1, 1, 1)
            y = torch.where(keep, carry.y, y)
        logits_after = self.readout(y)
        halt = self.halt_head(y[:, 0]) if self.halt_head is not None else None
        return StepOutput(Carry(y.detach(), z.detach()), logits_before, logits_after, halt)
