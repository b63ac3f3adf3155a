"""Values that cannot mean anything are refused with a message before any work or file: vote and
augmentation counts, guidance scales, vector-env sizes, action dtypes, duplicate ARC task ids."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from dis_rl import envs  # noqa: F401  (registers the ids)
from dis_rl.cli import parse_args
from dis_rl.guidance import parse_ws


@pytest.mark.parametrize("text", ["1,nan", "-1", "1e9", "1,,2", "1,1", "inf"])
def test_bad_guidance_scales_are_refused(text):
    with pytest.raises(ValueError, match="--w"):
        parse_ws(text)
    assert parse_ws("0,0.5,1,3") == [0.0, 0.5, 1.0, 3.0]


@pytest.mark.parametrize("argv", [["eval", "nqueens_dis", "--vote", "-1"], ["sweep-w", "nqueens_dis", "--max-aug", "0"],
                                  ["sweep-w", "nqueens_dis", "--w", "1,nan"], ["show", "nqueens_dis", "--w", "nan"],
                                  ["eval", "nqueens_dis", "--samples", "-2"]])
def test_the_command_line_refuses_them_before_any_work(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2 and "argument" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written


def test_the_library_refuses_them_before_any_file(tmp_path):
    from dis_rl.commands import show_checkpoint, sweep_checkpoint

    with pytest.raises(ValueError, match="finite numbers"):
        sweep_checkpoint("nqueens_dis", [1.0, float("nan")], out_dir=tmp_path / "sweep")
    with pytest.raises(ValueError, match="max_aug"):
        sweep_checkpoint("nqueens_dis", [1.0], out_dir=tmp_path / "sweep", max_aug=0)
    with pytest.raises(ValueError, match="finite numbers"):
        show_checkpoint("nqueens_dis", w=float("nan"), out=tmp_path / "show.png")
    assert not list(tmp_path.iterdir())


def test_env_sizes_and_actions_must_be_integers():
    kwargs = {"num_train": 20, "num_test": 4}
    with pytest.raises(ValueError, match="num_envs must be an integer"):
        gym.make_vec("NQueensRefine-v0", num_envs=1.5, vectorization_mode="vector_entry_point", **kwargs)
    env = gym.make("NQueensRefine-v0", **kwargs).unwrapped
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match="not an integer type"):
        env.step(obs["answer"] > 0)  # bool
    edit = gym.make("NQueensRefine-v0", action_mode="edit", **kwargs).unwrapped
    edit.reset(seed=0)
    with pytest.raises(ValueError, match="not an integer type"):
        edit.step(True)
    masked = np.ma.masked_all(64, dtype=np.int64)
    with pytest.raises(ValueError, match="masked array"):
        env.step(masked)


def _task(colour):
    pair = {"input": [[colour]], "output": [[colour]]}
    return {"train": [pair], "test": [pair]}


def test_a_task_id_in_two_sources_is_kept_once_or_refused(tmp_path):
    from dis_rl.config import ConfigError, DataConfig
    from dis_rl.data import arc_task_split

    a, b, c, ev = (tmp_path / n for n in ("a", "b", "c", "eval"))
    for folder, colour in ((a, 1), (b, 1), (c, 2), (ev, 3)):
        folder.mkdir()
        (folder / "same.json").write_text(json.dumps(_task(colour)))
    (ev / "same.json").rename(ev / "other.json")
    with pytest.warns(UserWarning, match="1 task\\(s\\) appear in more than one source.*same"):
        train, _ = arc_task_split(DataConfig(domain="arc", sources=[str(a), str(b)], evaluate=str(ev)))
    assert [t.task_id for t in train] == ["same"]
    with pytest.raises(ConfigError, match="task id 'same' is in .* with different content"):
        arc_task_split(DataConfig(domain="arc", sources=[str(a), str(c)], evaluate=str(ev)))
