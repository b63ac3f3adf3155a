"""SudokuRefine-v0: fill a 9x9 Sudoku by iterative refinement (scalar and vector-native)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dis_rl.envs.core import RefineTask, puzzle_sets_for
from dis_rl.envs.scalar import RefineEnv
from dis_rl.envs.vector import RefineVectorEnv
from dis_rl.puzzles import sudoku

_DEFAULTS = {"num_train": 100, "num_test": 20, "seed": 0, "keep_fraction": 1.0, "csv_path": "",
             "test_csv_path": "", "strict": False, "multiple_solutions": "reject"}


def sudoku_givens(inputs: np.ndarray) -> np.ndarray:
    """The clues of Sudoku puzzles (a module-level function, so that envs pickle)."""
    return inputs > sudoku.BLANK


def sudoku_complete(answers: np.ndarray) -> np.ndarray:
    """Grids with a digit in every cell: the only ones the verifier can accept (it runs on no other)."""
    return (answers > sudoku.BLANK).all(axis=-1)


def sudoku_task(
    csv_path: str | Path | None = None,
    test_csv_path: str | Path | None = None,
    strict: bool = False,
    num_train: int = 100,
    num_test: int = 20,
    puzzle_seed: int = 0,
    keep_fraction: float = 1.0,
    multiple_solutions: str = "reject",
    data: Any = None,
    **episode: Any,
) -> RefineTask:
    """The `RefineTask` behind the Sudoku envs (``episode``: action_mode, max_steps, start, split,
    success_bonus, step_penalty; other arguments as in `SudokuRefineEnv`)."""
    own = {"num_train": num_train, "num_test": num_test, "seed": puzzle_seed, "keep_fraction": keep_fraction,
           "csv_path": str(csv_path or ""), "test_csv_path": str(test_csv_path or ""), "strict": strict,
           "multiple_solutions": multiple_solutions}
    train, test = puzzle_sets_for("sudoku", data, own, _DEFAULTS)
    return RefineTask(
        domain=sudoku.DOMAIN,
        train=train,
        test=test,
        blank_token=sudoku.BLANK,
        paintable=range(sudoku.BLANK, sudoku.VOCAB_SIZE),  # erase (blank) or a digit
        fixed_cells=sudoku_givens,
        # The verifier decides (a kept puzzle may have other solutions); distance as SudokuDomain's:
        # 0 for an accepted grid, else the Hamming distance to the label (at least 1).
        distance_is_exact=False,
        could_be_solved=sudoku_complete,
        **episode,
    )


class SudokuRefineEnv(RefineEnv):
    """Fill a 9x9 Sudoku so that every row, column and box holds the digits 1-9 once.

    ## Description
    81 cells, row-major. Tokens: 0 pad, 1 blank, digit ``d`` -> ``d + 1`` (vocab 11). The givens of
    the puzzle must be kept.

    ## Action Space
    - ``action_mode="refine"`` (default): ``MultiDiscrete([11] * 81)``, the whole next grid.
    - ``action_mode="edit"``: ``Discrete(81 * 11)``; action ``a`` writes token ``a % 11`` into cell
      ``a // 11``. ``action_masks()`` masks pad everywhere and everything but its own digit on a
      given; a masked action is legal but changes nothing.

    ## Observation Space
    ``Dict`` of integer Boxes: ``input``, ``answer`` (uint8 ``[81]``), ``step`` (int64 ``[1]``).

    ## Rewards
    ``(d_prev - d_new) / 81 + success_bonus * solved - step_penalty``, ``d`` = cells differing from the
    solution (generated puzzles and loaded CSV rows have exactly one), 0 for any solved grid.

    ## Starting State
    A puzzle drawn with ``self.np_random`` (or ``options["puzzle"]``, an index); the answer starts as
    the puzzle (``start="input"``) or an all-blank grid (``start="blank"``).

    ## Episode End
    Terminated when the verifier accepts the grid; truncated after ``max_steps`` (by the env itself,
    wrapped or not); stepping after the end raises ``gymnasium.error.ResetNeeded``.

    ## Protocol
    Test-split episodes are evaluated by default (no label feedback before the one scored
    submission per puzzle; ``attempts=`` for more); ``protocol="label_feedback"`` asks for the
    label's feedback everywhere. See `dis_rl.envs.core` and docs/ENVS.md ("Scoring protocol").

    ## Arguments
    ``gym.make("SudokuRefine-v0", action_mode="refine", max_steps=None, start="input", split="train",
    success_bonus=1.0, step_penalty=0.0, protocol=None, attempts=None, csv_path=None, test_csv_path=None,
    strict=False, num_train=100, num_test=20, puzzle_seed=0, keep_fraction=1.0, multiple_solutions="reject",
    data=None, render_mode=None)``.
    Puzzles come from `dis_rl.data.puzzle_sets`, the trainer's path, so the same arguments (or
    ``data``: a `DataConfig` or its dict, e.g. a checkpoint's ``config["data"]``) give the same
    train/test puzzles as ``dis-rl train``. Without ``csv_path`` the puzzles come from the built-in
    generator (unique solutions; the ``keep_fraction`` hardest of the candidates are kept, so < 1 is
    harder and slower; cached on disk). With ``csv_path`` (Sudoku-Extreme layout
    ``source,question,answer,rating``) bad rows are skipped and reported with their line numbers, or
    ``strict=True`` raises on the first; the test split is ``test_csv_path`` or the last
    ``num_test`` rows of the same file (never rows of the training split). A question with several
    solutions is such a bad row unless ``multiple_solutions="keep"``: then any valid completion that
    keeps the givens is solved at distance 0, so ``solved`` and ``distance`` never disagree
    (docs/DATA.md). ``max_steps`` defaults to 6 (refine) or 81 (edit).
    """

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(sudoku_task(**kwargs), render_mode=render_mode)


class SudokuRefineVectorEnv(RefineVectorEnv):
    """``num_envs`` Sudoku refinement episodes as one numpy batch (see `SudokuRefineEnv`)."""

    def __init__(
        self, num_envs: int = 1, render_mode: str | None = None, max_episode_steps: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(sudoku_task(**kwargs), num_envs, render_mode=render_mode, max_episode_steps=max_episode_steps)

