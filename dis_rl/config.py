"""The run config's schema: `RunConfig` (``data:``, ``model:``, ``train:``) and its one validation.

Unknown or misspelled keys, wrong types and out-of-range values raise `ConfigError` naming the
key and the file before any work starts (`dis_rl.config_engine` reads the YAML and builds the
dataclasses; this module says what the keys are and which values go together). The resolved
config is saved in every run directory; a resume may change only the train keys it names.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# The engine's names are re-exported: `from dis_rl.config import ConfigError, read_yaml, ...` is the one
# import path callers use.
from dis_rl.config_engine import (  # noqa: F401
    MAX_CONFIG_BYTES,
    ConfigError,
    apply_overrides,
    build_config,
    build_dataclass,
    locate_config,
    read_yaml,
    short_repr,
)

# The model: section is the model package's own dataclass (re-exported here for configs and callers).
from dis_rl.model.config import PRESETS, STEP_INDEX, VARIANTS, ModelConfig  # noqa: F401
from dis_rl.puzzles.answers import ANSWER_TARGETS
from dis_rl.puzzles.arc_augment import CropSpec
from dis_rl.puzzles.solver_order import solver_of
from dis_rl.runs import check_run_name

# Training methods `TrainConfig.validate` accepts: the names of `dis_rl.train.loop.METHODS` (the table of
# classes lives above this layer, with torch; the names here so a config names a bad one at load).
METHOD_NAMES = ("dis", "trm")
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
DEVICE_NAMES = "auto, cpu, mps, cuda or cuda:N"


def valid_device_name(name: str) -> bool:
    """Whether ``name`` is a device dis-rl runs on (checked before torch parses it, whose own error
    is a traceback); `dis_rl.device.resolve_device` then checks that it is present."""
    return DEVICE_PATTERN.fullmatch(name) is not None


@dataclass
class DataConfig:
    """Where the puzzles come from (docs/DATA.md). Keys of other domains are ignored."""

    domain: str = "nqueens"  # nqueens | sudoku | arc
    seed: int = 0  # seed of the puzzle generator / augmentation
    num_train: int = 800  # base training puzzles (generators); Sudoku CSV: first rows kept (0: all)
    num_test: int = 200  # test puzzles (generators); Sudoku CSV without test_csv_path: last rows
    augment: bool = True  # training augmentation (N-Queens: dihedral; ARC/Sudoku: num_aug copies)
    num_aug: int = 1000  # ARC/Sudoku: augmented copies per puzzle besides the original
    strict: bool = False  # a bad ARC task file or Sudoku CSV row is an error (default: skipped, counted)
    min_queens: int = 1  # N-Queens: fewest given queens
    max_queens: int = 7  # N-Queens: most given queens
    # ARC
    sources: list[str] = field(default_factory=lambda: ["arc1"])  # training tasks of: arc1 | arc2 | DIR
    arc_dirs: list[str] = field(default_factory=list)  # extra directories of training tasks (ConceptARC)
    evaluate: str = "arc1"  # evaluation tasks of: arc1 | arc2 | DIR | holdout; "train": score the training examples
    tasks: list[str] = field(default_factory=list)  # keep only these training task ids (small runs)
    holdout: list[str] = field(default_factory=list)  # evaluate: holdout: these training tasks' test pairs = test set
    max_grid_side: int = 0  # keep only tasks whose every grid (test outputs included) fits N x N (0: any size)
    translate: bool = True  # random placement on the 30x30 canvas (training only)
    canvas: str = "full"  # full: every example is the 30x30 canvas | cropped: the window its grids need
    crop: str = "task"  # cropped training window: task (its largest known grid) | pair (the pair's own grids)
    test_crop: str = "task"  # cropped test window (output unknown): task (largest demo/test input) | full
    crop_step: int = 1  # round window sides up to a multiple of this (fewer batch shapes, e.g. for compile)
    force: bool = False  # allow evaluation tasks that are also training tasks (leakage guard)
    # Sudoku
    csv_path: str = ""  # Sudoku-Extreme CSV (source,question,answer,rating); "" uses the generator
    test_csv_path: str = ""
    keep_fraction: float = 0.1  # generator: keep the hardest share of candidates
    target_rating: int = 0  # generator: hill-climb each candidate toward this rating (0: plain minimal puzzles)
    harden_steps: int = 100  # generator: most hill-climb steps per candidate (with target_rating)
    blanks: int = 0  # generator: easy puzzles with this many blanks instead of minimal ones (0: minimal)
    workers: int = 1  # generator processes
    cache_dir: str = ""  # generated Sudoku sets are cached here ("": $DIS_RL_CACHE, else ~/.cache/dis-rl)
    multiple_solutions: str = "reject"  # Sudoku CSV: reject | keep puzzles with several solutions (docs/DATA.md)

    def validate(self) -> None:
        domains = ("nqueens", "sudoku", "arc")
        if self.domain not in domains:
            raise ValueError(f"data.domain must be one of {domains}, got {self.domain!r}")
        for name in ("tasks", "holdout"):
            if len(getattr(self, name)) > MAX_LISTED_TASKS:
                raise ValueError(f"data.{name} lists {len(getattr(self, name)):,} task ids; at most "
                                 f"{MAX_LISTED_TASKS:,} (ARC sets hold a few thousand tasks)")
        csv = self.domain == "sudoku" and self.csv_path
        if self.num_train < (0 if csv else 1) or self.num_test < (0 if csv and self.test_csv_path else 1):
            raise ValueError(f"data.num_train and data.num_test must be >= 1, got {self.num_train}, {self.num_test}")
        if not 0 <= self.max_grid_side <= 30:
            raise ValueError(f"data.max_grid_side must lie in 0..30 (0: any size), got {self.max_grid_side}")
        if self.num_aug < 0:
            raise ValueError(f"data.num_aug must be >= 0, got {self.num_aug}")
        if not 0 < self.keep_fraction <= 1:
            raise ValueError(f"data.keep_fraction must lie in (0, 1], got {self.keep_fraction}")
        if self.target_rating < 0 or self.harden_steps < 1:
            raise ValueError(f"data.target_rating must be >= 0 and data.harden_steps >= 1, got {self.target_rating}, "
                             f"{self.harden_steps}")
        if not 0 <= self.blanks <= 64:
            raise ValueError(f"data.blanks must lie in 0..64 (a unique 9x9 Sudoku has at least 17 clues), got "
                             f"{self.blanks}")
        if self.blanks and self.target_rating:
            raise ValueError("data.blanks (easy puzzles) and data.target_rating (hard puzzles) exclude each other")
        if self.workers < 1:
            raise ValueError(f"data.workers must be >= 1, got {self.workers}")
        if self.multiple_solutions not in ("reject", "keep"):
            raise ValueError(f"data.multiple_solutions must be 'reject' or 'keep', got {self.multiple_solutions!r}")
        if self.domain == "arc" and not (self.sources or self.arc_dirs):
            raise ValueError("data.sources and data.arc_dirs are both empty: name at least one source of tasks")
        CropSpec(self.canvas, self.crop, self.test_crop, self.crop_step)  # checks the four keys
        if (self.evaluate == "holdout") != bool(self.holdout) and self.domain == "arc":
            raise ValueError("data.evaluate: holdout and data.holdout (task ids) go together: the listed training "
                             "tasks keep their demonstrations in training and their test pairs become the test set")
        if self.canvas == "cropped" and self.domain != "arc":
            raise ValueError(f"data.canvas: cropped is for ARC; data.domain {self.domain!r} has one grid size")
        if self.test_csv_path and not self.csv_path:
            raise ValueError("data.test_csv_path needs data.csv_path (the training CSV)")
        if not 1 <= self.min_queens <= self.max_queens <= 7:
            raise ValueError(
                f"need 1 <= data.min_queens <= data.max_queens <= 7, got {self.min_queens}..{self.max_queens}"
            )


MAX_LISTED_TASKS = 100_000  # data.tasks / data.holdout: every public ARC set together has a few thousand


# train keys that only one method reads; under another known method they must keep their defaults, so that
# a value that would be silently ignored is refused instead. A new method-specific key belongs here.
METHOD_ONLY_KEYS = {
    "dis": ("targets", "p_uncond", "path_cells", "step_weights", "dis_loss"),
    "trm": ("halt_exploration_prob", "halt_loss_weight"),
}


@dataclass
class TrainConfig:
    method: str = "dis"  # dis (Deep Improvement Supervision) | trm (TRM deep supervision + adaptive halting)
    supervision_steps: int = 6  # N_sup (TRM: the most steps an example may take)
    targets: str = "path"  # target generator: path | mask | replace | solver (DIS; docs/TARGETS.md)
    path_cells: str = "scored"  # path cells: scored (dis-rl) | canvas (public DIS code: whole canvas, PAD scored)
    step_weights: str = "linear"  # DIS loss weight of step s: linear s/N (paper) | uniform (public DIS code)
    dis_loss: str = "single"  # single CE(l_c^s, y_s) (paper's choice) | dual: + CE(l_u^s, y_{s-1}) (paper's L_Dual)
    # Puzzles with several valid answers: train towards the one nearest the model's own prediction (default;
    # N-Queens 99-100% vs 86.5% for the stored label, docs/TARGETS.md) | label (the reference code) | canonical
    answer_target: str = "nearest"
    step_input: str = "input"  # what each step embeds: input (paper) | prediction (public DIS code)
    p_uncond: float = 0.0  # classifier-free dropout: share of examples whose step skips the reasoning update
    loss: str = "softmax"  # softmax | stablemax
    optimizer: str = "adamw"  # adamw | adam_atan2
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    warmup_steps: int = 100  # optimiser steps of linear warm-up
    lr_schedule: str = "constant"  # after warm-up: constant (TRM) | cosine decay over max_batches to lr_min_ratio*lr
    lr_min_ratio: float = 0.1  # cosine: the final learning rate as a share of train.lr
    grad_clip: float = 1.0  # max global grad norm; 0 disables
    puzzle_emb_lr: float = 1e-2
    puzzle_emb_weight_decay: float = 0.1
    ema: float = 0.0  # EMA decay for evaluation weights; 0 disables
    batch_size: int = 64
    max_batches: int = 1000  # training length in batches (DIS: N_sup optimiser steps each)
    max_seconds: float = 0.0  # wall-clock cap (0: none); the run stops cleanly and saves
    max_network_calls: int = 0  # budget in network calls summed over examples (0: none); `dis-rl compare`
    max_train_seconds: float = 0.0  # budget in training seconds, evaluation and checkpoints excluded (0: none)
    eval_at_calls: list[int] = field(default_factory=list)  # also evaluate when network calls first reach each
    eval_at_seconds: list[float] = field(default_factory=list)  # ... or training seconds reach each
    halt_exploration_prob: float = 0.1  # TRM: chance an example gets a random minimum of 2..N_sup steps
    halt_loss_weight: float = 0.5  # TRM: loss = CE + halt_loss_weight * BCE(halting logit, answer exact)
    eval_every: int = 200  # batches between evaluations (0: only at the end)
    eval_batch_size: int = 200
    checkpoint_every: int = 200  # batches between checkpoints (0: only at the end)
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "fp32"  # fp32 | bf16 (autocast; master weights stay fp32)
    threads: int = 0  # torch CPU threads (0: torch's default)
    compile: bool = False  # torch.compile the blocks (worth it on GPUs; slow warm-up, rarely worth it on CPUs)

    def validate(self) -> None:
        if self.method not in METHOD_NAMES:
            raise ValueError(f"train.method must be one of {sorted(METHOD_NAMES)}, got {self.method!r}")
        if not valid_device_name(self.device):
            raise ValueError(f"train.device must be {DEVICE_NAMES}, got {self.device!r}")
        positive = (
            "supervision_steps", "batch_size", "max_batches", "eval_batch_size", "log_every", "keep_checkpoints"
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.puzzle_emb_lr < 0:
            raise ValueError(f"train.lr must be > 0 and train.puzzle_emb_lr >= 0, got {self.lr}, {self.puzzle_emb_lr}")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"train.betas must lie in [0, 1), got {self.betas}")
        if not 0 <= self.p_uncond <= 1:
            raise ValueError(f"train.p_uncond must lie in [0, 1], got {self.p_uncond}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"train.ema must lie in [0, 1), got {self.ema}")
        choices = {
            "targets": ("path", "mask", "replace", "solver"),
            "path_cells": ("scored", "canvas"),
            "step_weights": ("linear", "uniform"),
            "dis_loss": ("single", "dual"),
            "step_input": ("input", "prediction"),
            "answer_target": ANSWER_TARGETS,
            "loss": ("softmax", "stablemax"),
            "optimizer": ("adamw", "adam_atan2"),
            "lr_schedule": ("constant", "cosine"),
            "precision": ("fp32", "bf16"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"train.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        nonneg = ("weight_decay", "warmup_steps", "grad_clip", "max_seconds", "eval_every", "checkpoint_every",
                  "threads", "max_network_calls", "max_train_seconds", "halt_loss_weight")
        for name in nonneg:
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("eval_at_calls", "eval_at_seconds"):
            if any(p <= 0 for p in getattr(self, name)):
                raise ValueError(f"train.{name} must hold positive values, got {getattr(self, name)}")
        if not 0 <= self.lr_min_ratio <= 1:
            raise ValueError(f"train.lr_min_ratio must lie in [0, 1], got {self.lr_min_ratio}")
        if self.lr_schedule == "cosine" and (self.max_network_calls or self.max_train_seconds or self.max_seconds):
            raise ValueError("train.lr_schedule cosine decays over train.max_batches; it cannot follow a budget in "
                             "network calls or seconds (use lr_schedule constant with those)")
        if not 0 <= self.halt_exploration_prob <= 1:
            raise ValueError(f"train.halt_exploration_prob must lie in [0, 1], got {self.halt_exploration_prob}")
        if self.method in METHOD_ONLY_KEYS:
            defaults = TrainConfig()
            for method, keys in METHOD_ONLY_KEYS.items():
                for key in keys:
                    if method != self.method and getattr(self, key) != getattr(defaults, key):
                        raise ValueError(
                            f"train.{key} is read only by train.method {method}; train.method {self.method} would "
                            f"ignore it (remove it, or keep the default {getattr(defaults, key)!r})"
                        )
        if self.path_cells == "canvas" and self.targets != "path":
            raise ValueError(f"train.path_cells canvas (the public DIS code's path) needs train.targets path, "
                             f"got {self.targets!r}")


@dataclass
class RunConfig:
    name: str = "nqueens_dis"
    out_dir: str = "runs"
    preset: str = ""  # optional model preset applied under the model section: compact | medium
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        check_run_name(self.name)
        if self.preset and self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}")
        for part in (self.data, self.model, self.train):
            part.validate()
        if self.train.method == "trm":
            self._validate_trm()
        if self.data.canvas == "cropped" and self.model.variant != "attention":
            raise ValueError(
                f"data.canvas: cropped needs model.variant: attention; the {self.model.variant!r} variant mixes a "
                "fixed token axis of 900 cells (one weight per canvas position), so it runs on the full canvas only"
            )
        if self.model.step_embedding and self.model.step_embedding <= self.train.supervision_steps:
            raise ValueError(
                f"model.step_embedding ({self.model.step_embedding}) must exceed train.supervision_steps "
                f"({self.train.supervision_steps}): step indices run 1..N_sup"
            )
        if self.model.step_index == "continuous" and self.model.step_embedding != self.train.supervision_steps + 1:
            raise ValueError(
                f"model.step_index continuous embeds t = s / (model.step_embedding - 1), which must reach 1 at the "
                f"last step: set model.step_embedding to train.supervision_steps + 1 = "
                f"{self.train.supervision_steps + 1} (got {self.model.step_embedding})"
            )
        if self.train.method == "dis" and self.train.targets == "solver":
            solver_of(self.data.domain)  # ARC has no solver: a clear error now, not at the first batch

    def _validate_trm(self) -> None:
        """TRM halts each example on its own, so slots in one batch sit at different steps: a shared
        step index or a previous-prediction input per step has no single value to embed."""
        if not self.model.halting_head:
            raise ValueError("train.method trm needs model.halting_head: true (its logit decides when to halt)")
        if self.model.step_embedding:
            raise ValueError("train.method trm needs model.step_embedding: 0 (batch slots sit at different steps)")
        if self.train.step_input != "input":
            raise ValueError("train.method trm needs train.step_input: input (TRM embeds the puzzle every step)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def config_from_dict(data: dict, overrides: list[str] | None = None, source: str = "<dict>") -> RunConfig:
    data = apply_overrides(data, overrides)
    preset = data.get("preset", "")
    if preset:
        if not isinstance(preset, str) or preset not in PRESETS:
            raise ConfigError(f"{source}: preset must be one of {sorted(PRESETS)}, got {short_repr(preset)}")
        model = data.get("model") or {}
        if not isinstance(model, dict):
            raise ConfigError(f"{source}: model: expected a mapping, got {type(model).__name__}")
        data["model"] = {**PRESETS[preset], **model}
    return build_config(RunConfig, data, source)


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """A run config from a YAML file or a shipped config name (``nqueens_dis``), overrides applied."""
    path = locate_config(path)
    return config_from_dict(read_yaml(path), overrides, source=str(path))


def save_config(cfg: RunConfig, path: str | Path) -> None:
    data = cfg.to_dict()
    data["train"]["betas"] = list(data["train"]["betas"])
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))


# Train keys a resumed run cannot change even when named: they decide what the saved state means.
RESUME_FIXED_TRAIN = ("method", "seed", "supervision_steps", "batch_size", "targets")


def resume_changes(saved: dict, cfg: RunConfig, named: Any = ()) -> dict[str, list]:
    """The train keys in which ``cfg`` differs from the checkpoint's ``saved`` config, as
    ``{"train.lr": [old, new]}``, for a resume to record. A different data or model config, a
    change of a `RESUME_FIXED_TRAIN` key, or a train key not ``named`` (``train.lr`` or ``train``,
    as given on the command line) is refused: the run would go on as if it had always used it."""
    def flat(data: dict) -> dict[str, Any]:
        data = json.loads(json.dumps(data, default=list))
        return {f"{sec}.{k}": v for sec in ("data", "model", "train") for k, v in (data.get(sec) or {}).items()}

    try:  # the saved config with today's defaults filled in, so new keys do not count as changes
        saved = config_from_dict(dict(saved)).to_dict()
    except (ConfigError, ValueError, TypeError):
        pass
    old, new = flat(saved), flat(cfg.to_dict())
    diff = {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}
    named = {str(n) for n in named}
    words = lambda keys: ", ".join(f"{k} {diff[k][0]!r} -> {diff[k][1]!r}" for k in keys)  # noqa: E731
    fixed = [k for k in diff if not k.startswith("train.") or k.split(".", 1)[1] in RESUME_FIXED_TRAIN]
    if fixed:
        raise ConfigError(f"--resume continues the saved run, but this config changes {words(fixed)}: resume "
                          f"with the run's own config (runs/<name>/config.yaml) or start a new run")
    unnamed = [k for k in diff if k not in named and k.split(".", 1)[0] not in named]
    if unnamed:
        raise ConfigError(f"--resume: this config changes {words(unnamed)} from the saved run; name each change "
                          f"on the command line to make it ({' '.join(f'{k}={diff[k][1]}' for k in unnamed)}), "
                          f"and it is recorded in resume_log.jsonl and config.yaml")
    return diff


def record_resume(run_dir: str | Path, batch: int, changes: dict[str, list]) -> None:
    """Note a resume's changes: a line in ``resume_log.jsonl`` (when there are any) and, at the end
    of the freshly written ``config.yaml`` (the values in force now), one comment per change so far."""
    run_dir = Path(run_dir)
    log = run_dir / "resume_log.jsonl"
    if changes:
        with open(log, "a") as out:
            out.write(json.dumps({"batch": batch, "changed": changes}) + "\n")
    if not log.is_file():
        return
    lines = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
            words = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in entry["changed"].items())
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a torn line: the log itself still has it
        lines.append(f"# resumed at batch {entry.get('batch')} with {words} (before it, the run used the old values)\n")
    with open(run_dir / "config.yaml", "a") as cfg:
        cfg.writelines(lines)
