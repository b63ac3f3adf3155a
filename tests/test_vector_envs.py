"""The vector-native envs: Gymnasium semantics, equality with the scalar envs, the SB3 adapter."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode

from dis_rl import envs  # noqa: F401  (registers the ids)
from tests.test_envs import ENV_IDS, MODES, SMALL, label_of


def make_vec(env_id: str, num_envs: int, **kwargs) -> gym.vector.VectorEnv:
    return gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **{**SMALL[env_id], **kwargs}
    )


def _random_actions(rng, task, num):
    if task.action_mode == "refine":
        return rng.integers(0, task.vocab, size=(num, task.seq_len))
    return rng.integers(0, task.seq_len * task.vocab, size=num)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_vector_matches_scalar_envs(env_id, mode):
    """Sub-env i of the vector env == a scalar env reset with seed + i, through autoresets."""
    num, seed, steps = 3, 11, 14
    kwargs = {"action_mode": mode, "max_steps": 4}
    venv = make_vec(env_id, num, **kwargs)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    scalars = [gym.make(env_id, **{**SMALL[env_id], **kwargs}) for _ in range(num)]
    vobs, vinfo = venv.reset(seed=seed)
    assert venv.observation_space.contains(vobs)
    ended = [False] * num
    for i, env in enumerate(scalars):
        obs, info = env.reset(seed=seed + i)
        for k in obs:
            np.testing.assert_array_equal(vobs[k][i], obs[k])
        assert vinfo["puzzle_id"][i] == info["puzzle_id"]
    rng = np.random.default_rng(0)
    for t in range(steps):
        actions = _random_actions(rng, venv.unwrapped.task, num)
        if mode == "refine" and t % 3 == 1:  # sub-env 0 proposes its label: ends solved
            actions[0] = label_of(venv, 0)
        vobs, vrew, vterm, vtrunc, vinfo = venv.step(actions)
        assert venv.observation_space.contains(vobs)
        for i, env in enumerate(scalars):
            if ended[i]:  # NEXT_STEP autoreset: this step is the reset
                obs, info = env.reset()
                rew, term, trunc = 0.0, False, False
            else:
                obs, rew, term, trunc, info = env.step(actions[i])
            ended[i] = term or trunc
            for k in obs:
                np.testing.assert_array_equal(vobs[k][i], obs[k])
            assert (vrew[i], vterm[i], vtrunc[i]) == (pytest.approx(rew), term, trunc)
            for key, value in info.items():
                assert vinfo[key][i] == value and vinfo["_" + key][i]


def test_label_actions_terminate_and_autoreset():
    venv = make_vec("NQueensRefine-v0", 4)
    venv.reset(seed=0)
    labels = np.stack([label_of(venv, i) for i in range(venv.num_envs)]).astype(np.int64)
    _, rewards, terminated, truncated, info = venv.step(labels)
    assert terminated.all() and not truncated.any() and info["solved"].all() and (rewards > 1).all()
    obs, rewards, terminated, truncated, info = venv.step(labels)  # ignored: autoreset
    assert (rewards == 0).all() and not terminated.any() and (obs["step"] == 0).all()


def test_reset_mask_resets_only_those_envs_and_masks_shape():
    venv = make_vec("NQueensRefine-v0", 3, action_mode="edit")
    venv.reset(seed=0)
    venv.step(np.zeros(3, dtype=np.int64))
    obs, _ = venv.reset(options={"reset_mask": np.array([True, False, False])})
    assert obs["step"][:, 0].tolist() == [0, 1, 1]
    assert venv.unwrapped.action_masks().shape == (3, 64 * 3)


def test_vector_errors():
    venv = make_vec("NQueensRefine-v0", 2)
    with pytest.raises(ResetNeeded):
        venv.step(np.ones((2, 64), dtype=np.int64))
    venv.reset(seed=0, options={"split": "test", "puzzle": [0, 1]})
    with pytest.raises(ValueError, match="batch of 2"):
        venv.step(np.ones((3, 64), dtype=np.int64))
    with pytest.raises(ValueError, match="puzzle"):
        venv.reset(options={"puzzle": [0, 1, 2]})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_adapter_with_ppo_and_maskable_ppo(env_id):
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    from dis_rl.agents.sb3_vecenv import SB3VecEnv

    vec = SB3VecEnv(make_vec(env_id, 4, action_mode="edit", max_steps=8))
    small = dict(n_steps=8, batch_size=32, n_epochs=1, seed=0, device="cpu")
    PPO("MultiInputPolicy", vec, **small).learn(64)
    model = MaskablePPO("MultiInputPolicy", vec, **small).learn(64)
    obs = vec.reset()
    masks = np.stack(vec.env_method("action_masks"))
    actions, _ = model.predict(obs, action_masks=masks)
    _, rewards, dones, infos = vec.step(actions)
    assert rewards.shape == (4,) and len(infos) == 4 and "distance" in infos[0]
    for _ in range(8):
        _, _, dones, infos = vec.step(actions)
        if dones.any():
            i = int(np.flatnonzero(dones)[0])
            assert "terminal_observation" in infos[i] and "TimeLimit.truncated" in infos[i]
            break
    else:
        pytest.fail("no episode ended within max_steps")


def test_many_autoresets_match_scalar_and_reseeding_restarts_the_draws():
    """Puzzle draws are buffered per sub-env (PuzzleDraws.BLOCK at a time): past a block boundary and
    after a re-seed, sub-env i still draws what a scalar env seeded seed + i draws."""
    from dis_rl.envs.core import PuzzleDraws

    num, episodes = 2, PuzzleDraws.BLOCK + 10
    venv = make_vec("NQueensRefine-v0", num, max_steps=1)
    scalars = [gym.make("NQueensRefine-v0", **SMALL["NQueensRefine-v0"], max_steps=1) for _ in range(num)]
    for seed in (3, 4):
        _, vinfo = venv.reset(seed=seed)
        got = [[vinfo["puzzle_index"][i]] for i in range(num)]
        want = [[env.reset(seed=seed + i)[1]["puzzle_index"]] for i, env in enumerate(scalars)]
        blank = np.zeros((num, 64), dtype=np.int64)
        for _ in range(episodes):
            venv.step(blank)  # ends every episode (max_steps 1)
            _, _, _, _, vinfo = venv.step(blank)  # the autoreset step
            for i, env in enumerate(scalars):
                env.step(blank[i])
                want[i].append(env.reset()[1]["puzzle_index"])
                got[i].append(vinfo["puzzle_index"][i])
        assert got == want
        assert len(set(got[0])) > 10  # really drawn, not repeated
