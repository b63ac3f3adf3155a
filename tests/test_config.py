"""Strict configs: every mistake stops before work, naming the key and the file."""

from pathlib import Path

import pytest

from dis_rl.config import ConfigError, config_from_dict, load_config, save_config

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


def write(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("trian:\n  lr: 1\n", "unknown key trian (did you mean 'train'?)"),
        ("train:\n  lrr: 0.1\n", "unknown key train.lrr (did you mean 'train.lr'?)"),
        ("train:\n  lr: fast\n", "train.lr: expected a number"),
        ("train:\n  batch_size: 2.5\n", "train.batch_size: expected an integer"),
        ("train:\n  batch_size: 0\n", "train.batch_size must be >= 1"),
        ("train:\n  betas: [0.9]\n", "train.betas: expected a list of 2 values"),
        ("train:\n  targets: noise\n", "train.targets must be one of"),
        ("model:\n  hidden: 30\n  heads: 4\n", "divisible"),
        ("data:\n  augment: maybe\n", "data.augment: expected true or false"),
        ("train: 3\n", "train: expected a mapping"),
        ("preset: huge\n", "preset must be one of"),
        ("train:\n  lr: [1\n", "not valid YAML"),
    ],
)
def test_config_errors_name_key_and_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="section.key=value"):
        config_from_dict({}, ["train.lr"])
    with pytest.raises(ConfigError, match="unknown key train.lrr"):
        config_from_dict({}, ["train.lrr=1"])


def test_overrides_presets_and_round_trip(tmp_path):
    cfg = config_from_dict({"preset": "compact"}, ["train.lr=3e-4", "model.layers=2"])
    assert cfg.train.lr == 3e-4 and cfg.model.hidden == 256 and cfg.model.layers == 2
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_load_strictly(path):
    """Every YAML in configs/ loads with its own strict loader, so none rots."""
    import yaml

    from agents.rl_arm import load_rl_config, register_compare_arms
    from dis_rl.compare import load_compare_config

    register_compare_arms()  # as `dis-rl compare` does: the RL arm kinds

    data = yaml.safe_load(path.read_text())
    if "arms" in data:
        cfg, _ = load_compare_config(path)
        assert cfg.arms
    elif "arm" in data:
        load_rl_config(path)
    else:
        assert load_config(path).data.domain in ("nqueens", "sudoku", "arc")
