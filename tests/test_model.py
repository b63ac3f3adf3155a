"""The TRM backbone: parameter counts of the references, both readouts, building blocks."""

import math

import pytest
import torch

from dis_rl.model.config import PRESETS, ModelConfig
from dis_rl.model.layers import rms_norm, swiglu_width, trunc_normal_
from dis_rl.model.trm import TRM


def make(preset: str, vocab: int, seq_len: int = 900, **kw) -> TRM:
    return TRM(ModelConfig(**{**PRESETS[preset], **kw}), vocab, seq_len)


def block_params(model: TRM) -> int:
    return sum(p.numel() for p in model.blocks[0].parameters())


def test_block_parameter_counts():
    assert block_params(make("compact", 12)) == 851_968
    assert block_params(make("medium", 12)) == 3_407_872


def test_reference_model_totals():
    # TRM ARC setting: medium, vocab 12, halting head, no step embedding.
    assert make("medium", 12, halting_head=True, step_embedding=0).num_parameters() == 6_829_058
    # Public DIS compact model: untrained halting head (514) and an 8-row step embedding (2,048).
    assert make("compact", 12, halting_head=True, step_embedding=8).num_parameters() == 860_674
    # TRM Sudoku MLP variant (P 16 + 81 tokens mixed by a SwiGLU across positions).
    mlp = make("medium", 11, seq_len=81, variant="mlp", halting_head=True, step_embedding=0)
    assert mlp.num_parameters() == 5_028_866


def test_puzzle_embedding_not_counted():
    model = TRM(ModelConfig(hidden=32, layers=1, heads=2), 12, 16, num_puzzle_ids=100)
    assert model.puzzle_emb is not None
    assert model.num_parameters(include_puzzle_emb=True) - model.num_parameters() == 100 * 32
    assert torch.count_nonzero(model.puzzle_emb.weight) == 0  # zero-initialised


def test_swiglu_width_rounds_up_to_256():
    assert swiglu_width(512, 4) == 1536
    assert swiglu_width(256, 4) == 768
    assert swiglu_width(64, 4) == 256


def test_rms_norm_has_unit_rms_and_no_gain():
    x = torch.randn(4, 7, 32) * 5
    y = rms_norm(x)
    assert torch.allclose(y.square().mean(-1), torch.ones(4, 7), atol=1e-4)
    assert not any(True for _ in make("compact", 12).blocks[0].parameters() if _.dim() == 1)


def test_truncated_normal_is_cut_at_two_sigma_with_corrected_std():
    t = trunc_normal_(torch.empty(200_000), std=0.5, generator=torch.Generator().manual_seed(0))
    assert t.abs().max() <= 2 * 0.5 / 0.87 + 1e-6
    assert math.isclose(t.std().item(), 0.5, rel_tol=0.01)


def test_step_returns_both_readouts():
    torch.manual_seed(0)
    model = TRM(ModelConfig(hidden=32, layers=1, heads=2, puzzle_emb_len=2), 3, 64)
    carry = model.initial_carry(3)
    x = model.embed(torch.ones(3, 64, dtype=torch.long), None, 1)
    out = model.step(carry, x)
    assert out.logits_before.shape == out.logits_after.shape == (3, 64, 3)
    # Before = the head on the incoming answer state; after = the head on the updated one.
    assert torch.allclose(out.logits_before, model.readout(carry.y))
    assert torch.allclose(out.logits_after, model.readout(out.carry.y))
    assert not torch.allclose(out.logits_before, out.logits_after)
    assert not out.carry.y.requires_grad and out.logits_after.requires_grad


def test_skip_reasoning_keeps_answer_state():
    model = TRM(ModelConfig(hidden=32, layers=1, heads=2), 3, 64)
    carry = model.initial_carry(2)
    x = model.embed(torch.ones(2, 64, dtype=torch.long), None, 1)
    out = model.step(carry, x, skip_reasoning=torch.tensor([True, False]))
    assert torch.equal(out.logits_after[0], out.logits_before[0])
    assert not torch.equal(out.logits_after[1], out.logits_before[1])


def test_mlp_variant_runs_and_halting_head_init():
    model = TRM(ModelConfig(hidden=32, layers=1, heads=2, variant="mlp", halting_head=True), 11, 81)
    out = model.step(model.initial_carry(2), model.embed(torch.ones(2, 81, dtype=torch.long), None, 1))
    assert out.halt_logits.shape == (2, 2)
    assert torch.allclose(out.halt_logits, torch.full((2, 2), -5.0))


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="divisible"):
        TRM(ModelConfig(hidden=30, heads=4), 3, 64)
    with pytest.raises(ValueError, match="variant"):
        TRM(ModelConfig(variant="conv"), 3, 64)
    model = TRM(ModelConfig(hidden=32, heads=2, step_embedding=4), 3, 64)
    with pytest.raises(ValueError, match="step embedding"):
        model.embed(torch.ones(1, 64, dtype=torch.long), None, 4)


def _rms(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x / torch.sqrt(x.pow(2).mean(dim, keepdim=True) + 1e-5)


def _swiglu(x: torch.Tensor, mod) -> torch.Tensor:
    wg, wu = mod.gate_up.weight.chunk(2, dim=0)
    return (torch.nn.functional.silu(x @ wg.T) * (x @ wu.T)) @ mod.down.weight.T


@pytest.mark.parametrize("variant", ["attention", "mlp", "mlp_hidden_norm"])
def test_block_matches_hand_written_formula(variant):
    """Pins the post-norm block of each variant (fp64). TRM's token-MLP block normalises the first
    residual sum over the token axis (dim 1 of [B, S, D]); the attention block over the hidden axis."""
    from dis_rl.model.layers import Block

    torch.manual_seed(0)
    b, s, d, heads = 2, 7, 16, 2
    block = Block(d, heads, s, 4.0, variant, 10000.0).double()
    h = torch.randn(b, s, d, dtype=torch.float64)
    if variant == "attention":
        att = block.mix
        q, k, v = (h @ att.qkv.weight.T).view(b, s, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        pos = torch.arange(s, dtype=torch.float64)[:, None]
        freq = 1.0 / 10000 ** (torch.arange(0, d // heads, 2, dtype=torch.float64) / (d // heads))
        ang = torch.cat([pos * freq, pos * freq], -1)

        def rope(t):
            half = t.shape[-1] // 2
            return t * ang.cos() + torch.cat([-t[..., half:], t[..., :half]], -1) * ang.sin()

        q, k = rope(q), rope(k)
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), -1)
        mixed = (w @ v).transpose(1, 2).reshape(b, s, d) @ att.out.weight.T
        h1 = _rms(h + mixed, dim=-1)
    else:
        mixed = _swiglu(h.transpose(1, 2), block.mix.mlp).transpose(1, 2)
        h1 = _rms(h + mixed, dim=1 if variant == "mlp" else -1)
    expected = _rms(h1 + _swiglu(h1, block.mlp), dim=-1)
    torch.testing.assert_close(block(h), expected, rtol=1e-6, atol=1e-6)



def _rope_formula(x: torch.Tensor) -> torch.Tensor:
    # The cos/sin tables are built in fp32 (as TRM's); only the rotation itself runs in fp64.
    s, dh = x.shape[-2], x.shape[-1]
    freq = 1.0 / 10000 ** (torch.arange(0, dh, 2, dtype=torch.float32) / dh)
    ang = torch.arange(s, dtype=torch.float32)[:, None] * freq
    ang = torch.cat([ang, ang], -1)
    cos, sin = ang.cos().double(), ang.sin().double()
    x = x.double()
    return x * cos + torch.cat([-x[..., dh // 2 :], x[..., : dh // 2]], -1) * sin


def test_rotary_keeps_fp64_precision_and_rounds_bf16_from_fp32():
    from dis_rl.model.layers import Rotary

    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rope = Rotary(8, 9).double()  # a model in fp64: tables and activations both fp64
    # A cast to fp32 anywhere in the rotation would show as ~1e-7 here.
    torch.testing.assert_close(rope(x), _rope_formula(x), rtol=0, atol=1e-12)
    rope32 = Rotary(8, 9)
    xb = x.to(torch.bfloat16)
    out = rope32(xb)
    assert out.dtype == torch.bfloat16
    # bf16 activations are rotated in fp32 (the tables' dtype) and rounded once at the end.
    assert torch.equal(out, rope32(xb.float()).to(torch.bfloat16))
