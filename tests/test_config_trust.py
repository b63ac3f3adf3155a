"""Configs that mean what they say: a section override merges into the section; a resume refuses
a changed data or model config and changes a train key only when it is named, and records it."""

from __future__ import annotations

import json

import pytest
import yaml

from dis_rl.config import ConfigError, load_config


def test_section_overrides_merge_into_the_section():
    base = load_config("arc_small")
    hidden = load_config("arc_small", ["model={hidden: 128}"])
    assert hidden.model.hidden == 128
    assert {**base.model.__dict__, "hidden": 128} == hidden.model.__dict__  # nothing else reset to defaults
    assert load_config("arc_small", ["model={}", "train={}"]).to_dict() == base.to_dict()
    nested = load_config("arc_small", ["train={lr: 0.01}"])
    assert nested.train.lr == 0.01 and nested.train.batch_size == base.train.batch_size


def test_resume_refuses_other_data_or_model_and_records_a_named_change(tmp_path, tiny_overrides):
    from dis_rl.train import train
    from dis_rl.train.loop import Trainer

    cfg = load_config("nqueens_dis", tiny_overrides)
    train(cfg, figures=False, progress=False)
    run_dir = tmp_path / cfg.name
    for change in (["data.seed=7", "data.num_train=50"], ["model.hidden=48"], ["train.seed=3"]):
        other = load_config("nqueens_dis", [*tiny_overrides, *change, "train.max_batches=6"])
        with pytest.raises(ConfigError, match="resume with the run's own config"):
            Trainer(other, progress=False, resume=True, resume_named=tuple(c.split("=")[0] for c in change)).run()
    faster = load_config("nqueens_dis", [*tiny_overrides, "train.lr=0.05", "train.max_batches=6"])
    with pytest.raises(ConfigError, match="name each change"):  # a config file edited behind the run's back
        Trainer(faster, progress=False, resume=True).run()
    Trainer(faster, progress=False, resume=True, resume_named=("train.lr", "train.max_batches")).run()
    log = [json.loads(line) for line in (run_dir / "resume_log.jsonl").read_text().splitlines()]
    assert log == [{"batch": 4, "changed": {"train.lr": [cfg.train.lr, 0.05], "train.max_batches": [4, 6]}}]
    text = (run_dir / "config.yaml").read_text()
    assert yaml.safe_load(text)["train"]["lr"] == 0.05 and "# resumed at batch 4 with train.lr" in text


@pytest.mark.parametrize("dtype", ["bool", "int8", "float16"])
def test_converted_weights_are_refused_unless_still_floating_point(tmp_path, dtype):
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from dis_rl.checkpoint import CheckpointError, resolve_checkpoint
    from dis_rl.loading import load_model

    copy = tmp_path / "converted"
    shutil.copytree(resolve_checkpoint("nqueens_dis"), copy)
    weights = load_file(str(copy / "model.safetensors"))
    save_file({k: v.to(getattr(torch, dtype)) for k, v in weights.items()}, str(copy / "model.safetensors"))
    if dtype == "float16":
        assert load_model(str(copy))[0] is not None  # a half-precision copy still loads
    else:
        with pytest.raises(CheckpointError, match="not floating point"):
            load_model(str(copy))


def test_a_damaged_raw_file_of_an_ema_run_is_detected(tmp_path, tiny_overrides):
    import torch
    from safetensors.torch import load_file, save_file

    from dis_rl.checkpoint import CheckpointError, latest_checkpoint
    from dis_rl.loading import load_model
    from dis_rl.train import train

    cfg = load_config("nqueens_dis", [*tiny_overrides, "train.ema=0.9"])
    train(cfg, figures=False, progress=False)
    step = latest_checkpoint(tmp_path / cfg.name / "checkpoints")
    assert load_model(str(step))[0] is not None
    raw = load_file(str(step / "model.safetensors"))
    save_file({k: torch.randn_like(v) for k, v in raw.items()}, str(step / "model.safetensors"))  # finite garbage
    with pytest.raises(CheckpointError, match="model.safetensors does not match the SHA-256"):
        load_model(str(step))
