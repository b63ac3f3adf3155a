"""The evaluation harness holds no label: a scorer owns the labels and the attempt count (per test
input, across env instances), the protocol caps attempts, public attributes change no verdict, and
`evaluate_agent` refuses repeated inputs, used-up envs and label feedback, with an isolated mode
and a per-call timeout."""

from __future__ import annotations

import json
import time

import gymnasium as gym
import numpy as np
import pytest

from dis_rl import envs  # noqa: F401  (registers the ids)
from dis_rl.envs import scoring
from dis_rl.envs.arc import grid_action, observation_grids
from dis_rl.envs.evaluate import evaluate_agent

PAIR = {"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]}  # rotate 180
TASK = {"train": [PAIR, {"input": [[5, 6, 7]], "output": [[7, 6, 5]]}],
        "test": [{"input": [[8, 9]], "output": [[9, 8]]}]}


@pytest.fixture
def source(tmp_path):
    for split in ("training", "evaluation"):
        (tmp_path / split).mkdir()
        for name in ("a", "b"):
            task = json.loads(json.dumps(TASK))
            task["test"][0]["input"][0][0] = 8 if name == "a" else 7  # two distinct test inputs
            task["test"][0]["output"] = np.rot90(np.array(task["test"][0]["input"]), 2).tolist()
            (tmp_path / split / f"{name}.json").write_text(json.dumps(task))
    return tmp_path


def rotate(obs):
    """The right answer for these tasks, computed from the observation alone (module level: it pickles)."""
    return grid_action(np.rot90(observation_grids(obs)["input"], 2))


def rotate_only_where_nothing_is_scored(obs):
    """Refuses to answer unless it runs in the isolated agent process, where nothing is scored."""
    if not scoring._STATE["denied"]:
        raise AssertionError("predict ran in the scoring process")
    return rotate(obs)


def test_the_env_holds_no_test_label(source):
    env = gym.make("ARCRefine-v0", source=source, split="test", max_steps=1)
    task = env.unwrapped.task
    assert not task.test.labels.any() and not task.sets["test"].labels.any()  # PAD only
    assert task.train.labels.any()  # label feedback on the training split keeps its labels
    assert not hasattr(env.unwrapped, "submissions")
    venv = gym.make_vec("ARCRefine-v0", num_envs=2, vectorization_mode="vector_entry_point", source=source)
    assert not venv.unwrapped.task.test.labels.any() and not hasattr(venv.unwrapped, "submissions")


def test_a_fresh_env_does_not_reset_the_count_and_attributes_change_no_verdict(source):
    def submit(env, answer_fn):
        obs, _ = env.reset(options={"puzzle": "a/0"})
        return env.step(answer_fn(obs))[-1]

    first = gym.make("ARCRefine-v0", source=source, split="test", max_steps=1)
    wrong = lambda obs: grid_action([[0]])  # noqa: E731
    assert [submit(first, wrong)["scored"] for _ in range(2)] == [True, True]
    first.unwrapped.task.attempts = 1000  # public attributes: no effect on the scorer
    first.unwrapped.task.scorers["test"].attempts = 1000
    again = gym.make("ARCRefine-v0", source=source, split="test", max_steps=1)  # a fresh env: same count
    info = submit(again, rotate)
    assert info["scored"] is False and "solved" not in info and info["attempt"] == 3
    assert submit(first, rotate)["attempt"] == 4  # the first env sees the count go on too
    # The other test input keeps its own two attempts.
    obs, _ = again.reset(options={"puzzle": "b/0"})
    assert again.step(rotate(obs))[-1]["solved"] is True


def test_attempts_are_capped_at_the_protocol_and_label_feedback_must_be_named(source):
    with pytest.raises(ValueError, match="exceeds the arc protocol's 2 attempt"):
        gym.make("ARCRefine-v0", source=source, split="test", attempts=1000)
    assert gym.make("ARCRefine-v0", source=source, split="test", attempts=1).unwrapped.task.attempts == 1
    with pytest.raises(ValueError, match="allow_test_label_feedback=True"):
        gym.make("ARCRefine-v0", source=source, split="test", protocol="label_feedback", max_steps=10**6)
    oracle = gym.make("ARCRefine-v0", source=source, split="test", protocol="label_feedback",
                      allow_test_label_feedback=True)
    assert "distance" in oracle.reset(seed=0)[1]


def test_switching_the_protocol_attribute_gives_no_label_feedback(source):
    env = gym.make("ARCRefine-v0", source=source, split="test", max_steps=5)
    env.unwrapped.task.protocol = "label_feedback"  # an attack through a public attribute
    obs, info = env.reset(options={"puzzle": "a/0"})
    _, reward, terminated, _, info = env.step(rotate(obs))
    assert not terminated and info.get("solved") is not True and reward <= 0.0  # scored against PAD, not the label


def test_evaluate_agent_refuses_repeats_used_up_envs_and_feedback(source, tmp_path):
    for puzzles in (["a/0", "a/0", "b/0"], [0, "a/0"]):
        with pytest.raises(ValueError, match="give each test input once"):
            evaluate_agent(rotate, "ARCRefine-v0", source=source, puzzles=puzzles, progress=False)
    with pytest.raises(ValueError, match="evaluation protocol"):
        evaluate_agent(rotate, "ARCRefine-v0", source=source, protocol="label_feedback", progress=False)
    env = gym.make("ARCRefine-v0", source=source, split="test", max_steps=1)
    assert evaluate_agent(rotate, env, progress=False).pass_at(1) == 1.0
    with pytest.raises(ValueError, match="already submitted"):
        evaluate_agent(rotate, env, progress=False)
    score = evaluate_agent(rotate, "ARCRefine-v0", source=source, progress=False)  # afresh from the id
    assert score.pass_at(1) == 1.0
    with pytest.raises(ValueError, match="is a folder"):
        score.write_submission(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        score.write_submission(tmp_path / "missing" / "submission.json")
    nq = evaluate_agent(lambda obs: obs["input"].astype(np.int64), "NQueensRefine-v0", num_train=20, num_test=3,
                        progress=False)
    with pytest.raises(ValueError, match="ARC Prize format"):
        nq.write_submission(tmp_path / "submission.json")


def test_probing_through_an_own_env_inside_predict_spends_the_attempts(source):
    def prober(obs):
        own = gym.make("ARCRefine-v0", source=source, split="test", max_steps=1)
        for name in ("a/0", "b/0") * 2:
            own.reset(options={"puzzle": name})
            own.step(grid_action([[0]]))  # each burns an attempt of the harness's count
        with pytest.raises(RuntimeError, match="already running"):
            evaluate_agent(rotate, "ARCRefine-v0", source=source, progress=False)
        return rotate(obs)

    score = evaluate_agent(prober, "ARCRefine-v0", source=source, progress=False)
    assert score.pass_at(2) == 0.0  # every attempt left was used by the probes: nothing scored


def test_isolated_predict_runs_in_another_process(source):
    score = evaluate_agent(rotate_only_where_nothing_is_scored, "ARCRefine-v0", source=source, isolate=True,
                           progress=False)
    assert score.pass_at(1) == 1.0  # scored in this process, predicted in the other
    with pytest.raises(ValueError, match="must pickle"):
        evaluate_agent(lambda obs: rotate(obs), "ARCRefine-v0", source=source, isolate=True, progress=False)


def test_a_slow_predict_times_out():
    def slow(obs):
        time.sleep(1.0)
        return obs["input"].astype(np.int64)

    started = time.perf_counter()
    score = evaluate_agent(slow, "NQueensRefine-v0", num_train=20, num_test=2, timeout=0.05, progress=False)
    assert score.timeouts == 2 and time.perf_counter() - started < 1.0 and "timed out" in score.summary()
    with pytest.raises(ValueError, match="timeout"):
        evaluate_agent(slow, "NQueensRefine-v0", num_train=20, num_test=2, timeout=0, progress=False)
