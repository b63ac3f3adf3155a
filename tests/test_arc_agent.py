"""The ARC agent story: sources (built-in, folders, ConceptARC, the Kaggle layout), what an agent
sees (grid sizes, plain text, images with the demonstrations), the evaluation helper and the example."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from dis_rl import envs  # noqa: F401  (registers the ids)
from dis_rl.envs.arc import grid_action, observation_grids, prompt
from dis_rl.envs.evaluate import evaluate_agent
from dis_rl.puzzles.arc import decode_grid, encode_grid
from tests.test_envs import label_of, labels_by_name

CONCEPTARC = Path("/work/shared/data/conceptarc")
PAIR = {"input": [[1, 2], [3, 4]], "output": [[4, 3], [2, 1]]}  # rotate 180
TASK = {"train": [PAIR, {"input": [[5, 6, 7]], "output": [[7, 6, 5]]}],
        "test": [PAIR, {"input": [[8, 9]], "output": [[9, 8]]}]}


@pytest.fixture
def kaggle(tmp_path):
    """The ARC Prize layout: evaluation challenges and solutions, plus training ones."""
    challenges = {"aaa": {**TASK, "test": [{"input": t["input"]} for t in TASK["test"]]},
                  "bbb": {"train": [PAIR], "test": [{"input": [[0]]}]}}
    (tmp_path / "arc-agi_evaluation_challenges.json").write_text(json.dumps(challenges))
    (tmp_path / "arc-agi_evaluation_solutions.json").write_text(json.dumps({"aaa": [[[4, 3], [2, 1]], [[9, 8]]],
                                                                             "bbb": [[[5]]]}))
    (tmp_path / "arc-agi_training_challenges.json").write_text(json.dumps({"ccc": challenges["bbb"]}))
    (tmp_path / "arc-agi_training_solutions.json").write_text(json.dumps({"ccc": [[[1]]]}))
    return tmp_path


def oracle(env):
    """A predictor that reads the label (only to check the scoring, never an agent): the env holds
    none, so it comes from a twin made with label feedback."""
    task = env.unwrapped.task
    labels = labels_by_name(env.spec, "test")
    by_input = {task.test.inputs[i].tobytes(): labels[name].astype(np.int64)
                for i, name in enumerate(task.names["test"])}
    return lambda obs: by_input[obs["input"].tobytes()]


def test_kaggle_layout_scores_pass_at_k_and_writes_a_submission(kaggle, tmp_path):
    env = gym.make("ARCRefine-v0", source=kaggle, split="test", protocol="evaluation", max_steps=1)
    assert env.unwrapped.task.puzzle_names("test") == ["aaa/0", "aaa/1", "bbb/0"]
    assert env.unwrapped.task.puzzle_names("train") == ["ccc/0"]  # the training files, not the same tasks
    perfect = evaluate_agent(oracle(env), env, progress=False)
    assert perfect.pass_at(1) == perfect.pass_at(2) == 1.0
    with pytest.raises(ValueError, match="already submitted"):  # a used-up env: its attempts are spent
        evaluate_agent(oracle(env), env, progress=False)
    copy = evaluate_agent(lambda obs: obs["input"].astype(np.int64), "ARCRefine-v0", source=kaggle, progress=False)
    assert copy.pass_at(2) == 0.0 and copy.per_task() == {"aaa": 0.0, "bbb": 0.0}
    sub = json.loads(copy.write_submission(tmp_path / "submission.json").read_text())
    assert sorted(sub) == ["aaa", "bbb"] and len(sub["aaa"]) == 2
    assert sub["aaa"][1] == {"attempt_1": [[8, 9]], "attempt_2": [[8, 9]]}
    assert "pass@2 0.0%" in copy.summary()


def test_hidden_kaggle_test_set_is_answered(tmp_path):
    hidden = {"ddd": {"train": [PAIR], "test": [{"input": [[1, 2], [3, 4]]}]}}
    (tmp_path / "arc-agi_test_challenges.json").write_text(json.dumps(hidden))
    score = evaluate_agent(lambda obs: grid_action([[7]]), "ARCRefine-v0", source=tmp_path, progress=False)
    assert score.solved == {"ddd/0": [None, None]} and score.pass_at(2) is None
    assert score.submission() == {"ddd": [{"attempt_1": [[7]], "attempt_2": [[7]]}]}


def test_flat_folder_is_the_test_split_only(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps(TASK))
    with pytest.raises(ValueError, match="flat folder"):
        gym.make("ARCRefine-v0", source=tmp_path)
    env = gym.make("ARCRefine-v0", source=tmp_path, split="test")
    assert env.unwrapped.task.puzzle_names("test") == ["t/0", "t/1"] and len(env.unwrapped.task.train) == 0


def test_observation_gives_grid_sizes_and_helpers_round_trip(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps(TASK))
    env = gym.make("ARCRefine-v0", source=tmp_path, split="test", max_steps=1)
    obs, _ = env.reset(options={"puzzle": "t/1"})
    assert obs["input_shape"].tolist() == [1, 2] and obs["demo_count"][0] == 2
    assert obs["demo_input_shapes"][:2].tolist() == [[2, 2], [1, 3]] and (obs["demo_input_shapes"][2:] == 0).all()
    grids = observation_grids(obs)
    assert grids["input"].tolist() == [[8, 9]] and grids["demos"][1][1].tolist() == [[7, 6, 5]]
    assert decode_grid(encode_grid(np.array([[8, 9]]))).tolist() == [[8, 9]]
    text = prompt(obs)
    assert "\x1b" not in text and "Test input:\n8 9" in text and text.endswith("Test output:")
    assert env.step(grid_action([[9, 8]]))[-1]["solved"]


def test_text_mode_and_images_with_demonstrations(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps(TASK))
    text = gym.make("ARCRefine-v0", source=tmp_path, split="test", render_mode="text")
    text.reset(options={"puzzle": "t/0"})
    frame = text.render()
    assert "\x1b" not in frame and "1 2\n3 4" in frame
    small = gym.make("ARCRefine-v0", source=tmp_path, split="test", render_mode="rgb_array")
    big = gym.make("ARCRefine-v0", source=tmp_path, split="test", render_mode="rgb_array", render_cell=16)
    for env in (small, big):
        env.reset(options={"puzzle": "t/0"})
    a, b = small.render(), big.render()
    assert a.shape[0] == 16 + 8 + 16 + 2 * 8  # two demo pairs stacked above the test pair, 8 px gaps
    assert b.shape[0] - 16 == 2 * (a.shape[0] - 16)  # twice the pixels per cell
    with pytest.raises(ValueError, match="render_cell"):
        gym.make("ARCRefine-v0", source=tmp_path, split="test", render_cell=-1)


def test_action_error_names_the_shape_briefly(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps(TASK))
    env = gym.make("ARCRefine-v0", source=tmp_path, split="test")
    env.reset(seed=0)
    with pytest.raises(ValueError) as err:
        env.unwrapped.step(np.zeros(30, dtype=np.int64))
    message = str(err.value)
    assert "(900,)" in message and "0..11" in message and len(message) < 200


@pytest.mark.skipif(not CONCEPTARC.is_dir(), reason="ConceptARC is not at /work/shared/data/conceptarc")
def test_conceptarc_folder_as_an_evaluation_source():
    env = gym.make("ARCRefine-v0", source=CONCEPTARC, split="test", max_steps=1)
    names = env.unwrapped.task.puzzle_names("test")
    assert len(names) == 480 and names[0].startswith("AboveBelow/")  # 160 tasks x 3 test inputs
    env.reset(options={"puzzle": names[0]})
    assert env.step(label_of(env).astype(np.int64))[-1]["solved"]


def test_example_agent_runs_as_is(kaggle, tmp_path):
    out = tmp_path / "submission.json"
    result = subprocess.run([sys.executable, "examples/arc_agent.py", "--source", str(kaggle), "--out", str(out)],
                            capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert "pass@2 50.0%" in result.stdout and "Test input:" in result.stdout  # rotate 180 solves aaa
    assert set(json.loads(out.read_text())) == {"aaa", "bbb"}
