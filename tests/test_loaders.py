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
    import envs  # noqa: F401  (registers the ids)

    folder = _arc_dir(tmp_path)
    expected = r"1 of 2 task files loaded, 1 bad task files skipped\n  .*broken.json: not valid JSON"
    with pytest.warns(SkippedItemsWarning, match=expected):
        assert len(load_tasks(folder)) == 1
    with pytest.warns(SkippedItemsWarning, match=expected):
        load_arc_episodes(folder)
    with pytest.warns(SkippedItemsWarning, match=expected):
        gym.make("ARCRefine-v0", source=str(folder)).close()
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
