"""Gymnasium conventions: envs pickle (so subprocess vector envs work), the env owns its step limit
the same way wrapped or unwrapped, and `gym.spec` describes the ids."""

from __future__ import annotations

import inspect
import pickle

import gymnasium as gym
import numpy as np
import pytest

from dis_rl import envs  # noqa: F401  (registers the ids)
from dis_rl.registration import ENV_IDS, ENV_KWARGS, EPISODE_KWARGS

SMALL = {
    "NQueensRefine-v0": {"num_train": 30, "num_test": 6},
    "SudokuRefine-v0": {"num_train": 6, "num_test": 3},
    "ARCRefine-v0": {},
}


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_envs_pickle_and_continue_identically(env_id):
    env = gym.make(env_id, **SMALL[env_id])
    env.reset(seed=3)
    copy = pickle.loads(pickle.dumps(env))
    env.action_space.seed(0)
    action = env.action_space.sample()
    a, b = env.step(action), copy.step(action)
    assert all((a[0][k] == b[0][k]).all() for k in a[0]) and a[1:4] == b[1:4]
    venv = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **SMALL[env_id])
    venv.reset(seed=0)
    assert pickle.loads(pickle.dumps(venv)).num_envs == 2


def test_async_vector_env_and_sb3_subproc_vec_env():
    from stable_baselines3.common.vec_env import SubprocVecEnv

    kwargs = SMALL["NQueensRefine-v0"]
    venv = gym.make_vec("NQueensRefine-v0", num_envs=2, vectorization_mode="async", **kwargs)
    obs, _ = venv.reset(seed=0)
    assert obs["answer"].shape == (2, 64)
    venv.step(venv.action_space.sample())
    venv.close()
    # forkserver children import nothing of ours: the "dis_rl:" prefix registers the ids there
    sb3 = SubprocVecEnv([lambda: gym.make("dis_rl:NQueensRefine-v0", **kwargs)] * 2)
    assert sb3.reset()["answer"].shape == (2, 64)
    sb3.close()


@pytest.mark.parametrize("wrapped", [True, False])
@pytest.mark.parametrize("mode", ["refine", "edit"])
def test_env_truncates_itself_wrapped_or_not(mode, wrapped):
    env = gym.make("NQueensRefine-v0", action_mode=mode, max_steps=5, **SMALL["NQueensRefine-v0"])
    env = env if wrapped else env.unwrapped
    obs, _ = env.reset(seed=0)
    noop = obs["answer"].astype(np.int64) if mode == "refine" else int(np.flatnonzero(obs["input"] == 2)[0]) * 3 + 2
    ends = [env.step(noop)[2:4] for _ in range(5)]
    assert ends == [(False, False)] * 4 + [(False, True)]
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step(noop)


def test_max_episode_steps_above_or_below_the_env_limit():
    kwargs = SMALL["NQueensRefine-v0"]
    for limit, expected in ((100, 6), (3, 3)):
        env = gym.make("NQueensRefine-v0", max_episode_steps=limit, **kwargs)
        obs, _ = env.reset(seed=0)
        steps, truncated = 0, False
        while not truncated:
            _, _, terminated, truncated, _ = env.step(obs["input"].astype(np.int64))
            steps += 1
            assert not terminated
        assert steps == expected
    venv = gym.make_vec("NQueensRefine-v0", num_envs=2, max_episode_steps=3, **kwargs)
    obs, _ = venv.reset(seed=0)
    truncs = [venv.step(obs["input"].astype(np.int64))[3].all() for _ in range(3)]
    assert truncs == [False, False, True]


@pytest.mark.parametrize("env_id", list(ENV_IDS))
def test_spec_carries_threshold_and_the_constructor_defaults(env_id):
    from dis_rl.envs import arc, nqueens, sudoku

    spec = gym.spec(env_id)
    assert spec.reward_threshold == 1.0 and spec.max_episode_steps is None
    assert spec.kwargs == {**EPISODE_KWARGS, **ENV_KWARGS[env_id]}
    task_fn = {"NQueensRefine-v0": nqueens.nqueens_task, "SudokuRefine-v0": sudoku.sudoku_task,
               "ARCRefine-v0": arc.arc_task}[env_id]
    defaults = {k: p.default for k, p in inspect.signature(task_fn).parameters.items()
                if p.default is not inspect.Parameter.empty and k != "data"}
    assert defaults == ENV_KWARGS[env_id]
    from dis_rl.envs.core import RefineTask

    fields = RefineTask.__dataclass_fields__
    assert {k: fields[k].default for k in EPISODE_KWARGS} == EPISODE_KWARGS


def test_env_enforces_call_order_itself():
    """The ids are registered without OrderEnforcing and PassiveEnvChecker (two wrapper calls a step):
    the env raises ResetNeeded itself, and the checker comes back on request."""
    env = gym.make("NQueensRefine-v0", render_mode="ansi", **SMALL["NQueensRefine-v0"])
    assert env is env.unwrapped  # no wrapper at all
    with pytest.raises(gym.error.ResetNeeded, match="before step"):
        env.step(np.zeros(64, dtype=np.int64))
    with pytest.raises(gym.error.ResetNeeded, match="before render"):
        env.render()
    checked = gym.make("NQueensRefine-v0", disable_env_checker=False, **SMALL["NQueensRefine-v0"])
    assert type(checked).__name__ == "PassiveEnvChecker"
