"""From a data config to puzzle sources: the training `ExampleSource` and the test `PuzzleSet`.

The one place that maps ``data.domain`` to a puzzle-layer loader; trainers, evaluation and the
CLI call `build_data` and never a loader directly. ARC and Sudoku train on augmented copies
computed on the fly; their test sets are the un-augmented test pairs (ARC's voting over
augmentations is `dis_rl.vote`).
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np

from dis_rl.config import ConfigError, DataConfig
from dis_rl.puzzles import nqueens
from dis_rl.puzzles.base import PAD, ExampleSource, PuzzleSet


def build_data(cfg: DataConfig) -> tuple[ExampleSource, PuzzleSet]:
    """The trainer's view of a data config: the (augmented, on the fly) training source and the
    test set. Its puzzles are those of `puzzle_sets` for the same config."""
    if cfg.domain == "nqueens":
        return puzzle_sets(cfg)
    if cfg.domain == "arc":
        splits = build_arc(cfg)
        return splits.train, arc_test_set(splits)
    if cfg.domain == "sudoku":
        return build_sudoku(cfg)
    raise ConfigError(f"data.domain {cfg.domain!r} is not supported; expected one of ['nqueens', 'sudoku', 'arc']")


def puzzle_sets(cfg: DataConfig, include_hidden: bool = False) -> tuple[PuzzleSet, PuzzleSet]:
    """The training and test puzzles of a data config, without on-the-fly augmentation: what the
    envs (`gym.make(..., data=cfg)`), the agents and the RL arms episode over. N-Queens and Sudoku:
    the trainer's base puzzles (N-Queens' dihedral images included when ``augment``) and its test
    set. ARC: one episode per test pair, with the task's demonstrations in ``extras``; training
    tasks of ``sources``/``arc_dirs``/``tasks``, test tasks of ``evaluate`` (as `build_arc`);
    ``include_hidden`` keeps ARC test pairs whose output is hidden (all-PAD label: answered, never
    scored), for the envs' evaluation protocol."""
    if cfg.domain == "nqueens":
        return nqueens.generate(
            num_train=cfg.num_train, num_test=cfg.num_test, seed=cfg.seed, augment=cfg.augment,
            min_queens=cfg.min_queens, max_queens=cfg.max_queens,
        )
    if cfg.domain == "sudoku":
        return _sudoku_sets(cfg)
    if cfg.domain == "arc":
        from dis_rl.puzzles.arc import episodes_from_tasks

        train_tasks, test_tasks = arc_task_split(cfg, leakage_check=False)
        train = episodes_from_tasks(train_tasks, name="arc-train")
        if not test_tasks:  # evaluate: train, as `arc_test_set`: score the training tasks (memorisation)
            return train, train
        return train, episodes_from_tasks(test_tasks, include_hidden, name=f"arc-{Path(str(cfg.evaluate)).name}-test")
    raise ConfigError(f"data.domain {cfg.domain!r} is not supported; expected one of ['nqueens', 'sudoku', 'arc']")


def unique_answers(cfg: DataConfig) -> bool:
    """Whether every puzzle of a data config has one answer, so its stored labels are its answer
    sets (`dis_rl.puzzles.answers`) and no solver needs to look for others: ARC, and Sudoku under
    the uniqueness rule (generated puzzles are unique by construction). N-Queens boards often have
    several completions."""
    if cfg.domain == "arc":
        return True
    return cfg.domain == "sudoku" and cfg.multiple_solutions == "reject"


def describe_data(train: ExampleSource, test: PuzzleSet, embedding_width: int) -> str:
    """One start-up line: example counts and the puzzle-embedding table's size (rows x width x 4 B)."""
    from dis_rl.puzzles.arc_augment import describe_embedding_table

    ids = train.num_puzzle_ids
    table = describe_embedding_table(ids, embedding_width) if ids > 1 else "no puzzle-embedding table"
    return f"data: {len(train):,} training examples, {len(test):,} test puzzles | {table}"


# --------------------------------------------------------------------------------------------
# ARC


def _arc_train_tasks(cfg: DataConfig):
    from dis_rl.puzzles.arc import load_tasks
    from dis_rl.puzzles.arc_augment import task_fingerprint

    tasks, seen, repeats = [], {}, []
    for src in [*cfg.sources, *cfg.arc_dirs]:
        if src not in ("arc1", "arc2") and not Path(src).is_dir():
            raise FileNotFoundError(
                f"data ARC source {src!r} is neither 'arc1', 'arc2' nor an existing directory of task files"
            )
        for task in load_tasks(src, "train", strict=cfg.strict):
            # One id, one task: a later source's copy would silently replace the first (data.tasks)
            # or train twice on it. The same content is kept once; other content is an error.
            if task.task_id in seen:
                first, where = seen[task.task_id]
                if task_fingerprint(first) != task_fingerprint(task):
                    raise ConfigError(f"task id {task.task_id!r} is in {where!r} and in {src!r} with different "
                                      f"content: rename one of the files or drop one source")
                repeats.append(task.task_id)
                continue
            seen[task.task_id] = (task, src)
            tasks.append(task)
    if repeats:
        shown = ", ".join(repeats[:5]) + (f" and {len(repeats) - 5} more" if len(repeats) > 5 else "")
        warnings.warn(f"data.sources: {len(repeats)} task(s) appear in more than one source with the same content "
                      f"({shown}); each is trained on once", stacklevel=2)
    if cfg.tasks:
        by_id = {t.task_id: t for t in tasks}
        missing = [tid for tid in cfg.tasks if tid not in by_id]
        if missing:
            more = f" and {len(missing) - 10:,} more" if len(missing) > 10 else ""
            shown = ", ".join(map(repr, missing[:10])) + more
            raise ConfigError(f"data.tasks: {shown} are not training tasks of {cfg.sources + cfg.arc_dirs}")
        tasks = [by_id[tid] for tid in cfg.tasks]
    return _fitting(tasks, cfg.max_grid_side)


def _fitting(tasks: list, side: int) -> list:
    """The tasks whose every grid, test outputs included, is at most ``side x side`` (all when 0):
    ``data.max_grid_side``, the same rule for training and evaluation tasks."""
    return [t for t in tasks if all(max(g.shape) <= side for g in t.grids())] if side else tasks


def arc_task_split(cfg: DataConfig, leakage_check: bool = True) -> tuple[list, list]:
    """Training tasks and evaluation tasks of an ARC data config: ``evaluate: arc1|arc2|DIR`` takes
    that source's evaluation tasks (leakage-checked for training, unless ``data.force``; the envs'
    episodes are not trained on and skip it); ``holdout`` moves the listed training tasks to the
    evaluation side (their demonstrations are still trained on, their test pairs scored); ``train``
    has none."""
    from dis_rl.puzzles.arc import load_tasks, source_title
    from dis_rl.puzzles.arc_augment import check_leakage

    train_tasks = _arc_train_tasks(cfg)
    eval_tasks = []
    if cfg.evaluate == "holdout":
        held = set(cfg.holdout)
        missing = sorted(held - {t.task_id for t in train_tasks})
        if missing:
            raise ConfigError(f"data.holdout: {missing} are not among the training tasks of this config")
        return [t for t in train_tasks if t.task_id not in held], [t for t in train_tasks if t.task_id in held]
    if cfg.evaluate != "train":
        if cfg.evaluate not in ("arc1", "arc2") and not Path(cfg.evaluate).is_dir():
            raise FileNotFoundError(
                f"data.evaluate {cfg.evaluate!r} is neither 'arc1', 'arc2', 'train' nor an existing directory"
            )
        eval_tasks = _fitting(load_tasks(cfg.evaluate, "test", strict=cfg.strict), cfg.max_grid_side)
        if leakage_check and not cfg.force:
            what = f"training on {[source_title(s) for s in cfg.sources + cfg.arc_dirs]}, evaluating on "
            check_leakage(train_tasks, eval_tasks, what + source_title(cfg.evaluate) + " (data.force=true)")
    return train_tasks, eval_tasks


def build_arc(cfg: DataConfig):
    """The `ARCSplits` of an ARC data config (training and evaluation puzzles, one plan)."""
    from dis_rl.puzzles.arc_augment import make_arc_splits

    train_tasks, eval_tasks = arc_task_split(cfg)
    num_aug = cfg.num_aug if cfg.augment else 0
    return make_arc_splits(train_tasks, eval_tasks, num_aug=num_aug, seed=cfg.seed, translate=cfg.translate,
                           crop=arc_crop(cfg))


def arc_crop(cfg: DataConfig):
    """The `CropSpec` of an ARC data config (``data.canvas``, ``crop``, ``test_crop``, ``crop_step``)."""
    from dis_rl.puzzles.arc_augment import CropSpec

    return CropSpec(cfg.canvas, cfg.crop, cfg.test_crop, cfg.crop_step)  # validated with the config


def arc_test_set(splits) -> PuzzleSet:
    """Un-augmented, untranslated test pairs with a known output (exact match by the verifier);
    with no evaluation tasks, the training examples (a memorisation check). Always on the full
    canvas; on a cropped run ``extras["window"]`` holds the side of each example's window, which
    evaluation runs the model on (`dis_rl.puzzles.base.windowed_batches`)."""
    if not splits.is_eval.any():
        return arc_train_examples(splits)
    return _unaugmented_set(splits.test, "arc-test", splits.num_puzzle_ids)


def arc_train_examples(splits, name: str = "arc-train-examples") -> PuzzleSet:
    """Every training example un-augmented and untranslated (demonstrations, and the training
    tasks' test pairs): the training-example accuracy of a run."""
    from dis_rl.puzzles.arc_augment import ARCAugmentedSource, training_pairs

    pairs = training_pairs(splits.tasks, splits.is_eval)
    sides = splits.crop.sides(splits.tasks, pairs, False, [not e for e in splits.is_eval])
    source = ARCAugmentedSource(splits.tasks, splits.plan, pairs, translate=False, seed=splits.train.seed,
                                sides=sides)
    return _unaugmented_set(source, name, splits.num_puzzle_ids)


def _unaugmented_set(source, name: str, num_puzzle_ids: int) -> PuzzleSet:
    index = source.unaugmented()
    rows = source.get(index, crop=False)
    keep = (rows["labels"] != PAD).any(axis=1)  # hidden test outputs are predicted, never scored
    extras = {"window": source.example_side[source.locate(index)[0]][keep]} if source.cropped else {}
    return PuzzleSet(
        domain="arc",
        inputs=rows["inputs"][keep].astype(np.uint8),
        labels=rows["labels"][keep].astype(np.uint8),
        puzzle_ids=rows["puzzle_ids"][keep],
        vocab_size=source.vocab_size,
        grid_shape=source.grid_shape,
        num_puzzle_ids=num_puzzle_ids,
        name=name,
        extras=extras,
    )


# --------------------------------------------------------------------------------------------
# Sudoku


def build_sudoku(cfg: DataConfig) -> tuple[ExampleSource, PuzzleSet]:
    from dis_rl.puzzles.sudoku import SudokuAugmentedSource

    train, test = _sudoku_sets(cfg)
    source = SudokuAugmentedSource(train, num_aug=cfg.num_aug if cfg.augment else 0, seed=cfg.seed)
    return source, test


def _sudoku_sets(cfg: DataConfig) -> tuple[PuzzleSet, PuzzleSet]:
    train, test = _sudoku_csv(cfg) if cfg.csv_path else _sudoku_generated(cfg)
    if len(train) == 0 or len(test) == 0:
        raise ConfigError(f"Sudoku data has {len(train)} training and {len(test)} test puzzles; both must be > 0")
    return train, test


def _load_csv(path: str, strict: bool) -> PuzzleSet:
    """Every well-formed row (bad ones are skipped with a warning); uniqueness is checked later, on
    the rows a run uses only (it costs milliseconds a row and Sudoku-Extreme has millions)."""
    from dis_rl.puzzles.sudoku import load_csv

    if not Path(path).is_file():
        raise FileNotFoundError(f"Sudoku CSV {path} does not exist")
    return load_csv(path, strict=strict, multiple_solutions="keep")[0]


def _unique_only(puzzles: PuzzleSet, path: str, cfg: DataConfig) -> PuzzleSet:
    """The uniqueness rule (data.multiple_solutions) applied to the rows a run uses."""
    from dis_rl.puzzles.load_report import LoadReport
    from dis_rl.puzzles.sudoku import drop_multiple_solutions

    if cfg.multiple_solutions == "keep":
        return puzzles
    report = LoadReport(unit="rows", read=len(puzzles))
    kept = drop_multiple_solutions(puzzles, path, cfg.strict, report)
    report.loaded = len(kept)
    report.warn(path)
    return kept


def _sudoku_csv(cfg: DataConfig) -> tuple[PuzzleSet, PuzzleSet]:
    rows = _load_csv(cfg.csv_path, cfg.strict)
    if cfg.test_csv_path:
        test = _load_csv(cfg.test_csv_path, cfg.strict)
        test = test.subset(np.arange(min(cfg.num_test, len(test)))) if cfg.num_test else test
        test = _unique_only(test, cfg.test_csv_path, cfg)
        train_rows = np.arange(len(rows))
    else:
        if cfg.num_test >= len(rows):
            raise ConfigError(
                f"{cfg.csv_path}: {len(rows)} valid rows cannot hold data.num_test={cfg.num_test} test rows"
            )
        test = rows.subset(np.arange(len(rows) - cfg.num_test, len(rows)), name=rows.name + "-test")
        test = _unique_only(test, cfg.csv_path, cfg)
        train_rows = np.arange(len(rows) - cfg.num_test)
    if cfg.num_train:
        train_rows = train_rows[: cfg.num_train]
    return _unique_only(rows.subset(train_rows), cfg.csv_path, cfg), test


def _read_generated_cache(path: Path, total: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The cached arrays, or None (with a warning naming the file) when it is unreadable or does
    not hold ``total`` puzzles: the caller regenerates and replaces it."""
    import zipfile

    try:
        if not zipfile.is_zipfile(path):  # np.load would try it as a pickle and advise unpickling it
            raise ValueError("not a NumPy .npz archive")
        with np.load(path, allow_pickle=False) as data:
            questions, answers, rating = data["questions"], data["answers"], data["rating"]
        if questions.shape != (total, 81) or answers.shape != (total, 81) or rating.shape != (total,):
            raise ValueError(f"arrays of shape {questions.shape}, {answers.shape}, {rating.shape}, "
                             f"expected ({total}, 81), ({total}, 81), ({total},)")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        warnings.warn(f"Sudoku generator cache {path} is corrupt ({err}); regenerating it", stacklevel=3)
        return None
    return questions, answers, rating


CACHE_ENV = "DIS_RL_CACHE"


def sudoku_cache_dir(cfg: DataConfig) -> Path:
    """Where generated Sudoku sets are cached: ``data.cache_dir``, else the ``DIS_RL_CACHE``
    environment variable, else ``~/.cache/dis-rl``."""
    import os

    return Path(cfg.cache_dir or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "dis-rl").expanduser()


def _sudoku_generated(cfg: DataConfig) -> tuple[PuzzleSet, PuzzleSet]:
    """Generated hard puzzles, cached on disk by their parameters (1000 take minutes to make)."""
    from dis_rl.puzzles.sudoku import generate_with_report, make_puzzle_set

    total = cfg.num_train + cfg.num_test
    key = f"{total}-{cfg.seed}-{cfg.keep_fraction}"
    difficulty = {"target_rating": cfg.target_rating, "harden_steps": cfg.harden_steps, "blanks": cfg.blanks}
    if cfg.target_rating or cfg.blanks:  # plain sets keep their old cache names
        key += f"-r{cfg.target_rating}-h{cfg.harden_steps}-b{cfg.blanks}"
    cache = sudoku_cache_dir(cfg)
    path = cache / f"sudoku-gen-{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"
    cached = _read_generated_cache(path, total) if path.is_file() else None
    if cached is not None:
        questions, answers, rating = cached
        print(f"Sudoku puzzles: {total:,} read from the cache {path}", file=sys.stderr)
    else:
        kind = f"{cfg.blanks} blanks" if cfg.blanks else "minimal"
        if cfg.target_rating:
            kind += f", hill-climbed toward rating {cfg.target_rating}"
        print(f"generating {total:,} Sudoku puzzles ({kind}) -> cache {path} ...", file=sys.stderr, flush=True)
        puzzles, report = generate_with_report(total, seed=cfg.seed, keep_fraction=cfg.keep_fraction,
                                               workers=cfg.workers, progress=sys.stderr.isatty(), **difficulty)
        print(f"Sudoku generator: {report}", file=sys.stderr)
        questions = puzzles.inputs.astype(np.int64) - 1
        answers = puzzles.labels.astype(np.int64) - 1
        rating = puzzles.extras["rating"]
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, questions=questions, answers=answers, rating=rating)
        tmp.replace(path)
    # Interleave so both splits span the rating range; the split is fixed by the seed.
    order = np.random.default_rng([cfg.seed, 7]).permutation(total)
    tr, te = order[: cfg.num_train], order[cfg.num_train :]
    name = f"sudoku-generated-{cfg.seed}"
    return (
        make_puzzle_set(questions[tr], answers[tr], name, rating=rating[tr]),
        make_puzzle_set(questions[te], answers[te], name + "-test", rating=rating[te]),
    )
