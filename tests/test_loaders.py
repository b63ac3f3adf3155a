"""Loaders that neither drop data in silence nor accept wrong answers (issue 12, classes 4, 7, 13-16)."""

import json
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from dis_rl.config import config_from_dict
from dis_rl.data_stats import data_stats
from dis_rl.puzzles.arc import load_arc_episodes, load_tasks
from dis_rl.puzzles.load_report import SkippedItemsWarning

GOOD = {"train": [{"input": [[1, 2]], "output": [[2, 1]]}], "test": [{"input": [[3]], "output": [[4]]}]}


def _arc_dir(root: Path, bad: bool = True) -> Path:
    folder = root / "tasks"
    folder.mkdir()
    (folder / "good.json").write_text(json.dumps(GOOD))
    if bad:
        (folder / "broken.json").write_text("{train: oops")
    return folder


def test_every_path_that_skips_arc_files_says_which(tmp_path):
    """Class 4: load_tasks, load_arc_episodes, the env and training all report the skipped file."""
    from dis_rl import envs  # noqa: F401  (registers the ids)

    folder = _arc_dir(tmp_path)
    expected = r"1 of 2 task files loaded, 1 bad task files skipped\n  .*broken.json: not valid JSON"
    with pytest.warns(SkippedItemsWarning, match=expected):
        assert len(load_tasks(folder)) == 1
    with pytest.warns(SkippedItemsWarning, match=expected):
        load_arc_episodes(folder)
    with pytest.warns(SkippedItemsWarning, match=expected):
        gym.make("ARCRefine-v0", source=str(folder), split="test").close()  # a flat folder: test tasks
    from dis_rl.train import Trainer

    cfg = config_from_dict({}, [
        "data.domain=arc", f"data.sources=[{folder}]", "data.evaluate=train", "data.num_aug=0",
        "model.hidden=16", "model.layers=1", "model.heads=2", "model.puzzle_emb_len=1", "train.batch_size=2",
        "train.max_batches=1", "train.eval_every=0", "train.threads=1", "train.eval_batch_size=2",
        f"out_dir={tmp_path}", "name=arc"])
    with pytest.warns(SkippedItemsWarning, match=expected):
        trainer = Trainer(cfg, progress=False)
    trainer.run()
    assert "broken.json: not valid JSON" in (tmp_path / "arc" / "data_warnings.txt").read_text()


def test_data_stats_on_a_folder_without_one_good_file(tmp_path):
    """Class 7: the per-file report, not a crash in augmentation planning."""
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.json").write_text("[]")
    text = data_stats(str(folder), num_aug=5)
    assert "0 of 1 task files loaded, 1 bad task files skipped" in text and "x.json" in text
    assert "train: no valid tasks" in text


def test_corrupt_generator_cache_is_named_and_regenerated(tmp_path):
    """Class 13."""
    from dis_rl.data import build_data

    cfg = config_from_dict({}, ["data.domain=sudoku", "data.num_train=2", "data.num_test=1", "data.num_aug=0",
                                "data.keep_fraction=1.0", f"data.cache_dir={tmp_path}"])
    train, test = build_data(cfg.data)
    (cache,) = tmp_path.glob("sudoku-gen-*.npz")
    cache.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.warns(UserWarning, match=f"Sudoku generator cache {cache} is corrupt .*regenerating it"):
        again, _ = build_data(cfg.data)
    assert np.array_equal(again.base.inputs, train.base.inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_data(cfg.data)  # the regenerated cache reads clean


# -- Sudoku: the uniqueness rule (class 14) and data stats (class 16) -------------------------------
QUESTION = "4...3.......6..8..........1....5..9..8....6...7.2........1.27..5.3....4.9........"
ANSWER = "468931527751624839392578461134756298289413675675289314846192753513867942927345186"


def _two_solution_puzzle() -> tuple[str, str, str]:
    """ANSWER with cells blanked (row-major) until the question has exactly two solutions."""
    from dis_rl.puzzles.sudoku_solver import solve

    grid = [int(ch) for ch in ANSWER]
    for i in range(81):
        grid[i] = 0
        sols = solve(grid, limit=3)[0]
        if len(sols) == 2:
            q = "".join(str(v) if v else "." for v in grid)
            first, second = ("".join(map(str, s)) for s in sols)
            return q, first, second
    raise AssertionError("no two-solution blanking found")


def _sudoku_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "s.csv"
    path.write_text("source,question,answer,rating\n" + "\n".join(rows) + "\n")
    return path


def test_puzzles_with_two_solutions_are_refused_or_scored_by_the_rules(tmp_path, capsys):
    """Class 14: loader, CLI and env refuse them by default; kept, they are scored by the rules."""
    from dis_rl import envs  # noqa: F401
    from dis_rl.cli import main
    from dis_rl.puzzles.sudoku import load_csv

    question, first, second = _two_solution_puzzle()
    other = second if first == ANSWER else first
    path = _sudoku_csv(tmp_path, [f"a,{QUESTION},{ANSWER},1", f"b,{question},{ANSWER},1", f"c,{QUESTION},{ANSWER},2",
                                  f"d,{'.' * 81},{ANSWER},1"])
    with pytest.warns(SkippedItemsWarning, match="line 3: the question has more than one solution"):
        puzzles, report = load_csv(path)
    assert len(puzzles) == 2 and report.num_bad == 2
    assert "line 5: the question has no givens" in "\n".join(report.errors)
    assert main(["data", "stats", str(path)]) == 0
    out = capsys.readouterr().out
    assert "line 3: the question has more than one solution" in out and "line 5: the question has no givens" in out
    with pytest.warns(SkippedItemsWarning, match="line 3: the question has more than one solution"):
        env = gym.make("SudokuRefine-v0", csv_path=str(path), num_test=1)
    assert len(env.unwrapped.task.train) == 1  # the unique puzzle only
    env.close()
    # Kept: the other solution is solved at distance 0 (before: solved=True with distance 37).
    with pytest.warns(SkippedItemsWarning, match="line 5: the question has no givens"):
        env = gym.make("SudokuRefine-v0", csv_path=str(path), num_test=1, multiple_solutions="keep")
    env.reset(seed=0, options={"puzzle": 1})
    tokens = np.array([int(ch) + 1 for ch in other], dtype=np.int64)
    _, _, terminated, _, info = env.step(tokens)
    assert terminated and info["solved"] and info["distance"] == 0
    env.close()
    from dis_rl.puzzles import get_domain

    domain, q = get_domain("sudoku"), np.array([[1 if ch == "." else int(ch) + 1 for ch in question]])
    label = np.array([[int(ch) + 1 for ch in ANSWER]])
    wrong = label.copy()
    wrong[0, :2] = wrong[0, 1::-1]
    answers = np.concatenate([label, tokens[None], wrong])
    assert ((domain.distance(np.repeat(q, 3, 0), answers, np.repeat(label, 3, 0)) == 0)
            == domain.verify(np.repeat(q, 3, 0), answers)).all()


def test_training_data_follows_the_uniqueness_rule(tmp_path):
    from dis_rl.data import build_data

    question, _, _ = _two_solution_puzzle()
    path = _sudoku_csv(tmp_path, [f"a,{QUESTION},{ANSWER},1", f"b,{question},{ANSWER},1", f"c,{QUESTION},{ANSWER},2"])
    cfg = config_from_dict({}, ["data.domain=sudoku", f"data.csv_path={path}", "data.num_test=1", "data.num_aug=0"])
    with pytest.warns(SkippedItemsWarning, match="line 3: the question has more than one solution"):
        train, test = build_data(cfg.data)
    assert len(train) == 1 and len(test) == 1
    kept = config_from_dict({}, ["data.domain=sudoku", f"data.csv_path={path}", "data.num_test=1", "data.num_aug=0",
                                 "data.multiple_solutions=keep"])
    assert len(build_data(kept.data)[0]) == 2


def test_sudoku_data_stats_givens_minimum(tmp_path):
    """Class 16: the minimum was min(initial=0), so always 0."""
    path = _sudoku_csv(tmp_path, [f"a,{QUESTION},{ANSWER},1"])
    givens = sum(ch != "." for ch in QUESTION)
    assert f"givens per puzzle: min {givens}, median {givens}, max {givens}" in data_stats(str(path))


def test_an_unscorable_arc_pair_is_never_solved():
    """Class 15: a hidden test output (all PAD) has zero scored cells, so distance 0 proved nothing."""
    from dis_rl.puzzles import get_domain

    arc = get_domain("arc")
    hidden = np.zeros((1, 900), dtype=np.uint8)
    answer = np.full((1, 900), 5, dtype=np.uint8)
    assert arc.distance(answer, answer, hidden).tolist() == [0]
    assert arc.verify(answer, answer, hidden).tolist() == [False]
    assert arc.verify(answer, answer, answer).tolist() == [True]
