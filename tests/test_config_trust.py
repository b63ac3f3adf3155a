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
