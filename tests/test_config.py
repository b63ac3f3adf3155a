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
    # `key=''` reaches us as `key=` once a shell has removed the quotes: the empty string, not None
    assert config_from_dict({}, ["data.cache_dir="]).data.cache_dir == ""
    with pytest.raises(ConfigError, match="train.lr: expected a number"):
        config_from_dict({}, ["train.lr="])


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_load_strictly(path):
    """Every YAML in configs/ loads with its own strict loader, so none rots."""
    import yaml

    from dis_rl.agents.rl_arm import load_rl_config
    from dis_rl.compare import load_compare_config

    data = yaml.safe_load(path.read_text())
    if "arms" in data:
        cfg, _ = load_compare_config(path)
        assert cfg.arms
    elif "arm" in data:  # a fine-tuning config's checkpoint (runs/...) may not exist here: the shipped one stands in
        load_rl_config(path, ["finetune.checkpoint=nqueens_dis"] if data["arm"] == "pg_finetune" else [])
    else:
        assert load_config(path).data.domain in ("nqueens", "sudoku", "arc")


# -- issue 12, class 9: values that used to pass validation and then crash or misbehave -------------
BAD_VALUES = {
    "lr_nan": ("train:\n  lr: .nan\n", "train.lr: expected a finite number"),
    "lr_inf": ("train:\n  lr: .inf\n", "train.lr: expected a finite number"),
    "lr_nan_text": ("train:\n  lr: nan\n", "train.lr: expected a finite number"),
    "grad_clip_nan": ("train:\n  grad_clip: .nan\n", "train.grad_clip: expected a finite number"),
    "max_seconds_nan": ("train:\n  max_seconds: .nan\n", "train.max_seconds: expected a finite number"),
    "expansion_zero": ("model:\n  expansion: 0\n", "model.expansion must be > 0"),
    "expansion_negative": ("model:\n  expansion: -2\n", "model.expansion must be > 0"),
    "device": ("train:\n  device: gpu\n", "train.device must be auto, cpu, mps, cuda or cuda:N, got 'gpu'"),
    "method": ("train:\n  method: dsi\n", "train.method must be one of ['dis', 'trm'], got 'dsi'"),
    "duplicate": ("train:\n  lr: 1.0e-3\n  lr: 3.0e-4\n", "line 3: key 'lr' is given twice (first on line 2)"),
    "empty": ("# nothing but a comment\n", "is empty; write {} in it to use every default"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_values_stop_at_load_naming_key_and_file(tmp_path, case):
    text, expected = BAD_VALUES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_non_utf8_config_and_nan_override_are_named(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=f"{path}: not UTF-8 text"):
        load_config(path)
    good = tmp_path / "good.yaml"
    good.write_text("{}\n")
    with pytest.raises(ConfigError, match=f"{good}: train.lr: expected a finite number, got nan"):
        load_config(good, ["train.lr=nan"])
