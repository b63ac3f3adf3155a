"""The ``dis-rl`` command line: thin wrappers that parse, load a config and call a library
function. Every command is also a Python function (see each handler's callee)."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from pathlib import Path

from dis_rl.cli_parser import build_parser, parse_command_line  # noqa: F401  (build_parser: the public parser)

DEMO_CONFIG = "nqueens_dis"  # a shipped config (dis_rl.resources)


# Errors of a file system that refuses writes: read-only, no permission, disk or quota full.
WRITE_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT)


def _cmd_train(args: argparse.Namespace) -> int:
    from dis_rl.config import load_config

    extra = [f"data.arc_dirs={list(args.arc_dir)}"] if getattr(args, "arc_dir", None) else []
    extra += ["data.strict=true"] if getattr(args, "strict", False) else []
    cfg = load_config(args.config, args.overrides + extra)
    run_dir = args.run_dir if args.run_dir is not None else f"{cfg.out_dir}/{cfg.name}"
    try:
        return _train_and_report(args, cfg)
    except KeyboardInterrupt as err:  # before or after the loop (the loop checkpoints and says so itself)
        from dis_rl.runs import interrupted_advice
        from dis_rl.train import TrainingInterrupted

        if isinstance(err, TrainingInterrupted):
            raise
        name = err.args[0] if err.args else "SIGINT"
        raise TrainingInterrupted(f"interrupted by {name}; {interrupted_advice(run_dir)}", name) from None
    except OSError as err:
        from dis_rl.runs import RunFolderError, interrupted_advice, unwritable

        if err.errno not in WRITE_ERRNOS:
            raise
        raise RunFolderError(f"{unwritable(Path(run_dir), err)}; then {interrupted_advice(run_dir)}") from None


def _train_and_report(args: argparse.Namespace, cfg) -> int:
    from dis_rl.data import describe_data
    from dis_rl.distributed import shutdown_distributed
    from dis_rl.evaluate import format_table
    from dis_rl.plots import plot_run
    from dis_rl.train import Trainer

    try:
        named = tuple(o.split("=", 1)[0].strip() for o in args.overrides)  # what a resume may change
        trainer = Trainer(cfg, run_dir=args.run_dir, progress=not args.no_progress, resume=args.resume,
                          overwrite=args.overwrite, resume_named=named)
        main = trainer.dist.is_main  # under torchrun only rank 0 reports
        if main:
            print(f"run folder: {trainer.run_dir}  |  model: {trainer.model.num_parameters():,} parameters "
                  f"|  device: {trainer.device} x {trainer.dist.world_size} process(es)  "
                  f"|  train examples: {len(trainer.train_source):,}")
            print(describe_data(trainer.train_source, trainer.test_set, cfg.model.puzzle_emb_width or cfg.model.hidden))
            if trainer.data_warnings:
                print(f"data: {len(trainer.data_warnings)} source(s) had bad files or rows, skipped (listed above "
                      f"and in {trainer.run_dir / 'data_warnings.txt'})")
        result = trainer.run()
    finally:
        shutdown_distributed()
    if main:
        try:
            figures = ", ".join(map(str, plot_run(trainer.run_dir)))
        except OSError as err:  # disk full after the final checkpoint: the run itself is complete
            figures = f"not written ({err.strerror or err}: {err.filename or trainer.run_dir})"
        print(format_table(result))
        print(f"TensorBoard: tensorboard --logdir {trainer.run_dir / 'tb'}   figures: {figures}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from dis_rl.commands import evaluate_checkpoint
    from dis_rl.evaluate import format_table

    if args.vote:  # before any work, whichever voting runs: the output is never one of the inputs
        from dis_rl.checkpoint import resolve_checkpoint
        from dis_rl.runs import check_output, checkpoint_inputs

        check_output(args.submission, checkpoint_inputs(args.checkpoint, resolve_checkpoint(args.checkpoint)),
                     "--submission")
    if args.vote or args.samples:
        from dis_rl.checkpoint import read_meta, resolve_checkpoint
        from dis_rl.commands import rule_vote_checkpoint
        from dis_rl.vote import RULE_DOMAINS, format_rule_vote

        if read_meta(resolve_checkpoint(args.checkpoint))["config"]["data"]["domain"] in RULE_DOMAINS:
            result = rule_vote_checkpoint(args.checkpoint, views=max(args.vote, 1), samples=args.samples,
                                          temperature=args.temperature, device=args.device, split=args.split)
            print(format_rule_vote(result))
            return 0
    if args.vote:
        from dis_rl.commands import vote_checkpoint

        result = vote_checkpoint(args.checkpoint, max_aug=args.vote, submission_path=args.submission,
                                 device=args.device, progress=not args.no_progress)
        print(f"voting over {args.vote} augmentations: {result}\nsubmission: {args.submission}")
        return 0
    result = evaluate_checkpoint(args.checkpoint, split=args.split, device=args.device,
                                 progress=not args.no_progress)
    print(format_table(result))
    return 0


def _cmd_data_sudoku(args: argparse.Namespace) -> int:
    import os

    from dis_rl.puzzles.sudoku import generate_with_report, write_csv
    from dis_rl.runs import check_output

    check_output(args.out, flag="OUT")  # before minutes of generating: empty, a folder, a checkpoint's file
    if Path(args.out).exists() and not args.overwrite:
        args.parser.error(f"{args.out} exists; pass --overwrite to replace it, or name a new file")
    cores = os.cpu_count() or 1
    if args.num < 1 or not 1 <= args.workers <= cores:
        args.parser.error(f"need --num >= 1 and 1 <= --workers <= {cores} (this machine's cores), "
                          f"got {args.num} and {args.workers}")
    try:
        puzzles, report = generate_with_report(args.num, seed=args.seed, keep_fraction=args.keep_fraction,
                                               workers=args.workers, target_rating=args.target_rating,
                                               harden_steps=args.harden_steps, blanks=args.blanks,
                                               progress=not args.no_progress)
    except ValueError as err:  # the generator checks its settings before any work
        args.parser.error(str(err).replace("keep_fraction", "--keep-fraction"))
    print(report)
    print(f"wrote {write_csv(puzzles, args.out)}")
    return 0


def _cmd_data_stats(args: argparse.Namespace) -> int:
    from dis_rl.data_stats import data_stats

    print(data_stats(args.source, num_aug=args.num_aug, strict=args.strict,
                     multiple_solutions="keep" if args.keep_multiple_solutions else "reject"))
    return 0


def _cmd_sweep_w(args: argparse.Namespace) -> int:
    from dis_rl.commands import sweep_checkpoint
    from dis_rl.sweep_report import sweep_markdown

    result, folder = sweep_checkpoint(args.checkpoint, args.w, split=args.split, out_dir=args.out,
                                      device=args.device, max_aug=args.max_aug, progress=not args.no_progress)
    print(sweep_markdown(result))
    print(f"saved: {folder}/sweep_w.{{md,csv,png}} and TensorBoard scalars in {folder / 'tb'}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from dis_rl.commands import show_checkpoint

    try:
        path = show_checkpoint(args.checkpoint, args.puzzle, args.w, args.out, args.split, args.seed, args.device)
    except LookupError as err:  # no such puzzle index or id
        print(f"dis-rl: error: {err.args[0]}", file=sys.stderr)
        return 2
    print(f"wrote {path} (TensorBoard: tensorboard --logdir {path.parent / 'tb'})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from dis_rl.commands import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.out_dir, evaluate_split=None if args.no_eval else "test")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"exported {out} ({size / 1024:.0f} KiB)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from dis_rl.commands import demo_showcase

    args.config = DEMO_CONFIG
    args.run_dir = None
    args.resume = False
    status = _cmd_train(args)
    print("\n" + demo_showcase(progress=not args.no_progress))
    return status


def _cmd_compare(args: argparse.Namespace) -> int:
    from dis_rl.compare import compare

    compare(args.config, args.overrides, progress=not args.no_progress, fresh=args.fresh, finished=args.finished,
            jobs=args.jobs)
    return 0


def _cmd_rl(args: argparse.Namespace) -> int:
    from dis_rl.agents.rl_arm import load_rl_config, run_rl

    cfg = load_rl_config(args.config, args.overrides)
    records = run_rl(cfg, args.run_dir, overwrite=args.overwrite, progress=not args.no_progress)
    last = records[-1]
    print(f"{cfg.arm}: valid {100 * last['valid']:.1f}% of the test boards after {last['env_steps']:,} env steps "
          f"and {last['network_calls']:,} network calls (start: {100 * records[0]['valid']:.1f}%)")
    return 0


def _cmd_configs(args: argparse.Namespace) -> int:
    from dis_rl.resources import checkpoint_names, checkpoint_of_config, config_names, configs_dir, describe_config

    names = config_names()
    width = max(map(len, names), default=0)
    print(f"shipped configs (in {configs_dir()}); use a name where a config path goes, "
          "e.g. `dis-rl train nqueens_dis`:")
    for name in names:
        made = checkpoint_of_config(name)
        print(f"  {name:<{width}}  {'[made checkpoint ' + made + '] ' if made else ''}{describe_config(name)}")
    print(f"shipped checkpoints, each named after the config that made it (use a name where a checkpoint goes, "
          f"e.g. `dis-rl eval nqueens_dis`): {', '.join(checkpoint_names()) or 'none'}")
    return 0


HANDLERS = {  # args.handler (set by dis_rl.cli_parser) -> the function that runs the subcommand
    "compare": _cmd_compare,
    "configs": _cmd_configs,
    "data_stats": _cmd_data_stats,
    "data_sudoku": _cmd_data_sudoku,
    "demo": _cmd_demo,
    "eval": _cmd_eval,
    "export": _cmd_export,
    "rl": _cmd_rl,
    "show": _cmd_show,
    "sweep_w": _cmd_sweep_w,
    "train": _cmd_train,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse a command line (`dis_rl.cli_parser.parse_command_line`) and attach its handler as ``args.func``."""
    args = parse_command_line(argv)
    args.func = HANDLERS[args.handler]
    return args


INTERRUPTED = {  # train says what its own run folder holds (TrainingInterrupted)
    "compare": "dis-rl: interrupted; run the same command again: finished arms are reused",
    "demo": "dis-rl: interrupted; `dis-rl demo --overwrite` starts the demo again",
}


def _sigterm(signum: int, _frame) -> None:
    """SIGTERM (what a cluster scheduler sends before preemption) ends a command as Ctrl-C does:
    locks released, partial writes cleaned, the advice printed; training checkpoints first."""
    from dis_rl.runs import ended_if_forked

    if not ended_if_forked(_MAIN_PID[0], signum):
        raise KeyboardInterrupt("SIGTERM")


_MAIN_PID = [os.getpid()]  # the process whose SIGTERM becomes a KeyboardInterrupt (set by main)


def _out_of_memory(err: BaseException) -> bool:
    return isinstance(err, MemoryError) or "out of memory" in str(err) or "can't allocate memory" in str(err)


def main(argv: list[str] | None = None) -> int:
    from dis_rl.checkpoint import CheckpointError
    from dis_rl.config import ConfigError
    from dis_rl.device import DeviceError
    from dis_rl.puzzles.arc import ARCFormatError
    from dis_rl.puzzles.arc_augment import LeakageError
    from dis_rl.puzzles.sudoku import SudokuFormatError
    from dis_rl.runs import RunFolderError
    from dis_rl.train.loop import TrainingDiverged, TrainingInterrupted

    args = parse_args(argv)
    _MAIN_PID[0] = os.getpid()
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        return args.func(args)
    except (ConfigError, CheckpointError, DeviceError, FileNotFoundError, FileExistsError, ARCFormatError,
            LeakageError, SudokuFormatError, RunFolderError) as err:
        print(f"dis-rl: error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"dis-rl: training stopped: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        name = getattr(err, "signal_name", None) or (err.args[0] if err.args else "SIGINT")
        # The run folder's advice is train's; compare's arms run the same loop but resume differently.
        advised = isinstance(err, TrainingInterrupted) and args.command == "train"
        print(f"dis-rl: {err}" if advised else INTERRUPTED.get(args.command, f"dis-rl: interrupted by {name}"),
              file=sys.stderr)
        return 128 + getattr(signal, str(name), signal.SIGINT)
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        print(f"dis-rl: error: {err.filename or ''}: {err.strerror}; free space or choose a writable "
              "output", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as err:
        if not _out_of_memory(err):
            raise
        print(f"dis-rl: error: out of memory ({str(err).splitlines()[0][:200]}); lower train.batch_size or "
              "train.eval_batch_size", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
