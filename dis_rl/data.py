"""From a data config to puzzle sources: the training `ExampleSource` and the test `PuzzleSet`.

The one place that maps ``data.domain`` to a puzzle-layer loader; trainers, evaluation and the
CLI call `build_data` and never a loader directly.
"""

from __future__ import annotations

from dis_rl.config import DataConfig
from dis_rl.puzzles import nqueens
from dis_rl.puzzles.base import ExampleSource, PuzzleSet


def build_data(cfg: DataConfig) -> tuple[ExampleSource, PuzzleSet]:
    if cfg.domain == "nqueens":
        return nqueens.generate(
            num_train=cfg.num_train, num_test=cfg.num_test, seed=cfg.seed, augment=cfg.augment,
            min_queens=cfg.min_queens, max_queens=cfg.max_queens,
        )
    raise ValueError(f"data.domain {cfg.domain!r} is not supported; expected one of ['nqueens']")
