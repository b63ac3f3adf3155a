"""What a refinement episode is, shared by the scalar env (`dis_rl.envs.scalar`) and the vector-native env
(`dis_rl.envs.vector`): the task (a domain, its train/test puzzles, the episode settings and the scoring
protocol), action checks, puzzle draws and the data path.

Puzzles, verifiers, distances and rendering come from the puzzle layer (`dis_rl.puzzles`); numpy
only, no torch.

Two protocols, because one env serves two uses that must not mix:

- ``"label_feedback"``: every step is scored against the hidden label (dense reward, ``distance``
  and ``solved`` in info, termination when solved). Right for training; on evaluation puzzles it
  turns the env into an oracle, so its scores are no benchmark scores.
- ``"evaluation"``: nothing derived from the label reaches the agent before it commits an answer.
  Steps give reward 0 and no distance or solved flag; the answer after the last step (or
  ``submit()``) is the submission, scored then (reward 1.0 if correct, else 0.0); only the first
  ``attempts`` submissions per test input are scored (ARC: 2, the official rule; Sudoku, N-Queens: 1;
  ``attempts=`` may lower it, never raise it). An evaluated split holds no label: its labels live in
  a `dis_rl.envs.scoring.Scorer`, whose count is the session's, not the env's.

The default (``protocol=None``) evaluates episodes on the test split and gives label feedback on the
training split; label feedback on the test split is refused unless ``allow_test_label_feedback=True``.

One module a little past 400 lines: `RefineTask` (most of it) validates every env argument in one
place, so that each error names the argument the user gave.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from gymnasium import spaces

from dis_rl.envs.scoring import Scorer
from dis_rl.puzzles.answers import answer_sets
from dis_rl.puzzles.base import PAD, Domain, PuzzleSet

ACTION_MODES = ("refine", "edit")
STARTS = ("input", "blank")
SPLITS = ("train", "test")
PROTOCOLS = ("evaluation", "label_feedback")
REFINE_STEPS = 6  # the DIS schedule: six supervision steps
RENDER_MODES = ["ansi", "text", "rgb_array"]
NOT_A_TOKEN = 255  # label cells that are not scored hold this: no answer token equals it


def _choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def row_counts(mask: np.ndarray) -> np.ndarray:
    """``[N]`` int64 number of True cells in each row of a C-contiguous bool ``[N, L]``.

    Why not ``count_nonzero(axis=1)``: that is ~8x slower on [1024, 900]. Summing the rows as
    uint32 words adds four byte lanes at once; each lane sums at most L / 4 <= 255 ones, so no
    lane carries into the next."""
    n, length = mask.shape
    if length % 4 or length > 1020 or not mask.flags.c_contiguous:
        return np.count_nonzero(mask, axis=1)
    s = mask.view(np.uint32).sum(axis=1, dtype=np.uint32)
    return ((s & 0xFF) + ((s >> 8) & 0xFF) + ((s >> 16) & 0xFF) + (s >> 24)).astype(np.int64)


def _readonly(array: np.ndarray) -> np.ndarray:
    """A read-only view (the array itself stays writable for its owner)."""
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass
class RefineTask:
    """What an episode is: a domain, its train/test puzzles, the episode settings and the protocol.

    ``fixed_cells(inputs) -> bool [B, L]`` marks the givens (edit mode cannot paint them);
    ``paintable`` lists the tokens an agent may write (default: every token but PAD);
    ``blank_token`` fills the answer when ``start="blank"``; ``extra_keys`` are per-puzzle
    arrays of ``PuzzleSet.extras`` shown in the observation (for ARC the demonstration pairs);
    ``names`` maps a split to string ids of its puzzles (default: the row index as a string).
    ``distance_is_exact``: the domain's distance is 0 exactly for solved answers, so the verifier
    only runs on distance-0 rows; False (Sudoku: distance to the stored label) verifies the rows
    ``could_be_solved`` accepts (default: every row). ``protocol`` and ``attempts``: see the module
    docstring; ``default_attempts`` is the domain's rule (and the most ``attempts`` may be).
    ``scorers[split]``: who scores the submissions of an evaluated split (its labels are gone from
    ``sets[split]``, replaced by PAD).
    """

    domain: Domain
    train: PuzzleSet
    test: PuzzleSet
    action_mode: str = "refine"
    start: str = "input"
    split: str = "train"
    max_steps: int | None = None
    success_bonus: float = 1.0
    step_penalty: float = 0.0
    protocol: str | None = None
    attempts: int | None = None
    blank_token: int = PAD
    paintable: Sequence[int] | None = None
    fixed_cells: Callable[[np.ndarray], np.ndarray] | None = None
    extra_keys: tuple[str, ...] = ()
    distance_is_exact: bool = True
    could_be_solved: Callable[[np.ndarray], np.ndarray] | None = None
    default_attempts: int = 1
    names: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""  # where the puzzles came from, for messages
    render_cell: int = 0  # pixels per cell of rgb_array frames (0: the domain's default)
    allow_test_label_feedback: bool = False  # label feedback on test puzzles makes the env an oracle

    def __post_init__(self) -> None:
        _choice("action_mode", self.action_mode, ACTION_MODES)
        _choice("start", self.start, STARTS)
        _choice("split", self.split, SPLITS)
        if self.protocol is not None:
            _choice("protocol", self.protocol, PROTOCOLS)
        self.attempts = self.default_attempts if self.attempts is None else self.attempts
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, (int, np.integer)) or self.attempts < 1:
            raise ValueError(f"attempts must be an integer >= 1, got {self.attempts!r}")
        if self.attempts > self.default_attempts:
            raise ValueError(f"attempts={self.attempts} exceeds the {self.domain.name} protocol's "
                             f"{self.default_attempts} attempt(s) per test input: only fewer may be asked for")
        if self.protocol == "label_feedback" and self.allow_test_label_feedback is not True:
            raise ValueError("protocol='label_feedback' scores test puzzles against their labels at every step "
                             "(an oracle, no benchmark score): pass allow_test_label_feedback=True to ask for it "
                             "by name, or leave protocol=None (label feedback on the training split only)")
        for s in (self.train, self.test):
            if s.seq_len != self.train.seq_len or s.vocab_size != self.train.vocab_size:
                raise ValueError("train and test puzzle sets must share sequence length and vocabulary")
        self.vocab = int(self.train.vocab_size)
        self.seq_len = int(self.train.seq_len)
        if self.max_steps is None:
            # refine: the DIS schedule; edit: enough to rewrite every cell once.
            self.max_steps = REFINE_STEPS if self.action_mode == "refine" else self.seq_len
        if isinstance(self.render_cell, bool) or not isinstance(self.render_cell, int) or self.render_cell < 0:
            raise ValueError(f"render_cell must be an integer >= 1 (pixels per cell), got {self.render_cell!r}")
        if isinstance(self.max_steps, bool) or int(self.max_steps) < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        self.max_steps = int(self.max_steps)
        allowed = np.zeros(self.vocab, dtype=bool)
        allowed[list(range(1, self.vocab)) if self.paintable is None else list(self.paintable)] = True
        self.paintable_mask = allowed
        self.sets = {"train": self.train, "test": self.test}
        for split, puzzles in self.sets.items():
            names = self.names.get(split)
            if names is None:
                names = np.array([str(i) for i in range(len(puzzles))])
            if len(names) != len(puzzles):
                raise ValueError(f"{len(names)} names for {len(puzzles)} {split} puzzles")
            self.names[split] = np.asarray(names).astype(str)
        for split in SPLITS:  # label feedback needs a label: pairs with a hidden output only evaluate
            scorable = self.domain.scored_cells(self.sets[split].labels) > 0
            if not self.evaluated(split) and not scorable.all():
                keep = np.flatnonzero(scorable)
                self.sets[split] = self.sets[split].subset(keep)
                self.names[split] = self.names[split][keep]
        self.train, self.test = self.sets["train"], self.sets["test"]
        self.require_puzzles(self.split)
        self._name_index = {s: {n: i for i, n in enumerate(self.names[s])} for s in SPLITS}
        self.name_objects = {s: _readonly(self.names[s].astype(object)) for s in SPLITS}  # what infos carry
        self.scorable = {s: self.domain.scored_cells(self.sets[s].labels) > 0 for s in SPLITS}
        # An evaluated split's labels move into its scorer; the task keeps PAD in their place.
        self.scorers: dict[str, Scorer] = {}
        for split in SPLITS:
            if self.evaluated(split):
                puzzles = self.sets[split]
                self.scorers[split] = Scorer(self.domain, puzzles.inputs, puzzles.labels, int(self.attempts),
                                             [puzzles.extras[k] for k in self.extra_keys])
                self.sets[split] = dataclasses.replace(puzzles, labels=np.zeros_like(puzzles.labels))
        self.train, self.test = self.sets["train"], self.sets["test"]
        # Optional fast distance: per-puzzle candidate solutions computed once (N-Queens).
        self.candidates: dict[str, np.ndarray] | None = None
        if hasattr(self.domain, "solution_candidates"):
            widths = [self.domain.solution_candidates(s.inputs).shape[1] for s in (self.train, self.test)]
            self.candidates = {
                split: self.domain.solution_candidates(puzzles.inputs, width=max(widths))
                for split, puzzles in self.sets.items()
            }
        # What episodes read, as read-only views (counts as [N, 1], as the observation has them).
        self.view = {
            split: {"input": _readonly(p.inputs),
                    **{k: _readonly(p.extras[k].reshape(len(p), 1) if p.extras[k].ndim == 1 else p.extras[k])
                       for k in self.extra_keys}}
            for split, p in self.sets.items()
        }
        self._solutions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.observation_space = self._observation_space()
        if self.action_mode == "refine":
            self.action_space = spaces.MultiDiscrete(np.full(self.seq_len, self.vocab, dtype=np.int64))
        else:
            self.action_space = spaces.Discrete(self.seq_len * self.vocab)

    def _observation_space(self) -> spaces.Dict:
        tokens = spaces.Box(0, self.vocab - 1, shape=(self.seq_len,), dtype=np.uint8)
        space = {
            "input": tokens,
            "answer": tokens,
            "step": spaces.Box(0, self.max_steps, shape=(1,), dtype=np.int64),
        }
        for key in self.extra_keys:
            shape = self.train.extras[key].shape[1:] or (1,)
            if shape != (self.test.extras[key].shape[1:] or (1,)):
                raise ValueError(f"extras[{key!r}] differ in shape between train and test: pad them")
            dtype = self.train.extras[key].dtype
            if dtype == np.uint8:  # token grids
                space[key] = spaces.Box(0, self.vocab - 1, shape=shape, dtype=np.uint8)
            else:  # counts and sizes
                high = max(int(s.extras[key].max(initial=0)) for s in (self.train, self.test))
                space[key] = spaces.Box(0, max(high, 1), shape=shape, dtype=np.int64)
        return spaces.Dict(space)

    def evaluated(self, split: str) -> bool:
        """Whether episodes on ``split`` follow the evaluation protocol (no label feedback)."""
        return self.protocol == "evaluation" or (self.protocol is None and split == "test")

    def solutions(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each puzzle's answer set (`dis_rl.puzzles.answers`, the one home of "which answers are
        valid"): ``[N, K, L]`` uint8 token boards (N-Queens: every completion that keeps the givens,
        padded by repeating the first; otherwise the label), unscored cells `NOT_A_TOKEN`; ``[N]`` the
        unscored cells of each (a distance is a count of differing cells) and ``[N]`` how many of the
        K boards are distinct answers. Domains whose answers take a solver (Sudoku) keep the label
        here and let the verifier decide (``distance_is_exact``)."""
        if split not in self._solutions:
            puzzles = self.sets[split]
            sets = answer_sets(self.domain, puzzles.inputs, puzzles.labels,
                               unique=not getattr(self.domain, "cheap_answers", False))
            boards = np.where(sets.boards == PAD, NOT_A_TOKEN, sets.boards).astype(np.uint8)
            unscored = (sets.boards[:, 0] == PAD).sum(axis=1).astype(np.int64)
            self._solutions[split] = (boards, unscored, sets.counts)
        return self._solutions[split]

    def require_puzzles(self, split: str) -> None:
        """A clear error (not an IndexError at reset) when ``split`` holds no usable puzzle."""
        if len(self.sets[split]) == 0:
            where = self.source or self.sets[split].name or self.domain.name
            raise ValueError(
                f"the {split!r} split of {where} holds no usable puzzles (every file bad, only hidden "
                f"test outputs, or an empty file?): nothing to start an episode on"
            )

    def puzzle_names(self, split: str = "train") -> list[str]:
        """The ids accepted by ``reset(options={"puzzle": ...})`` for a split (an int index works too)."""
        return list(self.names[_choice("split", split, SPLITS)])

    def resolve(self, split: str, puzzle: Any) -> int:
        """Row index of ``puzzle`` (an index or an id string) in ``split``; clear error otherwise."""
        count = len(self.sets[split])
        if isinstance(puzzle, (int, np.integer)) and not isinstance(puzzle, bool):
            if not 0 <= puzzle < count:
                raise ValueError(f"puzzle index {puzzle} out of range for split {split!r} (0..{count - 1})")
            return int(puzzle)
        if isinstance(puzzle, str) and puzzle in self._name_index[split]:
            return self._name_index[split][puzzle]
        raise ValueError(
            f"unknown puzzle {puzzle!r} in split {split!r}: pass an index 0..{count - 1} or an id; "
            f"list the ids with env.unwrapped.task.puzzle_names({split!r})"
        )

    def describe_action_space(self) -> str:
        """The action space in words (the space's repr would list all 900 entries of an ARC canvas)."""
        if self.action_mode == "refine":
            return f"MultiDiscrete: {self.seq_len} tokens, each in 0..{self.vocab - 1}"
        return f"Discrete({self.seq_len * self.vocab}): cell * {self.vocab} + token"


def action_error(task: RefineTask, problem: str, batch: int | None) -> ValueError:
    shape = task.action_space.shape if batch is None else (batch, *task.action_space.shape)
    batch_of = "" if batch is None else f"a batch of {batch} actions of "
    return ValueError(f"{problem}; expected {batch_of}{task.describe_action_space()} (shape {shape})")


def check_actions(task: RefineTask, actions: Any, batch: int | None, tokens: bool = False) -> np.ndarray:
    """``actions`` as an integer array of shape ``(batch, *action_shape)`` (or the single action when
    ``batch`` is None), or a ValueError naming the expected space. Integer arrays in range pass
    through without a copy; ``tokens=True`` (refine actions) returns them as a new uint8 array,
    checked and converted in one pass."""
    shape = task.action_space.shape if batch is None else (batch, *task.action_space.shape)
    if type(actions) is np.ndarray:  # the common case: one check of shape, dtype and range
        array = actions
    elif isinstance(actions, np.ma.MaskedArray):  # asarray would drop the mask and use what lies under it
        raise action_error(task, "action is a masked array (masked entries are no tokens): pass plain integers",
                           batch)
    else:
        try:
            array = np.asarray(actions)
        except (TypeError, ValueError) as err:
            raise action_error(task, f"action is not an array: {err}", batch) from None
    if array.shape != shape:
        raise action_error(task, f"action has shape {array.shape}", batch)
    kind = array.dtype.kind
    if kind not in "iu":  # bool too: True/False are no tokens, though numpy would read them as 1/0
        raise action_error(task, f"action has dtype {array.dtype}, not an integer type", batch)
    high = task.vocab if task.action_mode == "refine" else task.seq_len * task.vocab
    if tokens and array.ndim == 2 and array.nbytes > LARGE_BYTES:
        return _tokens_blockwise(task, array, high, batch)
    if kind == "i" and array.dtype.itemsize == 8:  # the common case, inline: see `_out_of_range`
        bad = array.size and array.view(np.uint64).max() >= high
    else:
        bad = array.size and _out_of_range(array, high)
    if bad:
        raise action_error(task, f"action values must lie in [0, {high - 1}], got {array.min()}..{array.max()}", batch)
    return array.astype(np.uint8) if tokens else array


BLOCK_BYTES = 1 << 18  # the block of `_tokens_blockwise` (in the cache between its two reads)
LARGE_BYTES = 1 << 21  # a batch of actions larger than this is checked and converted block by block


def _out_of_range(array: np.ndarray, high: int) -> bool:
    if array.dtype.kind == "i" and array.dtype.itemsize == 8:
        # One pass: as unsigned, a negative value is huge, so the maximum alone checks both ends.
        return bool(array.view(np.uint64).max() >= high)
    if array.dtype.kind == "u":
        return bool(array.max() >= high)
    return bool(array.min() < 0 or array.max() >= high)


def _tokens_blockwise(task: RefineTask, array: np.ndarray, high: int, batch: int | None) -> np.ndarray:
    """The check and the uint8 conversion of a large batch in one pass over memory: rows in blocks
    that stay in the cache between the range check and the copy (an ARC batch of 1024 int64
    actions is 7.4 MB, read once instead of twice)."""
    out = np.empty(array.shape, dtype=np.uint8)
    step = max(1, BLOCK_BYTES // max(array[0].nbytes, 1))
    for start in range(0, len(array), step):
        block = array[start:start + step]
        if _out_of_range(block, high):
            raise action_error(task, f"action values must lie in [0, {high - 1}], got {array.min()}..{array.max()}",
                               batch)
        np.copyto(out[start:start + step], block, casting="unsafe")
    return out


def pick(task: RefineTask, options: dict[str, Any] | None) -> tuple[str, int | None]:
    """The split and puzzle of a new episode from ``options``; puzzle None means draw one."""
    if not options:  # the common case (every autoreset): a uniform draw
        return task.split, None
    unknown = set(options) - {"split", "puzzle", "reset_mask"}
    if unknown:
        raise ValueError(f"unknown reset options {sorted(unknown)}; known: 'split', 'puzzle'")
    split = _choice("options['split']", options.get("split", task.split), SPLITS)
    task.require_puzzles(split)
    puzzle = options.get("puzzle")
    return split, None if puzzle is None else task.resolve(split, puzzle)


class PuzzleDraws:
    """Uniform puzzle draws for ``num`` episode streams, each from its own generator.

    A stream takes `BLOCK` uniforms from its generator at a time and uses one per drawn puzzle,
    so thousands of autoresets cost a few generator calls instead of one each. Scalar and vector
    envs draw the same way, so a sub-env still equals a scalar env seeded alike.
    """

    BLOCK = 64

    def __init__(self, num: int) -> None:
        self.buffer = np.zeros((num, self.BLOCK))
        self.position = np.full(num, self.BLOCK, dtype=np.int64)

    def invalidate(self, rows: np.ndarray | slice) -> None:
        """Forget buffered draws (the rows' generators were re-seeded)."""
        self.position[rows] = self.BLOCK

    def draw(self, rows: np.ndarray, rngs: Sequence[np.random.Generator], sizes: np.ndarray | int) -> np.ndarray:
        """One index in ``[0, sizes[j])`` for each row ``rows[j]`` (one size for all, or one each)."""
        for i in rows[self.position[rows] >= self.BLOCK]:
            self.buffer[i] = rngs[i].random(self.BLOCK)
            self.position[i] = 0
        u = self.buffer[rows, self.position[rows]]
        self.position[rows] += 1
        return np.minimum((u * sizes).astype(np.int64), sizes - 1)

    def draw_one(self, row: int, rng: np.random.Generator, size: int) -> int:
        """`draw` for one row with its generator and size (the same index, without array calls)."""
        if self.position[row] >= self.BLOCK:
            self.buffer[row] = rng.random(self.BLOCK)
            self.position[row] = 0
        u = float(self.buffer[row, self.position[row]])
        self.position[row] += 1
        return min(int(u * size), size - 1)


@lru_cache(maxsize=8)
def _cached_sets(key: str, include_hidden: bool) -> tuple[PuzzleSet, PuzzleSet]:
    from dis_rl.config import DataConfig
    from dis_rl.data import puzzle_sets

    return puzzle_sets(DataConfig(**json.loads(key)), include_hidden=include_hidden)


def puzzle_sets_for(
    domain: str, data: Any, own: dict[str, Any], defaults: dict[str, Any], include_hidden: bool = False
) -> tuple[PuzzleSet, PuzzleSet]:
    """An env's train/test puzzles, built by `dis_rl.data.puzzle_sets`, the path the trainer
    takes too, so that an env and a run with the same data config see the same puzzles.

    ``data``: a `DataConfig`, its dict (e.g. a checkpoint's ``config["data"]``) or None; then the
    env's own puzzle arguments ``own`` (as data keys) describe the data. Giving both is an error
    unless ``own`` equals the env's ``defaults``. ``include_hidden``: keep test pairs whose output
    is hidden (ARC; answered under the evaluation protocol, never scored)."""
    from dis_rl.config import DataConfig

    if data is None:
        fields = {"domain": domain, **own}
    else:
        changed = sorted(k for k in own if own[k] != defaults[k])
        if changed:
            raise ValueError(f"give the puzzles either as data=... or as arguments, not both (also given: {changed})")
        fields = dataclasses.asdict(data) if isinstance(data, DataConfig) else dict(data)
        if fields.setdefault("domain", domain) != domain:
            raise ValueError(f"data.domain is {fields['domain']!r}, but this is a {domain} env")
    cfg = DataConfig(**fields)  # unknown keys: TypeError naming them
    cfg.validate()
    return _cached_sets(json.dumps(dataclasses.asdict(cfg), sort_keys=True), include_hidden)
