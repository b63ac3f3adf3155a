"""The SB3 policy for the refinement envs: the batched distribution equals SB3's stock one; PPO and
MaskablePPO run on every env through the vector-native envs."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.distributions import MultiCategoricalDistribution

from dis_rl import envs  # noqa: F401
from dis_rl.agents.sb3_policy import BatchedMultiCategoricalDistribution, TRMActorCriticPolicy, TRMMaskablePolicy
from dis_rl.agents.sb3_vecenv import SB3VecEnv

torch.set_num_threads(1)
EXTRACTOR = {"features_extractor_kwargs": {"hidden": 16, "layers": 1, "heads": 2}}


@pytest.mark.parametrize("cells,vocab", [(1, 2), (7, 3), (64, 3), (900, 12)])
def test_batched_distribution_equals_stock(cells, vocab):
    gen = torch.Generator().manual_seed(cells)
    logits = 3 * torch.randn(5, cells * vocab, generator=gen)
    actions = torch.randint(0, vocab, (5, cells), generator=gen)
    stock = MultiCategoricalDistribution([vocab] * cells).proba_distribution(logits)
    batched = BatchedMultiCategoricalDistribution([vocab] * cells).proba_distribution(logits)
    torch.testing.assert_close(batched.log_prob(actions), stock.log_prob(actions), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(batched.entropy(), stock.entropy(), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(batched.mode(), stock.mode())
    sample = batched.sample()
    assert sample.shape == (5, cells) and sample.min() >= 0 and sample.max() < vocab


def test_batched_distribution_gradients_equal_stock():
    logits = torch.randn(4, 10 * 3, requires_grad=True)
    actions = torch.randint(0, 3, (4, 10))
    grads = []
    for cls in (MultiCategoricalDistribution, BatchedMultiCategoricalDistribution):
        d = cls([3] * 10).proba_distribution(logits)
        (g,) = torch.autograd.grad((d.log_prob(actions) + 0.1 * d.entropy()).sum(), logits)
        grads.append(g)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-5)


def test_batched_distribution_samples_follow_the_probabilities():
    torch.manual_seed(0)
    probs = torch.tensor([0.7, 0.2, 0.1])
    d = BatchedMultiCategoricalDistribution([3] * 2000).proba_distribution(probs.log().repeat(1, 2000))
    freq = torch.bincount(d.sample().flatten(), minlength=3).float() / 2000
    torch.testing.assert_close(freq, probs, atol=0.04, rtol=0)


def test_unequal_dimensions_are_refused():
    with pytest.raises(ValueError, match="equal action dimensions"):
        BatchedMultiCategoricalDistribution([3, 4])


def _arc_dir(tmp_path):
    """Two 3x3 tasks in each split (a flat folder would be test tasks only): fast to load."""
    grid = [[1, 2, 0], [0, 1, 2], [2, 0, 1]]
    flipped = [row[::-1] for row in grid]
    for split in ("training", "evaluation"):
        (tmp_path / split).mkdir()
        for i in range(2):
            task = {"train": [{"input": grid, "output": flipped}], "test": [{"input": flipped, "output": grid}]}
            (tmp_path / split / f"task{i}.json").write_text(json.dumps(task))
    return str(tmp_path)


def _venv(env_id, tmp_path, **kwargs):
    small = {
        "NQueensRefine-v0": {"num_train": 20, "num_test": 5},
        "SudokuRefine-v0": {"num_train": 8, "num_test": 4},
        "ARCRefine-v0": {"source": _arc_dir(tmp_path)} if tmp_path is not None else {},
    }[env_id]
    return SB3VecEnv(gym.make_vec(env_id, num_envs=2, **small, **kwargs))


@pytest.mark.parametrize("env_id", ["NQueensRefine-v0", "SudokuRefine-v0", "ARCRefine-v0"])
def test_ppo_refine_smoke(env_id, tmp_path):
    venv = _venv(env_id, tmp_path)
    model = PPO(TRMActorCriticPolicy, venv, n_steps=4, batch_size=4, n_epochs=1, seed=0, device="cpu",
                policy_kwargs=EXTRACTOR)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(8)
    assert isinstance(model.policy.action_dist, BatchedMultiCategoricalDistribution)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))
    obs = venv.reset()
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (2, *venv.action_space.shape)


@pytest.mark.parametrize("env_id", ["NQueensRefine-v0", "SudokuRefine-v0", "ARCRefine-v0"])
def test_maskable_ppo_edit_smoke(env_id, tmp_path):
    venv = _venv(env_id, tmp_path, action_mode="edit", max_steps=4)
    model = MaskablePPO(TRMMaskablePolicy, venv, n_steps=4, batch_size=4, n_epochs=1, seed=0, device="cpu",
                        policy_kwargs=EXTRACTOR)
    model.learn(8)
    obs = venv.reset()
    masks = np.stack(venv.env_method("action_masks"))
    action, _ = model.predict(obs, action_masks=masks, deterministic=True)
    assert masks[np.arange(2), action].all()


def test_policy_refuses_a_mismatched_extractor():
    env = gym.make_vec("NQueensRefine-v0", num_envs=1, num_train=20, num_test=5)
    with pytest.raises(ValueError, match="TRMFeaturesExtractor"):
        from stable_baselines3.common.torch_layers import CombinedExtractor

        TRMActorCriticPolicy(env.single_observation_space, env.single_action_space, lambda _: 1e-3,
                             features_extractor_class=CombinedExtractor)
