"""Data wiring: configs -> ARC/Sudoku sources and test sets, the leakage guard, bad sources,
`dis-rl data stats`, the shipped configs, and the voting evaluation of a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dis_rl.cli import main
from dis_rl.config import ConfigError, config_from_dict
from dis_rl.data import build_data, describe_data
from dis_rl.puzzles.arc import ARCFormatError, load_tasks
from dis_rl.puzzles.arc_augment import LeakageError
from dis_rl.puzzles.sudoku import SudokuFormatError, generate

SMALL = ["6150a2bd", "5582e5ca", "d037b0a7"]  # 3x3 ARC-AGI-1 training tasks


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _write_tasks(directory: Path, ids: list[str]) -> Path:
    """ARC-AGI-1 training tasks `ids` as JSON files in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    by_id = {t.task_id: t for t in load_tasks("arc1", "train")}
    for tid in ids:
        task = by_id[tid]
        obj = {
            "train": [{"input": x.tolist(), "output": y.tolist()} for x, y in task.train],
            "test": [{"input": x.tolist(), "output": y.tolist()} for x, y in task.test],
        }
        (directory / f"{tid}.json").write_text(json.dumps(obj))
    return directory


def _arc(**data) -> dict:
    return {"data": {"domain": "arc", "num_aug": 2, **data}}


def test_data_config_is_strict():
    with pytest.raises(ConfigError, match="unknown key data.sourcez"):
        config_from_dict({"data": {"sourcez": ["arc1"]}})
    with pytest.raises(ConfigError, match="data.domain must be one of"):
        config_from_dict({"data": {"domain": "chess"}})
    with pytest.raises(ConfigError, match="data.num_aug"):
        config_from_dict({"data": {"domain": "arc", "num_aug": -1}})
    with pytest.raises(ConfigError, match="test_csv_path needs data.csv_path"):
        config_from_dict({"data": {"domain": "sudoku", "test_csv_path": "x.csv"}})


def test_arc_memorisation_split_scores_training_examples():
    cfg = config_from_dict(_arc(sources=["arc1"], tasks=SMALL, evaluate="train"))
    train, test = build_data(cfg.data)
    pairs = sum(len(t.train) + len(t.test) for t in load_tasks("arc1", "train") if t.task_id in SMALL)
    assert len(test) == pairs  # every example once, un-augmented
    assert len(train) > pairs  # augmented copies
    assert test.puzzle_ids.min() >= 1 and test.num_puzzle_ids == train.num_puzzle_ids
    batch = train.get(np.arange(len(train)))
    assert batch["inputs"].shape == (len(train), 900) and batch["puzzle_ids"].max() < train.num_puzzle_ids
    assert "puzzle-embedding table" in describe_data(train, test, 32)


def test_arc_eval_tasks_give_test_pairs(tmp_path):
    train_dir = _write_tasks(tmp_path / "train", SMALL[:2])
    eval_dir = _write_tasks(tmp_path / "eval", SMALL[2:])
    cfg = config_from_dict(_arc(sources=[str(train_dir)], evaluate=str(eval_dir)))
    train, test = build_data(cfg.data)
    assert len(test) == 1 and test.name == "arc-test"
    with pytest.raises(ConfigError, match="data.tasks"):
        build_data(config_from_dict(_arc(sources=[str(train_dir)], tasks=["nope"], evaluate="train")).data)


def test_leakage_guard_and_force(tmp_path):
    both = _write_tasks(tmp_path / "both", SMALL[:1])
    cfg = config_from_dict(_arc(sources=[str(both)], evaluate=str(both)))
    with pytest.raises(LeakageError, match="memorisation"):
        build_data(cfg.data)
    forced = config_from_dict(_arc(sources=[str(both)], evaluate=str(both), force=True))
    assert len(build_data(forced.data)[1]) == 1


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no/such/dir"):
        build_data(config_from_dict(_arc(sources=["no/such/dir"], evaluate="train")).data)
    with pytest.raises(FileNotFoundError, match="data.evaluate"):
        build_data(config_from_dict(_arc(sources=["arc1"], tasks=SMALL, evaluate="missing_dir")).data)
    good = _write_tasks(tmp_path / "mixed", SMALL[:1])
    (good / "broken.json").write_text("{not json")
    train, _ = build_data(config_from_dict(_arc(arc_dirs=[str(good)], sources=[], evaluate="train")).data)
    assert len(train) > 0  # the bad file is skipped
    strict = config_from_dict(_arc(arc_dirs=[str(good)], sources=[], evaluate="train", strict=True))
    with pytest.raises(ARCFormatError, match="broken.json: not valid JSON"):
        build_data(strict.data)


def _write_csv(path: Path, puzzles, bad_row: bool = False) -> Path:
    rows = ["source,question,answer,rating"]
    for q, a in zip(puzzles.inputs, puzzles.labels):
        question = "".join("." if t == 1 else str(t - 1) for t in q)
        rows.append(f"gen,{question},{''.join(str(t - 1) for t in a)},3")
    if bad_row:
        rows.append("gen,123,456,1")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_sudoku_csv_and_generator(tmp_path):
    puzzles = generate(6, seed=1, keep_fraction=1.0)
    csv = _write_csv(tmp_path / "s.csv", puzzles, bad_row=True)
    cfg = config_from_dict({"data": {"domain": "sudoku", "csv_path": str(csv), "num_train": 0, "num_test": 2,
                                     "num_aug": 3}})
    train, test = build_data(cfg.data)
    assert len(test) == 2 and len(train) == 4 * 4  # 4 base puzzles x (identity + 3 augmentations)
    with pytest.raises(SudokuFormatError, match="line 8"):
        build_data(config_from_dict({"data": {**cfg.to_dict()["data"], "strict": True}}).data)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        build_data(config_from_dict({"data": {"domain": "sudoku", "csv_path": str(tmp_path / "missing.csv")}}).data)
    gen = {"domain": "sudoku", "num_train": 3, "num_test": 2, "num_aug": 1, "keep_fraction": 1.0,
           "cache_dir": str(tmp_path / "cache")}
    train, test = build_data(config_from_dict({"data": gen}).data)
    assert len(train) == 6 and len(test) == 2
    assert list((tmp_path / "cache").glob("sudoku-gen-*.npz"))  # cached for the next run
    again, _ = build_data(config_from_dict({"data": gen}).data)
    np.testing.assert_array_equal(again.get(np.arange(6))["inputs"], train.get(np.arange(6))["inputs"])


def test_data_stats_command(tmp_path, capsys):
    directory = _write_tasks(tmp_path / "tasks", SMALL)
    (directory / "bad.json").write_text('{"train": []}')
    assert main(["data", "stats", str(directory), "--num-aug", "5"]) == 0
    out = capsys.readouterr().out
    assert "3 of 4 task files loaded, 1 bad" in out and "'train' list is empty" in out and "3 tasks" in out
    assert main(["data", "stats", str(directory), "--strict"]) == 2
    assert "bad.json" in capsys.readouterr().err
    csv = _write_csv(tmp_path / "s.csv", generate(3, seed=2, keep_fraction=1.0), bad_row=True)
    assert main(["data", "stats", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "4 rows, 3 valid, 1 bad" in out and "rating histogram" in out
    assert main(["data", "stats", str(tmp_path / "nothing")]) == 2


def test_vote_evaluation_of_a_checkpoint(tmp_path, capsys):
    train_dir = _write_tasks(tmp_path / "train", SMALL[:1])
    eval_dir = _write_tasks(tmp_path / "eval", SMALL[1:3])
    cfg = {
        "name": "vote", "out_dir": str(tmp_path),
        **_arc(sources=[str(train_dir)], evaluate=str(eval_dir), num_aug=3),
        "model": {"hidden": 16, "layers": 1, "heads": 1, "puzzle_emb_len": 1},
        "train": {"batch_size": 2, "max_batches": 1, "eval_every": 0, "checkpoint_every": 0, "threads": 1},
    }
    (tmp_path / "c.yaml").write_text(json.dumps(cfg))
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "c.yaml"), "--run-dir", str(run), "--no-progress"]) == 0
    assert "puzzle-embedding table" in capsys.readouterr().out
    submission = tmp_path / "submission.json"
    assert main(["eval", str(run), "--vote", "4", "--submission", str(submission)]) == 0
    out = capsys.readouterr().out
    assert "pass@1" in out and "pass@2" in out and "pass@4" in out
    written = json.loads(submission.read_text())
    assert sorted(written) == sorted(SMALL[1:3])
    assert all(set(e) == {"attempt_1", "attempt_2"} for entries in written.values() for e in entries)
    # sweep-w on the ARC checkpoint votes over the same augmentations with the same predictor and
    # confidence rule as eval --vote: at w = 1 both give the same pass@k.
    from dis_rl.commands import sweep_checkpoint, vote_checkpoint

    voted = vote_checkpoint(str(run), max_aug=4, progress=False)
    swept, _ = sweep_checkpoint(str(run), [1.0], max_aug=4, save=False, device="cpu")
    votes = swept.rows[0].votes
    assert votes and votes == {k: voted.pass_at[k] for k in votes}
    assert swept.num_puzzles == 4 * voted.scored_pairs  # per-step numbers over the 4 augmentations
