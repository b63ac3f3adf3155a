"""Checkpoints that cannot lose work (issue 12, classes 1, 10, 12): only finite weights are written
or read, one metadata reader with one clear error, a failed write says what is still intact."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from dis_rl import checkpoint
from dis_rl.checkpoint import CheckpointError, NonFiniteWeights, load_checkpoint, read_meta, save_checkpoint
from dis_rl.cli import main
from dis_rl.config import config_from_dict
from dis_rl.loading import load_model
from dis_rl.runs import mark_folder
from dis_rl.train import Trainer, TrainingDiverged, train


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """One finished tiny run (4 batches, checkpoints at 2 and 4)."""
    root = tmp_path_factory.mktemp("good")
    overrides = ["model.hidden=32", "model.layers=1", "model.heads=2", "model.puzzle_emb_len=1",
                 "data.num_train=40", "data.num_test=20", "train.batch_size=16", "train.max_batches=4",
                 "train.eval_every=0", "train.checkpoint_every=2", "train.threads=1", f"out_dir={root}",
                 "name=good"]
    train(config_from_dict({}, overrides), progress=False)
    return root / "good", overrides


def test_weights_gone_non_finite_are_never_checkpointed(good_run, tmp_path):
    """Class 1: the loss stays finite but the weights do not; the message names the kept checkpoint."""
    _, overrides = good_run
    cfg = config_from_dict({}, overrides + [f"out_dir={tmp_path}", "name=nan"])
    trainer = Trainer(cfg, progress=False)
    original = trainer.method.train_round

    def round_then_poison():
        stats = original()
        if trainer.batches == 3:  # this is batch 4, checkpointed next
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))
        return stats

    trainer.method.train_round = round_then_poison
    kept = tmp_path / "nan" / "checkpoints" / "step_00000002"
    with pytest.raises(TrainingDiverged, match=f"the last good checkpoint {kept} is kept"):
        trainer.run()
    ckpt = load_checkpoint(tmp_path / "nan")
    assert ckpt.path == kept and all(torch.isfinite(v).all() for v in ckpt.model_state.values())
    with pytest.raises(NonFiniteWeights, match="hold NaN or infinite values"):
        save_checkpoint(tmp_path / "x", 1, {"w": torch.tensor([1.0, float("inf")])}, {})
    assert not (tmp_path / "x" / "latest").exists()


def test_no_checkpoint_yet_is_said(good_run, tmp_path):
    _, overrides = good_run
    trainer = Trainer(config_from_dict({}, overrides + [f"out_dir={tmp_path}", "name=early"]), progress=False)
    original = trainer.optimizer_step
    trainer.optimizer_step = lambda loss: original(loss * float("nan"))
    with pytest.raises(TrainingDiverged, match="no checkpoint was written in"):
        trainer.run()


def test_eval_refuses_non_finite_weights(good_run, tmp_path, capsys):
    run_dir, _ = good_run
    step = tmp_path / "step"
    shutil.copytree(load_checkpoint(run_dir).path, step)
    weights = load_file(str(step / "model.safetensors"))
    first = next(iter(weights))
    weights[first] = torch.full_like(weights[first], float("nan"))
    save_file(weights, str(step / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"{step} is unusable: 1 tensor.* hold NaN or infinite values"):
        load_model(step)
    assert main(["eval", str(step)]) == 2
    assert "hold NaN or infinite values" in capsys.readouterr().err


BAD_META = {
    "list": b"[1, 2]",
    "version_string": json.dumps({"format": "dis-rl-checkpoint", "version": "1"}).encode(),
    "not_utf8": b'{"format": "dis-rl-checkpoint", "\xff\xfe": 1}',
    "data_wrong": json.dumps({"format": "dis-rl-checkpoint", "version": 1, "config": {}, "data": [3]}).encode(),
    "deep": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("case", sorted(BAD_META))
def test_one_meta_reader_one_clear_error(good_run, tmp_path, case, capsys):
    """Class 10: eval, resume, export, show and sweep-w all read meta.json through `read_meta`."""
    run_dir, overrides = good_run
    step = tmp_path / "step"
    shutil.copytree(load_checkpoint(run_dir).path, step)
    (step / "meta.json").write_bytes(BAD_META[case])
    with pytest.raises(CheckpointError, match="meta.json is corrupt or not dis-rl checkpoint metadata"):
        read_meta(step)
    commands = [["eval", str(step)], ["export", str(step), str(tmp_path / "out")], ["show", str(step)],
                ["sweep-w", str(step), "--w", "1"]]
    for command in commands:
        assert main(command) == 2, command
        assert "meta.json is corrupt or not dis-rl checkpoint metadata" in capsys.readouterr().err, command
    # resume: a run folder whose latest checkpoint is that step
    resumed = tmp_path / "runs" / "r"
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copytree(step, resumed / "checkpoints" / "step_00000004")
    (resumed / "checkpoints" / "latest").write_text("step_00000004\n")
    mark_folder(resumed)  # a run folder dis-rl made (only those are resumed)
    assert main(["train", "configs/nqueens_dis.yaml", *overrides, f"out_dir={tmp_path / 'runs'}", "name=r",
                 "--resume", "--no-progress"]) == 2
    assert "meta.json is corrupt or not dis-rl checkpoint metadata" in capsys.readouterr().err


def test_disk_full_keeps_the_previous_checkpoint_and_says_so(good_run, tmp_path, monkeypatch):
    """Class 12."""
    run_dir, _ = good_run
    ckpt_dir = tmp_path / "checkpoints"
    shutil.copytree(run_dir / "checkpoints", ckpt_dir)
    before = load_checkpoint(ckpt_dir).path

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", full)
    with pytest.raises(CheckpointError, match=rf"could not write checkpoint .*step_00000009 .*No space left on device.*"
                                              rf"the previous checkpoint {before} is intact"):
        save_checkpoint(ckpt_dir, 9, {"w": torch.zeros(2)}, {})
    assert load_checkpoint(ckpt_dir).path == before
    assert not list(ckpt_dir.glob(".tmp-*"))
