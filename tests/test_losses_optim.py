"""Stablemax cross-entropy and Adam-atan2 against their formulas (those of the TRM reference code)."""

import math

import torch

from dis_rl.losses import cross_entropy, stablemax_log_probs
from dis_rl.optim import AdamAtan2, SignSGD, warmup_factor


def test_stablemax_matches_float64_formula():
    logits = torch.randn(3, 5, 7) * 4
    got = stablemax_log_probs(logits)
    for b, t, v in [(0, 0, 0), (1, 3, 6), (2, 4, 2)]:
        row = [float(x) for x in logits[b, t]]
        s = [x + 1 if x >= 0 else 1 / (1 - x) for x in row]
        assert math.isclose(float(got[b, t, v]), math.log(s[v] / sum(s)), rel_tol=1e-12)
    assert got.dtype == torch.float64


def test_cross_entropy_skips_pad_and_normalises_per_example():
    logits = torch.randn(2, 4, 5)
    targets = torch.tensor([[1, 2, 0, 0], [3, 3, 3, 4]])
    for kind in ("softmax", "stablemax"):
        loss = cross_entropy(logits, targets, kind)
        logp = stablemax_log_probs(logits) if kind == "stablemax" else torch.log_softmax(logits.double(), -1)
        expect0 = -(logp[0, 0, 1] + logp[0, 1, 2]) / 2
        expect1 = -(logp[1, 0, 3] + logp[1, 1, 3] + logp[1, 2, 3] + logp[1, 3, 4]) / 4
        assert torch.allclose(loss.double(), torch.stack([expect0, expect1]), atol=1e-5)


def test_adam_atan2_matches_formula():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(6))
    ref = p.detach().clone().double()
    lr, (b1, b2), wd = 0.01, (0.9, 0.95), 0.1
    opt = AdamAtan2([p], lr=lr, betas=(b1, b2), weight_decay=wd)
    m = torch.zeros(6, dtype=torch.float64)
    v = torch.zeros(6, dtype=torch.float64)
    for t in range(1, 6):
        g = torch.randn(6)
        p.grad = g.clone()
        opt.step()
        g = g.double()
        ref = ref * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        ref = ref - lr / (1 - b1**t) * torch.atan2(m, v.sqrt() / math.sqrt(1 - b2**t))
        assert torch.allclose(p.detach().double(), ref, atol=1e-6)


def test_signsgd_moves_only_rows_in_the_batch():
    emb = torch.nn.Embedding(5, 3, sparse=True)
    torch.nn.init.ones_(emb.weight)
    opt = SignSGD(emb.parameters(), lr=0.1, weight_decay=0.5)
    emb(torch.tensor([1, 3, 3])).sum().backward()
    opt.step()
    w = emb.weight.detach()
    assert torch.allclose(w[[0, 2, 4]], torch.ones(3, 3))
    assert torch.allclose(w[[1, 3]], torch.full((2, 3), 1 * (1 - 0.05) - 0.1))


def test_warmup_is_linear_then_constant():
    assert [warmup_factor(s, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 0) == 1.0


def test_cosine_schedule_decays_to_min_ratio_and_refuses_call_budgets(tiny_overrides):
    import math

    import pytest

    from dis_rl.config import config_from_dict
    from dis_rl.optim import schedule_factor
    from dis_rl.train import Trainer

    assert schedule_factor("constant", 0.7, 0.1) == 1.0
    assert schedule_factor("cosine", 0.0, 0.1) == 1.0
    assert schedule_factor("cosine", 0.5, 0.1) == pytest.approx(0.55)
    assert schedule_factor("cosine", 1.0, 0.1) == pytest.approx(0.1)
    cfg = config_from_dict({}, tiny_overrides + ["train.lr_schedule=cosine", "train.warmup_steps=0", "train.lr=0.01"])
    trainer = Trainer(cfg, progress=False)
    trainer.batches = 2  # half-way through the 4 batches
    assert trainer.lr == pytest.approx(0.01 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5))))
    trainer.batches = 0
    trainer.run()
    assert trainer.lr == pytest.approx(0.01 * 0.1)  # the end of the run
    with pytest.raises(ValueError, match="cosine"):
        config_from_dict({}, tiny_overrides + ["train.lr_schedule=cosine", "train.max_network_calls=1000"])
