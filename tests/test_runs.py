"""Run folders (issue 12, classes 2, 3, 11, 17, 18): a used folder is refused unless resumed or
overwritten, one process at a time, torn JSONL tails tolerated, names and out_dir checked first."""

import json
import os

import pytest

from dis_rl import runs
from dis_rl.checkpoint import load_checkpoint
from dis_rl.cli import main
from dis_rl.config import ConfigError, config_from_dict
from dis_rl.runs import LOCK_NAME, RunFolderBusy, RunFolderError, read_jsonl
from dis_rl.train import Trainer, train


def _cfg(tiny_overrides, *extra):
    return config_from_dict({}, tiny_overrides + list(extra))


def test_a_new_run_into_a_used_folder_is_refused_before_any_work(tiny_overrides, tmp_path, monkeypatch, capsys):
    """Class 2: an earlier, longer run's folder; the new run must not prune its own checkpoints."""
    train(_cfg(tiny_overrides, "name=used", "train.max_batches=6"), progress=False)
    import dis_rl.train.loop as loop

    def no_data(_):
        raise AssertionError("data was built before the run folder was checked")

    monkeypatch.setattr(loop, "build_data", no_data)
    with pytest.raises(RunFolderError, match="already holds a run; pass --resume to continue it, --overwrite"):
        Trainer(_cfg(tiny_overrides, "name=used"), progress=False)
    assert main(["train", "configs/nqueens_dis.yaml", *tiny_overrides, "name=used", "--no-progress"]) == 2
    assert "already holds a run" in capsys.readouterr().err
    monkeypatch.undo()
    # --overwrite: the earlier run's files go first, so the new run's checkpoints and logs are its own.
    train(_cfg(tiny_overrides, "name=used"), progress=False, overwrite=True)
    ckpt = load_checkpoint(tmp_path / "used")
    assert ckpt.meta["trainer"]["batches"] == 4
    assert [r["batch"] for r in read_jsonl(tmp_path / "used" / "train_log.jsonl")] == [1, 2, 3, 4]
    assert sorted(p.name for p in (tmp_path / "used" / "checkpoints").glob("step_*")) == ["step_00000002",
                                                                                         "step_00000004"]


def test_a_busy_folder_is_refused_and_a_stale_lock_taken_over(tiny_overrides, tmp_path, capsys):
    """Class 3: the lock `dis-rl compare` takes is the one `dis-rl train` takes."""
    run_dir = tmp_path / "busy"
    run_dir.mkdir()
    (run_dir / LOCK_NAME).write_text(f"{os.getppid()} train\n")  # a live process that is not us
    with pytest.raises(RunFolderBusy, match=r"another dis-rl train \(pid \d+\) is running in"):
        Trainer(_cfg(tiny_overrides, "name=busy"), progress=False)
    assert main(["train", "configs/nqueens_dis.yaml", *tiny_overrides, "name=busy", "--no-progress"]) == 2
    assert "another dis-rl train" in capsys.readouterr().err
    with runs.folder_lock(tmp_path / "other", "train"):  # held by this process: a second holder is refused
        with pytest.raises(RunFolderBusy):
            with runs.folder_lock(tmp_path / "other", "compare"):
                pass
    (run_dir / LOCK_NAME).write_text("999999999 train\n")  # its process is gone
    train(_cfg(tiny_overrides, "name=busy", "train.max_batches=1"), progress=False)
    assert not (run_dir / LOCK_NAME).exists()


def test_resume_tolerates_a_torn_log_line_and_cleans_partial_checkpoints(tiny_overrides, tmp_path):
    """Class 11: a crash mid-write leaves half a JSONL line and a .tmp-* folder."""
    train(_cfg(tiny_overrides, "name=torn", "train.max_batches=2"), progress=False)
    run_dir = tmp_path / "torn"
    with open(run_dir / "train_log.jsonl", "a") as f:
        f.write('{"batch": 3, "opt_ste')
    partial = run_dir / "checkpoints" / ".tmp-abc123"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"half")
    with pytest.warns(UserWarning, match="torn last line"):
        assert len(read_jsonl(run_dir / "train_log.jsonl")) == 2
    with pytest.warns(UserWarning, match=r"removed .*\.tmp-abc123"):
        train(_cfg(tiny_overrides, "name=torn"), progress=False, resume=True, resume_named=("train.max_batches",))
    assert [r["batch"] for r in read_jsonl(run_dir / "train_log.jsonl")] == [1, 2, 3, 4]
    assert not partial.exists()
    (run_dir / "eval_log.jsonl").write_text('{"batch": 1}\nnot json\n{"batch": 2}\n')
    with pytest.raises(RunFolderError, match="line 2 is not a JSON record"):
        read_jsonl(run_dir / "eval_log.jsonl")  # damage before the last line is not a crash's tear


@pytest.mark.parametrize("name", ["../../x", "/tmp/abs", "a/../../b", "", "."])
def test_names_that_leave_out_dir_are_refused(tiny_overrides, name):
    """Class 17."""
    with pytest.raises(ConfigError, match="must be a relative folder name inside out_dir"):
        _cfg(tiny_overrides, f"name={json.dumps(name)}")


def test_out_dir_that_is_a_file_is_refused_before_any_work(tiny_overrides, tmp_path, monkeypatch):
    """Class 18."""
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    import dis_rl.train.loop as loop

    monkeypatch.setattr(loop, "build_data", lambda _: pytest.fail("data was built before out_dir was checked"))
    with pytest.raises(RunFolderError, match=r"afile is a file, not a folder"):
        Trainer(_cfg(tiny_overrides, f"out_dir={blocker}", "name=r"), progress=False)


def test_run_budget_names_the_limit_that_stops_a_run_and_the_crossed_evaluation_points():
    from dis_rl.runs import RunBudget

    budget = RunBudget(max_network_calls=1000, eval_every_calls=300, max_train_seconds=60.0, max_seconds=90.0)
    assert budget.exhausted(999, 59.9, 89.9) == ""
    assert "1,000 network calls" in budget.exhausted(1000, 0.0)
    assert "training-time budget of 60s" in budget.exhausted(0, 60.0)
    assert "time budget of 90s" in budget.exhausted(0, 0.0, 90.0)
    assert RunBudget().exhausted(10**12, 1e9, 1e9) == ""  # every limit off
    assert [budget.crossed(a, b, 0, 0) for a, b in [(0, 299), (299, 300), (300, 599), (599, 901)]] == [
        False, True, False, True]
    assert RunBudget(eval_every_seconds=10).crossed(0, 0, 9.5, 10.5)
