"""The command line says what it does: one-line errors, no abbreviations, flags anywhere, help for
every argument, interruption messages that name only flags that exist, RL keys that do something."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from dis_rl.agents.rl_arm import load_rl_config
from dis_rl.cli import build_parser, main, parse_args
from dis_rl.config import ConfigError


def _one_line_error(capsys, argv: list[str], *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("argv,needle", [
    (["train", "nqueens_dis", "train.device=gpu"], "train.device must be auto, cpu, mps, cuda or cuda:N, got 'gpu'"),
    (["eval", "nqueens_dis", "--device", "cpu0"], "device 'cpu0' is not one of auto, cpu, mps, cuda or cuda:N"),
])
def test_bad_device_names_are_one_line_errors(capsys, argv, needle):
    _one_line_error(capsys, argv, needle)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine_is_a_one_line_error(capsys):
    _one_line_error(capsys, ["eval", "nqueens_dis", "--device", "cuda"], "CUDA is not available")


def test_abbreviated_flags_are_refused(capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(["train", "nqueens_dis", "--resum"])
    assert info.value.code == 2 and "unrecognized arguments: --resum" in capsys.readouterr().err


def test_overrides_may_follow_flags():
    args = parse_args(["train", "nqueens_dis", "train.lr=1e-3", "--strict", "model.hidden=32", "--no-progress",
                       "train.max_batches=2"])
    assert args.strict and args.no_progress
    assert args.overrides == ["train.lr=1e-3", "model.hidden=32", "train.max_batches=2"]
    args = parse_args(["compare", "compare_nqueens", "--fresh", "seeds=1"])
    assert args.fresh and args.overrides == ["seeds=1"]
    with pytest.raises(SystemExit):  # a stray word is still an error
        parse_args(["train", "nqueens_dis", "--strict", "oops"])
    with pytest.raises(SystemExit):  # a command without overrides takes none
        parse_args(["eval", "nqueens_dis", "train.lr=1"])


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from _subparsers(sub)


def test_every_argument_has_help_and_every_default_is_shown():
    for name, sub in _subparsers(build_parser()):
        help_text = sub.format_help()
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"dis-rl {name}: {action.dest} has no help"
            if action.option_strings and action.default not in (None, False, []):
                assert f"(default: {action.default})" in " ".join(help_text.split()), f"dis-rl {name} {action.dest}"


@pytest.mark.parametrize("command,expected,unexpected", [
    # train's advice depends on what its run folder holds (tests/test_nothing_lost.py)
    ("train", "interrupted", None), ("sweep-w", "interrupted", "--resume"), ("rl", "interrupted", "--resume"),
    ("compare", "finished arms are reused", "--resume"),
])
def test_interruption_names_only_flags_that_exist(monkeypatch, capsys, command, expected, unexpected):
    import dis_rl.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    for name in ("_cmd_train", "_cmd_sweep_w", "_cmd_rl", "_cmd_compare"):
        monkeypatch.setattr(cli, name, interrupted)
    argv = {"train": ["train", "x"], "sweep-w": ["sweep-w", "x"], "rl": ["rl", "x"], "compare": ["compare", "x"]}
    args = parse_args(argv[command])
    args.func = interrupted
    monkeypatch.setattr(cli, "parse_args", lambda argv=None: args)
    assert main([]) == 130
    err = capsys.readouterr().err
    assert expected in err and (unexpected is None or unexpected not in err)


def test_rl_refuses_keys_of_the_other_arm_and_has_no_progress():
    with pytest.raises(ConfigError, match="finetune.lr does nothing for arm 'ppo_scratch'"):
        load_rl_config("rl_nqueens_ppo", ["finetune.lr=1"])
    with pytest.raises(ConfigError, match="ppo.lr does nothing for arm 'pg_finetune'"):
        load_rl_config("rl_nqueens_finetune", ["finetune.checkpoint=nqueens_dis", "ppo.lr=1"])
    assert parse_args(["rl", "rl_nqueens_ppo", "--no-progress"]).no_progress


def test_a_missing_pretrained_checkpoint_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/nqueens_dis here
    with pytest.raises(ConfigError, match=r"dis-rl train nqueens_dis.*finetune.checkpoint=nqueens_dis"):
        load_rl_config("rl_nqueens_finetune", ["finetune.checkpoint=runs/nqueens_dis"])
    # the shipped config fine-tunes a shipped checkpoint by name: nothing to train first
    assert load_rl_config("rl_nqueens_finetune").finetune.checkpoint == "nqueens_dis_label"
    assert load_rl_config("rl_nqueens_finetune", ["finetune.checkpoint=nqueens_dis"]).arm == "pg_finetune"


def test_show_accepts_puzzle_ids_as_the_envs_name_them():
    from dis_rl.figures import puzzle_index

    class Puzzles:
        extras = {"task_id": np.array(["aa", "bb", "bb"]), "test_index": np.array([0, 0, 1])}

        def __len__(self) -> int:
            return 3

    assert puzzle_index(Puzzles(), "bb/1", "test") == 2
    assert puzzle_index(Puzzles(), "bb", "test") == 1 and puzzle_index(Puzzles(), "2", "test") == 2
    with pytest.raises(IndexError, match="unknown puzzle 'cc'.*<task id>/<test pair>"):
        puzzle_index(Puzzles(), "cc", "test")
    with pytest.raises(IndexError, match="0..2"):
        puzzle_index(Puzzles(), 5, "test")
    assert parse_args(["show", "nqueens_dis", "--puzzle", "007bbfb7/0"]).puzzle == "007bbfb7/0"
    assert parse_args(["show", "nqueens_dis", "--puzzle", "3"]).puzzle == 3


def test_demo_passes_its_flags_to_the_showcase(monkeypatch, capsys):
    import dis_rl.cli as cli
    from dis_rl import commands

    seen = {}
    monkeypatch.setattr(cli, "_cmd_train", lambda args: seen.setdefault("train", (args.config, args.overrides)) and 0)
    monkeypatch.setattr(commands, "demo_showcase", lambda **kw: seen.setdefault("showcase", kw) and "shown")
    assert main(["demo", "--no-progress", "train.max_batches=2"]) == 0
    assert seen == {"train": ("nqueens_dis", ["train.max_batches=2"]), "showcase": {"progress": False}}
    assert "shown" in capsys.readouterr().out
