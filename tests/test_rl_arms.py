"""Smoke tests of the RL arms as `dis-rl rl` and `dis-rl compare` run them: `train_ppo`, `load_arm`, `run_arm`."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from dis_rl.agents.ppo_scratch import PPOArgs, train_ppo
from dis_rl.agents.rl_arm import load_arm, run_arm
from dis_rl.compare import Budget
from dis_rl.config import DataConfig

torch.set_num_threads(1)

TINY_PPO = {"data": {"domain": "nqueens", "num_train": 10, "num_test": 4}, "max_steps": 2, "total_env_steps": 64,
            "num_envs": 4, "n_steps": 8, "batch_size": 16, "n_epochs": 1, "hidden": 16, "layers": 1, "heads": 1,
            "eval_every": 32}


def test_train_ppo_evaluates_on_schedule_and_saves_the_policy(tmp_path):
    records = train_ppo(PPOArgs(**{**TINY_PPO, "data": DataConfig(**TINY_PPO["data"])}), tmp_path, seed=0, threads=1)
    # evaluations at the start, after each rollout that crosses eval_every (32 env steps = one rollout), at the end
    assert [r["env_steps"] for r in records] == [0, 32, 64]
    # per rollout of 4 envs x 8 steps: 32 acting calls, 4 bootstrap values, 1 epoch x 32 training passes
    assert [r["network_calls"] for r in records] == [0, 68, 136]
    assert all(0.0 <= r["valid"] <= 1.0 for r in records)
    logged = [json.loads(line) for line in (tmp_path / "eval_log.jsonl").read_text().splitlines()]
    assert logged == records
    assert (tmp_path / "ppo_policy.zip").stat().st_size > 0


@pytest.mark.parametrize("budget, expected", [
    (Budget(network_calls=1000), {"max_network_calls": 1000, "eval_every_calls": 500}),
    (Budget(network_calls=1001), {"max_network_calls": 1002, "eval_every_calls": 501}),  # rounded up to points
    (Budget(seconds=8.0), {"max_train_seconds": 8.0, "eval_every_seconds": 4.0}),
])
def test_load_arm_sets_seed_and_budget_and_lifts_the_arms_own_limits(tmp_path, budget, expected):
    path = tmp_path / "ppo.yaml"
    path.write_text(yaml.safe_dump({"arm": "ppo_scratch", "ppo": TINY_PPO}))
    cfg = load_arm(path, ["ppo.lr=1e-3"], seed=7, budget=budget, eval_points=2)
    assert cfg.seed == 7 and cfg.ppo.lr == 1e-3
    for key, value in expected.items():
        assert getattr(cfg.budget, key) == value, key
    assert cfg.ppo.eval_every == 1_000_000_000  # the arm's own limit lifted; the other arm's keys left alone
    assert cfg.finetune.iterations == type(cfg.finetune)().iterations


def test_run_arm_spends_the_budget_and_reports_calls_per_env_step(tmp_path):
    path = tmp_path / "ppo.yaml"
    path.write_text(yaml.safe_dump({"arm": "ppo_scratch", "ppo": TINY_PPO}))
    cfg = load_arm(path, [], seed=0, budget=Budget(network_calls=136), eval_points=2)
    run = run_arm(cfg, tmp_path / "arm", progress=False)
    calls = [e["network_calls"] for e in run.evals]
    assert calls == [0, 68, 136]  # each rollout crosses one eval point (68 calls); the budget stops it at 136
    assert [e["env_steps"] for e in run.evals] == [0, 32, 64]
    assert run.calls_per_example == run.realised_calls_per_example == pytest.approx(136 / 64)


def test_arms_build_their_envs_from_the_whole_data_config():
    from dis_rl.data import puzzle_sets
    from dis_rl.registration import make_refine_env

    data = DataConfig(num_train=10, num_test=4, min_queens=5, max_queens=5)  # fields hand copies used to lose
    train, test = puzzle_sets(data)
    assert ((test.inputs == 2).sum(1) == 5).all()  # token 2: a given queen
    for env in (PPOArgs(data=data).make_env(3), make_refine_env(data, 3), make_refine_env(data).unwrapped):
        task = env.unwrapped.task if hasattr(env, "unwrapped") else env.task
        assert (task.train.inputs == train.inputs).all() and (task.test.inputs == test.inputs).all()
        env.close()
    with pytest.raises(ValueError, match="ppo.data.domain must be one of"):
        PPOArgs(data=DataConfig(domain="arc")).validate()


@pytest.mark.parametrize("limit", ["max_seconds", "max_train_seconds"])
def test_a_seconds_budget_stops_an_rl_arm_between_env_steps(tmp_path, limit):
    from dis_rl.runs import RunBudget

    args = PPOArgs(**{**TINY_PPO, "data": DataConfig(**TINY_PPO["data"]), "total_env_steps": 10_000})
    records = train_ppo(args, tmp_path, seed=0, threads=1, budget=RunBudget(**{limit: 1e-6}), progress=False)
    assert records[-1]["env_steps"] == 4  # one step of 4 envs, not the whole rollout of 4 x 8 (and its update)
