"""The scoring protocol: under evaluation nothing derived from the label reaches the agent before it
submits; label feedback stays available when asked for by name."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from dis_rl import envs  # noqa: F401  (registers the ids)
from tests.test_envs import label_of

FEEDBACK_KEYS = {"distance", "solved"}


def _task(answer, hidden=False):
    pair = {"input": [[1, 1, 1], [1, 1, 1]], "output": answer}
    test = {"input": pair["input"]} if hidden else pair
    return {"train": [pair, pair], "test": [test]}


@pytest.fixture
def arc_source(tmp_path):
    """Evaluation tasks with small answers (1x1 .. 2x3) and one hidden test output."""
    answers = [[[3]], [[5, 6]], [[7], [2]], [[1, 2, 3], [4, 5, 6]]]
    for split in ("training", "evaluation"):
        (tmp_path / split).mkdir()
        for i, answer in enumerate(answers):
            (tmp_path / split / f"t{i}.json").write_text(json.dumps(_task(answer)))
    (tmp_path / "evaluation" / "hidden.json").write_text(json.dumps(_task([[9]], hidden=True)))
    return tmp_path


def coordinate_search(env, puzzle, cells):
    """A reward-only search in edit mode that never reads the demonstrations: paint each token into
    each cell and keep it when the reward rises, undo it otherwise. Returns the final info."""
    vocab = env.unwrapped.task.vocab
    obs, info = env.reset(options={"split": "test", "puzzle": puzzle})
    for cell in cells:
        for token in range(vocab):
            before = int(obs["answer"][cell])
            if token == before:
                continue
            obs, reward, terminated, truncated, info = env.step(cell * vocab + token)
            if terminated or truncated:
                return info
            if reward > 0:
                break
            obs, reward, terminated, truncated, info = env.step(cell * vocab + before)  # undo
    if info["protocol"] == "evaluation":
        return env.unwrapped.submit()[-1]
    return info


def test_reward_only_search_beats_chance_only_with_label_feedback(arc_source):
    cells = [r * 30 + c for r in range(3) for c in range(4)]  # where these small answers live
    kwargs = {"source": arc_source, "action_mode": "edit", "max_steps": 2000}
    oracle = gym.make("ARCRefine-v0", protocol="label_feedback", allow_test_label_feedback=True, **kwargs)
    found = [coordinate_search(oracle, f"t{p}/0", cells) for p in range(4)]
    assert all(r["solved"] for r in found), found  # the leak, when asked for
    honest = gym.make("ARCRefine-v0", split="test", **kwargs)
    results = [coordinate_search(honest, f"t{p}/0", cells) for p in range(4)]
    assert all(r["scored"] for r in results) and not any(r["solved"] for r in results)


@pytest.mark.parametrize("mode", ["refine", "edit"])
def test_evaluation_steps_carry_nothing_from_the_label(arc_source, mode):
    env = gym.make("ARCRefine-v0", source=arc_source, split="test", action_mode=mode, max_steps=3)
    obs, info = env.reset(seed=0, options={"puzzle": "t1/0"})
    assert info["protocol"] == "evaluation" and not FEEDBACK_KEYS & set(info)
    label = label_of(env).astype(np.int64)
    for step in range(3):
        action = label if mode == "refine" else step * 12 + int(label[step])  # even the right answer
        obs, reward, terminated, truncated, info = env.step(action)
        if step < 2:
            assert reward == 0.0 and not terminated and not truncated and not FEEDBACK_KEYS & set(info)
    assert terminated and not truncated and info["scored"]  # submitted at the last step, scored then
    assert reward == float(info["solved"]) and info["solved"] == (mode == "refine")


def test_attempts_per_test_input(arc_source):
    env = gym.make("ARCRefine-v0", source=arc_source, split="test", max_steps=1)
    results = []
    for _ in range(3):
        obs, info = env.reset(options={"puzzle": "t0/0"})
        results.append(env.step(label_of(env).astype(np.int64)))
    assert [r[1] for r in results] == [1.0, 1.0, 0.0]  # ARC: two attempts, then not scored
    assert [r[-1]["attempt"] for r in results] == [1, 2, 3] and results[2][-1] == {**results[2][-1], "scored": False}
    assert "solved" not in results[2][-1]
    nq = gym.make("NQueensRefine-v0", num_train=20, num_test=4, split="test", max_steps=1)
    for expected in (True, False):  # N-Queens: one attempt unless asked
        nq.reset(options={"puzzle": 0})
        assert nq.step(label_of(nq).astype(np.int64))[-1]["scored"] is expected
    with pytest.raises(ValueError, match="exceeds the nqueens protocol's 1 attempt"):  # never more than the rule
        gym.make("NQueensRefine-v0", num_train=20, num_test=4, split="test", max_steps=1, attempts=3)
    with pytest.raises(ValueError, match="attempts"):
        gym.make("NQueensRefine-v0", num_train=20, num_test=4, attempts=0)


def test_default_protocol_follows_the_split_and_label_feedback_is_explicit(arc_source):
    env = gym.make("ARCRefine-v0", source=arc_source)
    assert env.reset(seed=0)[1]["protocol"] == "label_feedback"
    assert env.reset(options={"split": "test"})[1]["protocol"] == "evaluation"
    with pytest.raises(ValueError, match="allow_test_label_feedback=True"):  # only when asked for by name
        gym.make("ARCRefine-v0", source=arc_source, split="test", protocol="label_feedback")
    dense = gym.make("ARCRefine-v0", source=arc_source, split="test", protocol="label_feedback",
                     allow_test_label_feedback=True)
    info = dense.reset(seed=0)[1]
    assert info["protocol"] == "label_feedback" and "distance" in info
    assert "hidden/0" not in dense.unwrapped.task.puzzle_names("test")  # nothing to give feedback on
    every = gym.make("ARCRefine-v0", source=arc_source, protocol="evaluation")
    assert every.reset(seed=0)[1]["protocol"] == "evaluation"
    with pytest.raises(ValueError, match="protocol"):
        gym.make("ARCRefine-v0", source=arc_source, protocol="oracle")
    with pytest.raises(ValueError, match="label feedback"):
        env.reset(seed=0)
        env.unwrapped.submit()


def test_hidden_test_pairs_are_answered_never_scored(arc_source):
    env = gym.make("ARCRefine-v0", source=arc_source, split="test", max_steps=1)
    assert "hidden/0" in env.unwrapped.task.puzzle_names("test")
    obs, info = env.reset(options={"puzzle": "hidden/0"})
    obs, reward, terminated, truncated, info = env.step(obs["input"].astype(np.int64))
    assert terminated and reward == 0.0 and info["scored"] is False and "solved" not in info


def test_vector_env_follows_the_protocol_per_sub_env(arc_source):
    venv = gym.make_vec("ARCRefine-v0", num_envs=3, vectorization_mode="vector_entry_point", source=arc_source,
                        max_steps=2)
    venv.reset(seed=0, options={"split": ["train", "test", "test"], "puzzle": ["t0/0"] * 3})
    labels = np.stack([label_of(venv, i) for i in range(3)]).astype(np.int64)
    obs, rewards, terminated, truncated, infos = venv.step(labels)
    assert terminated.tolist() == [True, False, False] and rewards[1:].tolist() == [0.0, 0.0]
    assert infos["_distance"].tolist() == [True, False, False] and infos["_solved"].tolist() == [True, False, False]
    assert "scored" not in infos
    obs, rewards, terminated, truncated, infos = venv.step(labels)
    assert terminated[1:].all() and rewards[1:].tolist() == [1.0, 1.0]  # two attempts at t0/0: both scored
    assert infos["_scored"].tolist() == [False, True, True] and infos["attempt"][1:].tolist() == [1, 2]
