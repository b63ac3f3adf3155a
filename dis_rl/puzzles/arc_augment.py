"""ARC training data of a run: the train/test splits with the leakage guard, the cropped canvas
(`CropSpec`), the puzzle-embedding size and a source's statistics; and, as one import path, the names
of `arc_source` (augmentation plans and the on-the-fly example source).

Splits (as in the reference): every demonstration pair (of training *and* evaluation puzzles)
and the training puzzles' test pairs are training examples; the evaluation puzzles' test pairs
are the test set, run on every augmentation of their puzzle and voted (``arc_vote``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dis_rl.puzzles.arc import CANVAS, ARCTask, canvas_side, load_tasks, source_title

# The augmentation names keep their import path `dis_rl.puzzles.arc_augment`.
from dis_rl.puzzles.arc_source import (  # noqa: F401
    DIHEDRAL_INVERSE,
    NUM_DIHEDRAL,
    ARCAugmentedSource,
    AugmentationPlan,
    apply_augmentation,
    dihedral,
    invert_augmentation,
    plan_augmentations,
    render_tokens,
)


class LeakageError(ValueError):
    """Training data contains the evaluation tasks."""


def task_fingerprint(task: ARCTask) -> bytes:
    return b"|".join(bytes(g.shape) + g.tobytes() for g in task.grids())


def duplicate_tasks(train_tasks: Sequence[ARCTask], eval_tasks: Sequence[ARCTask]) -> list[str]:
    """Evaluation tasks whose whole content equals a training task under another id (ARC-AGI-1
    itself has one: evaluation 070dd51e = training 40853293; the reference trains on it)."""
    prints = {task_fingerprint(t) for t in train_tasks}
    return [t.task_id for t in eval_tasks if task_fingerprint(t) in prints]


def check_leakage(train_tasks: Sequence[ARCTask], eval_tasks: Sequence[ARCTask], what: str) -> None:
    """Raise `LeakageError` if evaluation tasks are training tasks (the same task id)."""
    ids = {t.task_id for t in train_tasks}
    shared = [t.task_id for t in eval_tasks if t.task_id in ids]
    if shared:
        raise LeakageError(
            f"{what}: {len(shared)} of the {len(eval_tasks)} evaluation tasks are also training tasks "
            f"(e.g. {', '.join(shared[:5])}). Their test outputs would be trained on, so the score would "
            "measure memorisation, not generalisation (ARC-AGI-2's training set contains 376 ARC-AGI-1 "
            "evaluation tasks). Evaluate ARC-AGI-2 training runs on ARC-AGI-2 evaluation, or pass "
            "force=True to do it anyway."
        )


@dataclass(frozen=True)
class CropSpec:
    """How examples are cut from the canvas (``data.canvas``, ``data.crop``, ``data.test_crop``,
    ``data.crop_step``). ``canvas="full"``: every example is the 30x30 canvas. ``"cropped"``: a
    training example is the window that holds its task's largest known grid (``crop="task"``: every
    example of a task has the same window, as at test time) or its own pair (``"pair"``: smaller);
    a test pair's output is unknown, so its window holds the task's largest demonstration grid or
    its test input (``test_crop="task"``; ``"full"``: the whole canvas). Sides are rounded up to a
    multiple of `step` (fewer distinct batch shapes)."""

    canvas: str = "full"
    crop: str = "task"
    test_crop: str = "task"
    step: int = 1

    def __post_init__(self) -> None:
        for name, allowed in (("canvas", ("full", "cropped")), ("crop", ("task", "pair")),
                              ("test_crop", ("task", "full"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"data.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not 1 <= self.step <= CANVAS:
            raise ValueError(f"data.crop_step must lie in 1..{CANVAS}, got {self.step}")

    def task_side(self, task: ARCTask, trains_on_test: bool) -> int:
        """The window of a task: its demonstrations, test inputs and (when they are trained on,
        i.e. known to the run) test outputs."""
        shapes = [g.shape for x, y in task.train for g in (x, y)] + [x.shape for x, _ in task.test]
        if trains_on_test:
            shapes += [y.shape for _, y in task.test if y is not None]
        return canvas_side(shapes, self.step)

    def sides(self, tasks: Sequence[ARCTask], pairs: Sequence[Sequence[tuple]], test: bool,
              trains_on_test: Sequence[bool]) -> list[int] | None:
        """One side per example of `pairs` (None: the full canvas)."""
        if self.canvas == "full":
            return None
        out = []
        for task, task_pairs, known in zip(tasks, pairs, trains_on_test):
            side = self.task_side(task, known)
            for x, y in task_pairs:
                if test:
                    out.append(CANVAS if self.test_crop == "full" else side)
                elif self.crop == "pair":
                    out.append(canvas_side([x.shape, y.shape], self.step))
                else:
                    out.append(side)
        return out


@dataclass
class ARCSplits:
    """All puzzles of a run (training puzzles, then evaluation puzzles), one plan, two sources."""

    tasks: list[ARCTask]
    is_eval: np.ndarray  # [P] bool
    plan: AugmentationPlan
    train: ARCAugmentedSource
    test: ARCAugmentedSource
    duplicates: list[str]  # evaluation tasks identical in content to a training task
    crop: CropSpec = CropSpec()

    @property
    def num_puzzle_ids(self) -> int:
        return self.plan.num_puzzle_ids

    def describe(self, embedding_width: int) -> str:
        return (
            f"{len(self.tasks)} puzzles ({int(self.is_eval.sum())} evaluation), "
            f"{self.train.num_examples} training examples x augmentations = {len(self.train):,}, "
            f"{self.test.num_examples} test pairs x augmentations = {len(self.test):,}\n"
            + describe_embedding_table(self.num_puzzle_ids, embedding_width)
            + (
                f"\nnote: evaluation tasks identical to training tasks: {self.duplicates}"
                if self.duplicates
                else ""
            )
        )


def build_arc_splits(
    train: Sequence[str | Path] = ("arc1",),
    evaluate: str | Path = "arc1",
    num_aug: int = 1000,
    seed: int = 0,
    translate: bool = True,
    force: bool = False,
    strict: bool = False,
    crop: CropSpec = CropSpec(),
) -> ARCSplits:
    """Training and test sources. `train` lists sources whose *training* tasks are training puzzles
    (``"arc1"``, ``"arc2"``) or directories whose tasks all are (e.g. ConceptARC); `evaluate` is the
    source whose evaluation tasks are scored (their demonstrations are trained on)."""
    train_tasks = [t for src in train for t in load_tasks(src, "train", strict=strict)]
    eval_tasks = load_tasks(evaluate, "test", strict=strict)
    if not force:
        check_leakage(
            train_tasks,
            eval_tasks,
            f"training on {[source_title(s) for s in train]}, evaluating on {source_title(evaluate)}",
        )
    return make_arc_splits(train_tasks, eval_tasks, num_aug=num_aug, seed=seed, translate=translate, crop=crop)


def training_pairs(tasks: Sequence[ARCTask], is_eval: Sequence[bool]) -> list[list[tuple]]:
    """The training pairs of each task: its demonstrations, plus its test pairs with a known output
    unless it is an evaluation task (whose test pairs are the test set)."""
    return [list(t.train) + ([] if e else [(x, y) for x, y in t.test if y is not None])
            for t, e in zip(tasks, is_eval)]


def make_arc_splits(
    train_tasks: Sequence[ARCTask],
    eval_tasks: Sequence[ARCTask],
    num_aug: int = 1000,
    seed: int = 0,
    translate: bool = True,
    crop: CropSpec = CropSpec(),
) -> ARCSplits:
    """The splits of already loaded tasks (no leakage check: `build_arc_splits` does that). With no
    evaluation tasks the test source is empty (a memorisation run scores its training examples)."""
    tasks = list(train_tasks) + list(eval_tasks)
    is_eval = np.arange(len(tasks)) >= len(train_tasks)
    plan = plan_augmentations(tasks, num_aug, seed)
    train_pairs = training_pairs(tasks, is_eval)
    test_pairs = [list(t.test) if e else [] for t, e in zip(tasks, is_eval)]
    known = [not e for e in is_eval]
    return ARCSplits(
        tasks=tasks,
        is_eval=is_eval,
        plan=plan,
        train=ARCAugmentedSource(tasks, plan, train_pairs, translate=translate, seed=seed,
                                 sides=crop.sides(tasks, train_pairs, False, known)),
        test=ARCAugmentedSource(tasks, plan, test_pairs, translate=False, seed=seed,
                                sides=crop.sides(tasks, test_pairs, True, known)),
        duplicates=duplicate_tasks(train_tasks, eval_tasks),
        crop=crop,
    )


def embedding_table_bytes(num_ids: int, width: int, bytes_per_value: int = 4) -> int:
    """Size of a puzzle-embedding table: rows x width x bytes per value (fp32: 4)."""
    return num_ids * width * bytes_per_value


def describe_embedding_table(num_ids: int, width: int, bytes_per_value: int = 4) -> str:
    size = embedding_table_bytes(num_ids, width, bytes_per_value)
    return (
        f"puzzle-embedding table: {num_ids:,} ids x {width} x {bytes_per_value} B = {size / 2**20:,.1f} MiB"
    )


# --------------------------------------------------------------------------------------------
# Statistics


def data_stats(source: str | Path, num_aug: int = 1000, seed: int = 0) -> str:
    """Tasks, pairs, a grid-size histogram and augmentation counts of a source, as text."""
    lines = [f"ARC data: {source_title(source)}"]
    for split in ("train", "test"):
        tasks = load_tasks(source, split)
        if not tasks:  # every file was bad: the caller prints which and why
            lines.append(f"{split}: no valid tasks")
            continue
        demos = sum(len(t.train) for t in tasks)
        tests = sum(len(t.test) for t in tasks)
        hidden = sum(y is None for t in tasks for _, y in t.test)
        sizes = np.array([max(g.shape) for t in tasks for g in t.grids()], dtype=np.int64)
        hist = np.histogram(sizes, bins=[1, 6, 11, 16, 21, 26, 31])[0]
        plan = plan_augmentations(tasks, num_aug, seed)
        counts = plan.counts()
        lines += [
            f"{split}: {len(tasks)} tasks, {demos} demonstration pairs, {tests} test pairs ({hidden} hidden)",
            "  grid size (max side): "
            + ", ".join(f"{lo}-{lo + 4}: {n}" for lo, n in zip(range(1, 31, 5), hist)),
            f"  augmentations per task (identity + up to {num_aug}): min {counts.min()}, "
            f"median {int(np.median(counts))}, max {counts.max()}, total {counts.sum():,}; "
            f"augmented pairs {int(((demos + tests) / max(len(tasks), 1)) * counts.mean() * len(tasks)):,}",
        ]
    return "\n".join(lines)
