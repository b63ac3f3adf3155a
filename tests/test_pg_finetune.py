"""Policy-gradient fine-tuning: advantages on hand-made batches, a smoke run that changes the policy
with a finite KL to the pretrained one, the strict RL config."""

from __future__ import annotations

import json

import pytest
import torch

from dis_rl.agents.pg_finetune import (
    PGArgs,
    finetune,
    gae_advantages,
    group_relative_advantages,
    mean_baseline_advantages,
    returns_to_go,
)
from dis_rl.agents.rl_arm import load_rl_config, rl_config_from_dict
from dis_rl.config import ConfigError, config_from_dict
from dis_rl.loading import load_model

torch.set_num_threads(1)

# Two episodes of three steps; the second ends after two (solved), so its last step never happened.
REWARDS = torch.tensor([[0.1, 0.2, 0.3], [0.5, 1.0, 0.0]])
ALIVE = torch.tensor([[True, True, True], [True, True, False]])


def test_returns_to_go():
    torch.testing.assert_close(returns_to_go(REWARDS, ALIVE, 1.0), torch.tensor([[0.6, 0.5, 0.3], [1.5, 1.0, 0.0]]))
    torch.testing.assert_close(returns_to_go(REWARDS, ALIVE, 0.5)[0], torch.tensor([0.1 + 0.5 * 0.2 + 0.25 * 0.3,
                                                                                     0.2 + 0.5 * 0.3, 0.3]))


def test_mean_baseline_uses_only_running_episodes():
    adv = mean_baseline_advantages(returns_to_go(REWARDS, ALIVE, 1.0), ALIVE)
    # step means: (0.6 + 1.5) / 2, (0.5 + 1.0) / 2, 0.3 (only episode 0 ran step 3)
    torch.testing.assert_close(adv, torch.tensor([[-0.45, -0.25, 0.0], [0.45, 0.25, 0.0]]))


def test_group_relative_advantages():
    returns = torch.tensor([[1.0], [3.0], [2.0], [2.0]])  # two groups of two
    alive = torch.ones(4, 1, dtype=torch.bool)
    adv = group_relative_advantages(returns, alive, group_size=2)
    torch.testing.assert_close(adv, torch.tensor([[-1.0], [1.0], [0.0], [0.0]]), atol=1e-5, rtol=0)
    # every step of an episode gets the episode's advantage; dead steps get none
    adv = group_relative_advantages(returns_to_go(REWARDS, ALIVE, 1.0), ALIVE, group_size=2)
    torch.testing.assert_close(adv, torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 0.0]]), atol=1e-5, rtol=0)


def test_gae_matches_hand_computation():
    values = torch.tensor([[0.5, 0.4, 0.2], [1.0, 0.8, 9.9]])
    adv = gae_advantages(REWARDS, values, ALIVE, gamma=1.0, lam=0.5)
    # episode 0: deltas 0.1+0.4-0.5=0, 0.2+0.2-0.4=0, 0.3-0.2=0.1 -> A3=0.1, A2=0.05, A1=0.025
    # episode 1: deltas 0.5+0.8-1.0=0.3, 1.0-0.8=0.2 (terminal) -> A2=0.2, A1=0.3+0.5*0.2=0.4
    torch.testing.assert_close(adv, torch.tensor([[0.025, 0.05, 0.1], [0.4, 0.2, 0.0]]))
    # lambda = 1 with gamma = 1: return-to-go minus value
    full = gae_advantages(REWARDS, values, ALIVE, 1.0, 1.0)
    torch.testing.assert_close(full, (returns_to_go(REWARDS, ALIVE, 1.0) - values) * ALIVE)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from dis_rl.train import train

    run_dir = tmp_path_factory.mktemp("dis")
    cfg = config_from_dict({
        "data": {"num_train": 30, "num_test": 10},
        "model": {"hidden": 16, "layers": 1, "heads": 2, "puzzle_emb_len": 1, "step_embedding": 8},
        "train": {"max_batches": 2, "batch_size": 8, "eval_every": 0, "checkpoint_every": 0, "threads": 1,
                  "eval_batch_size": 10, "warmup_steps": 1},
    })
    train(cfg, run_dir, progress=False)
    return str(run_dir)


@pytest.mark.parametrize("algorithm,baseline", [("grpo", "mean"), ("ppo", "learned"), ("reinforce", "mean")])
def test_finetune_changes_the_policy_and_keeps_kl_finite(checkpoint, tmp_path, algorithm, baseline):
    args = PGArgs(checkpoint=checkpoint, algorithm=algorithm, baseline=baseline, puzzles_per_batch=2, group_size=3,
                  iterations=2, lr=1e-2, kl_coef=0.1, eval_every=0, eval_batch_size=10)
    records = finetune(args, tmp_path, seed=0, threads=1)
    assert [r["iteration"] for r in records] == [0, 2]
    # 2 iterations x 6 episodes x 6 steps (no tiny-model episode ends early); per iteration the model runs
    # the collection, then replays the batch for the value head, the KL reference and each update pass
    envs_, steps, calls_per_step = 2 * 3, 6, 1 * (2 + 1)
    replays = (baseline == "learned") + 1 + (1 if algorithm == "reinforce" else 2)
    assert records[-1]["env_steps"] == 2 * envs_ * steps
    assert records[-1]["network_calls"] == 2 * envs_ * steps * calls_per_step * (1 + replays)
    before, _, _ = load_model(checkpoint)
    after, _, _ = load_model(str(tmp_path / "checkpoints"))
    changed = [not torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values())]
    assert any(changed)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tb")).Reload()
    kl = [e.value for e in events.Scalars("losses/kl_to_pretrained")]
    assert kl and all(torch.isfinite(torch.tensor(kl))) and max(kl) >= 0
    assert {"charts/episodic_return", "charts/network_calls", "losses/policy_loss"} <= set(events.Tags()["scalars"])
    lines = (tmp_path / "eval_log.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["env_steps"] == records[-1]["env_steps"]


def test_rl_config_is_strict(tmp_path):
    with pytest.raises(ConfigError, match="finetune.lrr"):
        rl_config_from_dict({"arm": "pg_finetune", "finetune": {"checkpoint": "x", "lrr": 1}})
    with pytest.raises(ConfigError, match="algorithm"):
        rl_config_from_dict({"arm": "pg_finetune", "finetune": {"checkpoint": "x", "algorithm": "a2c"}})
    with pytest.raises(ConfigError, match="checkpoint"):
        rl_config_from_dict({"arm": "pg_finetune"})
    cfg = load_rl_config("configs/rl_nqueens_ppo.yaml", ["ppo.lr=1e-3", "seed=3"])
    assert cfg.arm == "ppo_scratch" and cfg.ppo.lr == 1e-3 and cfg.seed == 3
    # runs/nqueens_dis may not exist here: the shipped checkpoint stands in
    assert load_rl_config("configs/rl_nqueens_finetune.yaml", ["finetune.checkpoint=nqueens_dis"]).finetune.algorithm \
        == "grpo"
