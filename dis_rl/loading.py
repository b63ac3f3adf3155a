"""A checkpoint made ready to use: its evaluation model, its run config and (on first use) the
puzzles of a split, rebuilt from the run's own data config.

The one path from a checkpoint argument to a model behind every command that reads a checkpoint
(`dis_rl.commands`: ``eval``, ``sweep-w``, ``show``, ``eval --vote``, ``export``) and the agents
(`dis_rl.agents.cfg_agent`); the math modules (`dis_rl.evaluate`, `dis_rl.guidance`,
`dis_rl.vote`) take a model and puzzles and never see a path.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from dis_rl.checkpoint import CheckpointError, evaluation_state, load_checkpoint
from dis_rl.config import ConfigError, config_from_dict
from dis_rl.data import build_data
from dis_rl.device import resolve_device
from dis_rl.model.trm import TRM
from dis_rl.puzzles import get_domain

SPLITS = ("train", "test")  # the splits a checkpoint's puzzles come in


def check_domain(folder: Path, domain: str, data: dict) -> None:
    """The config's ``data.domain`` must be the domain the weights were trained on (``data.domain``
    and its vocabulary in meta.json): an edited or mixed-up meta.json would otherwise build another
    domain's puzzles (minutes of Sudoku generation) for a model that cannot read them."""
    trained = data.get("domain", domain)
    try:
        vocab = get_domain(domain).vocab_size
    except ValueError as err:
        raise CheckpointError(f"{folder / 'meta.json'}: {err}") from None
    if trained != domain or vocab != data["vocab_size"]:
        raise CheckpointError(
            f"{folder / 'meta.json'} does not describe one model: its config says data.domain {domain!r} "
            f"(vocabulary {vocab}) but the weights were trained on {trained!r} (vocabulary {data['vocab_size']}); "
            "the metadata was edited or comes from another checkpoint")


def load_model(checkpoint: str, device: torch.device | str = "cpu"):
    """Rebuild the model of a checkpoint with its evaluation weights (the EMA when the run kept
    one, `dis_rl.checkpoint.evaluation_state`); returns ``(model, RunConfig, Checkpoint)``."""
    ckpt = load_checkpoint(checkpoint, with_optim=False)
    try:
        cfg = config_from_dict(ckpt.meta["config"], source=str(ckpt.path / "meta.json"))
        data = ckpt.meta["data"]
        check_domain(ckpt.path, cfg.data.domain, data)
        model = TRM(cfg.model, data["vocab_size"], data["seq_len"], data["num_puzzle_ids"])
        model.load_state_dict(evaluation_state(ckpt)[0])
    except (KeyError, ConfigError, RuntimeError) as err:
        raise CheckpointError(f"{ckpt.path}: metadata or tensors do not describe a dis-rl model: {err}") from None
    return model.to(device).eval(), cfg, ckpt


class LoadedRun:
    """A checkpoint made ready to use: its evaluation model on ``device``, the run config, the checkpoint,
    and (built on first use, from the run's own data config) the ``split``'s puzzles."""

    def __init__(self, model: TRM, cfg: Any, checkpoint: Any, split: str, device: torch.device) -> None:
        self.model, self.cfg, self.checkpoint, self.split, self.device = model, cfg, checkpoint, split, device

    @functools.cached_property
    def puzzles(self) -> Any:
        """The training `ExampleSource` (``split="train"``) or the test `PuzzleSet`, as training drew them."""
        train_source, test_set = build_data(self.cfg.data)
        return train_source if self.split == "train" else test_set


def load_run(checkpoint: str | Path, split: str = "test", device: str = "auto") -> LoadedRun:
    """Checkpoint -> model, config and the ``split``'s puzzles: the one path behind ``eval``, ``sweep-w``,
    ``show`` and ``eval --vote``. ``split`` is ``train`` or ``test``; ``device`` as ``train.device``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    dev = resolve_device(device)
    model, cfg, ckpt = load_model(str(checkpoint), dev)
    return LoadedRun(model, cfg, ckpt, split, dev)
