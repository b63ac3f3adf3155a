"""Building blocks of the TRM backbone, as in the TRM reference implementation.

Post-norm transformer blocks with gain-free RMSNorm (fp32), rotary position embeddings,
fused-qkv non-causal attention without biases, and SwiGLU whose inner width is rounded up
to a multiple of 256. Initialisation: truncated normal at 2 sigma, std-corrected, 1/sqrt(fan_in).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dis_rl.model.config import VARIANTS

# Standard deviation of a unit normal truncated at +-2 sigma; dividing by it restores the std.
_TRUNC2_STD = math.sqrt(
    1 - 4 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(2 / math.sqrt(2))
)


def trunc_normal_(tensor: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill with a normal truncated at 2 sigma whose *actual* std is ``std``."""
    with torch.no_grad():
        tensor.normal_(generator=generator)
        # Resample out-of-range values until none remain (cheap: ~4.6% per round).
        bad = tensor.abs() > 2
        while bad.any():
            tensor[bad] = torch.randn(int(bad.sum()), generator=generator, dtype=tensor.dtype)
            bad = tensor.abs() > 2
        return tensor.mul_(std / _TRUNC2_STD)


def swiglu_width(dim: int, expansion: float) -> int:
    """Inner width ``round(expansion * dim * 2/3)`` rounded up to a multiple of 256."""
    inner = round(expansion * dim * 2 / 3)
    return -(-inner // 256) * 256


def rms_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """RMSNorm without a learnable gain, computed in fp32."""
    dtype = x.dtype
    x = x.float()
    return (x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps)).to(dtype)


class Linear(nn.Module):
    """Bias-free (by default) linear layer with truncated-normal 1/sqrt(fan_in) init; the weight
    is cast to the input dtype so bf16 autocast and fp32 master weights mix cleanly."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(trunc_normal_(torch.empty(out_features, in_features), 1 / math.sqrt(in_features)))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return F.linear(x, self.weight.to(x.dtype), bias)


class SwiGLU(nn.Module):
    """``down(silu(gate) * up)`` with a fused gate/up projection."""

    def __init__(self, dim: int, expansion: float) -> None:
        super().__init__()
        inner = swiglu_width(dim, expansion)
        self.gate_up = Linear(dim, 2 * inner)
        self.down = Linear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Rotary(nn.Module):
    """Rotate-half rotary embedding over positions ``0..seq_len-1``, tables kept in fp32.

    ``positions`` (``[S]`` or ``[B, S]`` integer ids, optional) picks the rows of the tables, so a
    cropped sequence keeps the phases its tokens have in the full one; absent: ``0..S-1``."""

    def __init__(self, head_dim: int, seq_len: int, base: float = 10000.0) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
        angles = torch.cat([angles, angles], dim=-1)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:  # x: [B, H, S, Dh]
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        if positions is None:
            cos, sin = self.cos[: x.shape[-2]], self.sin[: x.shape[-2]]
        else:
            cos, sin = self.cos[positions], self.sin[positions]
            if positions.dim() == 2:  # per-example ids: broadcast over heads
                cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        # Rotate in the tables' dtype, as TRM does: fp32 for bf16/fp32 activations, fp64 for a model
        # moved to fp64 (a fixed fp32 cast there was the one difference from the reference; see
        # docs/results/trm_equivalence.md), and fp32 for fp64 activations over fp32 tables.
        dtype = cos.dtype
        return (x.to(dtype) * cos + rotated.to(dtype) * sin).to(x.dtype)


class Attention(nn.Module):
    """Full (non-causal) multi-head attention, fused qkv, no biases, no mask, RoPE on q and k."""

    def __init__(self, dim: int, heads: int, seq_len: int, rope_base: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden size {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = Linear(dim, 3 * dim)
        self.out = Linear(dim, dim)
        self.rotary = Rotary(dim // heads, seq_len, rope_base)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = self.rotary(q, positions), self.rotary(k, positions)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, s, d))


class TokenMLP(nn.Module):
    """The MLP variant's mixer: a SwiGLU across the token axis (no positional encoding).

    Works on the transposed state ``[B, D, S]``: the block normalises the residual sum while it is
    still transposed, so TRM's first RMSNorm of this variant runs over the *token* axis."""

    def __init__(self, seq_len: int, expansion: float) -> None:
        super().__init__()
        self.mlp = SwiGLU(seq_len, expansion)

    def forward(self, xt: torch.Tensor) -> torch.Tensor:  # xt: [B, D, S]
        return self.mlp(xt)


# Block variants (`VARIANTS`). "mlp" is TRM's token-MLP block (first norm over tokens, as the reference's
# `mlp_t` block); "mlp_hidden_norm" is the same mixer with the first norm over the hidden axis, an
# earlier dis-rl deviation kept only so that numbers measured with it can be reproduced.


class Block(nn.Module):
    """Post-norm block: ``h = rms(h + mix(h))``, ``h = rms(h + swiglu(h))``.

    Attention variant: both norms over the hidden axis. Token-MLP variant (``mlp``): the mixer and
    the first norm act on ``h^T`` (``[B, D, S]``), so that norm runs over the token axis."""

    def __init__(self, dim: int, heads: int, seq_len: int, expansion: float, variant: str, rope_base: float) -> None:
        super().__init__()
        if variant == "attention":
            self.mix: nn.Module = Attention(dim, heads, seq_len, rope_base)
        elif variant in ("mlp", "mlp_hidden_norm"):
            self.mix = TokenMLP(seq_len, expansion)
        else:
            raise ValueError(f"unknown block variant {variant!r}; expected one of {', '.join(VARIANTS)}")
        self.variant = variant
        self.mlp = SwiGLU(dim, expansion)

    def forward(self, h: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """``positions``: rotary position ids of the tokens (attention variant only; see `Rotary`)."""
        if self.variant == "attention":
            h = rms_norm(h + self.mix(h, positions))
        elif self.variant == "mlp":
            ht = h.transpose(1, 2)
            h = rms_norm(ht + self.mix(ht)).transpose(1, 2)
        else:  # mlp_hidden_norm
            h = rms_norm(h + self.mix(h.transpose(1, 2)).transpose(1, 2))
        return rms_norm(h + self.mlp(h))
