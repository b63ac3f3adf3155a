"""NQueensRefine-v0: complete an 8x8 N-Queens board by iterative refinement (scalar and vector-native)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dis_rl.envs.core import RefineTask, puzzle_sets_for
from dis_rl.envs.scalar import RefineEnv
from dis_rl.envs.vector import RefineVectorEnv
from dis_rl.puzzles import nqueens

_DEFAULTS = {"num_train": 800, "num_test": 200, "seed": 0, "augment": True, "min_queens": 1, "max_queens": 7}


def nqueens_givens(inputs: np.ndarray) -> np.ndarray:
    """The given queens of N-Queens puzzles (a module-level function, so that envs pickle)."""
    return inputs == nqueens.QUEEN


def nqueens_task(
    num_train: int = 800,
    num_test: int = 200,
    puzzle_seed: int = 0,
    augment: bool = True,
    min_queens: int = 1,
    max_queens: int = 7,
    data: Any = None,
    **episode: Any,
) -> RefineTask:
    """The `RefineTask` behind the N-Queens envs (``episode``: action_mode, max_steps, start, split,
    success_bonus, step_penalty; other arguments as in `NQueensRefineEnv`)."""
    own = {"num_train": num_train, "num_test": num_test, "seed": puzzle_seed, "augment": augment,
           "min_queens": min_queens, "max_queens": max_queens}
    train, test = puzzle_sets_for("nqueens", data, own, _DEFAULTS)
    return RefineTask(
        domain=nqueens.DOMAIN,
        train=train,
        test=test,
        blank_token=nqueens.EMPTY,
        paintable=(nqueens.EMPTY, nqueens.QUEEN),
        fixed_cells=nqueens_givens,
        **episode,
    )


class NQueensRefineEnv(RefineEnv):
    """Place 8 non-attacking queens on a board that already holds 1-7 of them.

    ## Description
    A puzzle is an 8x8 board (64 cells, row-major) with ``Q`` given queens taken from one of the
    92 solutions. The agent refines an answer board until it is a valid completion: 8 queens, no two
    sharing a row, column or diagonal, every given queen kept. Boards often have several completions;
    any of them solves the puzzle.

    ## Action Space
    Tokens: 0 pad, 1 empty, 2 queen (``V = 3``), ``L = 64`` cells.
    - ``action_mode="refine"`` (default): ``MultiDiscrete([3] * 64)``, the whole next board.
    - ``action_mode="edit"``: ``Discrete(64 * 3)``; action ``a`` writes token ``a % 3`` into cell
      ``a // 3``. ``action_masks()`` masks the given queens and the pad token; a masked action is
      legal but leaves the board unchanged.

    ## Observation Space
    ``Dict`` of integer Boxes: ``input`` (uint8 ``[64]``, the puzzle), ``answer`` (uint8 ``[64]``,
    the current board), ``step`` (int64 ``[1]``, steps taken, ``0..max_steps``).

    ## Rewards
    ``(d_prev - d_new) / 64 + success_bonus * solved - step_penalty`` where ``d`` is the Hamming
    distance to the nearest valid completion that keeps the givens. Per step the reward lies in
    ``[-1 - step_penalty, 1 + success_bonus]``; over an episode the rewards sum to
    ``(d_0 - d_T) / 64 + success_bonus * solved - T * step_penalty``.

    ## Starting State
    A puzzle drawn with ``self.np_random`` from the split (or chosen by ``options["puzzle"]``); the
    answer starts as the input board (``start="input"``) or an empty board (``start="blank"``).

    ## Episode End
    Terminated when the verifier accepts the answer; truncated after ``max_steps`` steps (by the env
    itself, wrapped or not). Stepping after the end raises ``gymnasium.error.ResetNeeded``.

    ## Protocol
    Test-split episodes are evaluated by default (no label feedback before the one scored
    submission per puzzle; ``attempts=`` for more); ``protocol="label_feedback"`` asks for the
    label's feedback everywhere. See `dis_rl.envs.core` and docs/ENVS.md ("Scoring protocol").

    ## Arguments
    ``gym.make("NQueensRefine-v0", action_mode="refine", max_steps=None, start="input", split="train",
    success_bonus=1.0, step_penalty=0.0, protocol=None, attempts=None, num_train=800, num_test=200, puzzle_seed=0,
    augment=True, min_queens=1, max_queens=7, data=None, render_mode=None)``.
    ``max_steps`` defaults to 6 (refine) or 64 (edit). Puzzles come from `dis_rl.data.puzzle_sets`,
    the trainer's path (800 base puzzles with their dihedral images for training, 200 for test);
    ``data`` (a `DataConfig` or its dict, e.g. a checkpoint's ``config["data"]``) replaces the
    puzzle arguments, so an env sees exactly a run's training and test boards.
    ``reset(options={"split": "test", "puzzle": 3})`` picks a
    split and a puzzle index. ``render_mode``: ``"ansi"`` (text boards) or ``"rgb_array"`` (input |
    answer image). ``info``: ``step``, ``puzzle_name`` (string id), ``puzzle_id`` (integer
    puzzle-embedding id), ``puzzle_index``, ``split``, ``protocol``; with label feedback ``distance``
    and ``solved``; under evaluation ``attempt``, and at the submission ``scored`` (and ``solved``).
    """

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(nqueens_task(**kwargs), render_mode=render_mode)


class NQueensRefineVectorEnv(RefineVectorEnv):
    """``num_envs`` N-Queens refinement episodes as one numpy batch (see `NQueensRefineEnv` and
    `dis_rl.envs.core.RefineVectorEnv` for autoreset and seeding)."""

    def __init__(
        self, num_envs: int = 1, render_mode: str | None = None, max_episode_steps: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(nqueens_task(**kwargs), num_envs, render_mode=render_mode, max_episode_steps=max_episode_steps)

