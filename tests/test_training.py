"""The DIS trainer end to end: checkpoints, exact resume, the NaN guard, learning."""

import json

import numpy as np
import pytest
import torch

from dis_rl.checkpoint import CheckpointError, load_checkpoint
from dis_rl.cli import main
from dis_rl.config import config_from_dict
from dis_rl.evaluate import evaluate
from dis_rl.loading import load_model
from dis_rl.runs import read_jsonl
from dis_rl.train import Trainer, TrainingDiverged, train


def losses(run_dir):
    return [r["losses"] for r in read_jsonl(run_dir / "train_log.jsonl")]


def test_checkpoint_round_trip(tiny_overrides, tmp_path):
    cfg = config_from_dict({}, tiny_overrides + ["name=rt"])
    trainer = Trainer(cfg, progress=False)
    result = trainer.run()
    model, loaded_cfg, ckpt = load_model(trainer.run_dir)
    assert loaded_cfg == cfg
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    assert ckpt.meta["metrics"]["valid"] == result.valid
    again = evaluate(model, trainer.test_set, 6)
    assert again.hamming_per_step == result.hamming_per_step
    assert (trainer.run_dir / "config.yaml").exists()
    assert list((trainer.run_dir / "tb").glob("events.*"))


def test_resume_reproduces_the_uninterrupted_run(tiny_overrides, tmp_path):
    full = config_from_dict({}, tiny_overrides + ["name=full", "train.ema=0.9"])
    train(full, progress=False)
    # The same run killed after its batch-2 checkpoint, then resumed.
    part = config_from_dict({}, tiny_overrides + ["name=part", "train.ema=0.9", "train.max_batches=2"])
    train(part, progress=False)
    resumed = config_from_dict({}, tiny_overrides + ["name=part", "train.ema=0.9"])
    train(resumed, resume=True, progress=False, resume_named=("train.max_batches",))
    a, b = losses(tmp_path / "full"), losses(tmp_path / "part")
    assert len(a) == len(b) == 4
    assert np.allclose(a, b, rtol=0, atol=1e-6)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_overrides, tmp_path, monkeypatch):
    cfg = config_from_dict({}, tiny_overrides + ["name=nan"])
    trainer = Trainer(cfg, progress=False)
    original = trainer.optimizer_step
    calls = {"n": 0}

    def poisoned(loss):
        calls["n"] += 1
        if calls["n"] > 2 * 6 + 1:  # after the batch-2 checkpoint
            loss = loss * float("nan")
        original(loss)

    monkeypatch.setattr(trainer, "optimizer_step", poisoned)
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        trainer.run()
    ckpt = load_checkpoint(tmp_path / "nan")
    assert ckpt.meta["trainer"]["batches"] == 2


def test_corrupt_checkpoint_gives_clear_error(tiny_overrides, tmp_path):
    cfg = config_from_dict({}, tiny_overrides + ["name=bad", "train.max_batches=1"])
    train(cfg, progress=False)
    folder = load_checkpoint(tmp_path / "bad").path
    (folder / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(tmp_path / "bad")
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "bad")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nowhere")


def test_cli_train_and_eval(tiny_overrides, tmp_path, capsys):
    assert main(["train", "configs/nqueens_dis.yaml", *tiny_overrides, "name=cli", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "valid completions" in out and "| 6 |" in out
    assert (tmp_path / "cli" / "accuracy_vs_calls.png").exists()
    assert main(["eval", str(tmp_path / "cli")]) == 0
    assert "valid completions" in capsys.readouterr().out
    assert main(["train", "configs/nqueens_dis.yaml", "train.lrr=1"]) == 2
    assert "unknown key train.lrr" in capsys.readouterr().err


def test_network_calls_are_counted_per_example(tiny_overrides, tmp_path):
    # The schedule alone: answer_target nearest adds counted rollouts (tests/test_answers.py).
    cfg = config_from_dict({}, tiny_overrides + ["name=calls", "model.latent_steps=3", "model.cycles=2",
                                                 "train.answer_target=label"])
    Trainer(cfg, progress=False).run()
    records = read_jsonl(tmp_path / "calls" / "train_log.jsonl")
    per_batch = np.diff([0] + [r["network_calls"] for r in records])
    assert (per_batch == 16 * 6 * 2 * (3 + 1)).all()  # batch * N_sup * T * (n + 1)


@pytest.mark.slow  # ~110 s on 2 busy cores: a real (tiny) training run
def test_tiny_training_beats_copying_the_input(tmp_path):
    """One-queen-missing boards: a small DIS model learns to place the last queen on unseen boards."""
    cfg = config_from_dict({}, [
        "model.hidden=32", "model.layers=1", "model.variant=mlp", "model.puzzle_emb_len=1",
        "data.min_queens=7", "data.num_train=300", "data.num_test=40", "train.batch_size=32",
        "train.max_batches=120", "train.eval_every=0", "train.checkpoint_every=0", "train.lr=3e-3",
        "train.warmup_steps=10", "train.threads=1",
        f"out_dir={tmp_path}", "name=learn",
    ])
    result = train(cfg, progress=False)
    copy_distance = 1.0  # the input misses exactly one queen
    assert result.hamming_per_step[-1] < copy_distance
    assert result.valid > 0.1
    log = [json.loads(line) for line in (tmp_path / "learn" / "train_log.jsonl").read_text().splitlines()]
    assert sum(log[-1]["losses"]) < sum(log[0]["losses"])


@pytest.mark.slow  # ~50 s on 2 cores (the demo with its showcase on the shipped checkpoint); CI runs it
def test_demo_command_trains_and_reports(tiny_overrides, capsys):
    assert main(["demo", *tiny_overrides, "name=demo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "valid completions" in out
    # Either the shipped checkpoint's w table or a note on how to make one.
    assert "| w |" in out or "no reference checkpoint" in out


def test_ema_run_is_evaluated_with_ema_weights_everywhere(tiny_overrides, tmp_path):
    """One rule: evaluation weights are the EMA weights when the run has them (training-time
    evaluation, `load_model`/`dis-rl eval`, `export`)."""
    from dis_rl.commands import export_checkpoint

    cfg = config_from_dict({}, tiny_overrides + ["name=ema", "train.ema=0.5"])
    trainer = Trainer(cfg, progress=False)
    result = trainer.run()
    model, _, ckpt = load_model(trainer.run_dir)
    shadow = trainer.ema.shadow.state_dict()
    assert any(not torch.equal(shadow[k], v) for k, v in trainer.model.state_dict().items())  # EMA != raw
    for k, v in model.state_dict().items():
        assert torch.equal(v, shadow[k])
    assert evaluate(model, trainer.test_set, 6).hamming_per_step == result.hamming_per_step
    slim, _, _ = load_model(str(export_checkpoint(trainer.run_dir, tmp_path / "slim", evaluate_split=None)))
    for k, v in slim.state_dict().items():
        assert torch.equal(v, shadow[k])


def test_the_method_table_and_the_config_name_the_same_methods():
    from dis_rl.config import METHOD_NAMES
    from dis_rl.train import METHODS

    assert sorted(METHODS) == sorted(METHOD_NAMES)
