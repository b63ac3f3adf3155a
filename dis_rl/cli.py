"""The ``dis-rl`` command line: thin wrappers that parse, load a config and call a library
function. Every command is also a Python function (see each handler's callee)."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from pathlib import Path

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


def _ws(text: str) -> list[float]:
    from dis_rl.guidance import parse_ws

    try:
        return parse_ws(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _w(text: str) -> float:
    from dis_rl.guidance import check_w

    try:
        return check_w(float(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err) if "--w" in str(err) else f"not a number: {text!r}") from None


def _at_least(minimum: int):
    """An argparse type: an integer >= ``minimum`` (so ``--vote -1`` stops before any work)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


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
    from dis_rl.agents.rl_arm import register_compare_arms
    from dis_rl.compare import compare

    register_compare_arms()  # RL arm kinds: ppo_scratch, pg_finetune

    compare(args.config, args.overrides, progress=not args.no_progress, fresh=args.fresh, finished=args.finished,
            jobs=args.jobs, initializer=register_compare_arms)
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


def _checkpoint_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="run folder, checkpoints/ folder, step folder, exported folder or the name of "
                   "a shipped checkpoint (nqueens_dis)")
    p.add_argument("--split", default="test", choices=["train", "test"], help="which puzzles")
    p.add_argument("--device", default="auto", help="auto | cpu | mps | cuda | cuda:N")


def _puzzle(text: str) -> int | str:
    """``--puzzle``: an index, or a puzzle id as the envs name it (ARC: ``<task id>/<test pair>``)."""
    return int(text) if text.lstrip("-").isdigit() else text


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default; flags (store_true) and None defaults say nothing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default in (None, False, [], argparse.SUPPRESS) or action.nargs == 0:
            return action.help or ""
        return super()._get_help_string(action)


def _command(sub, name: str, func, help: str, description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand parser: no abbreviated options (``--resum`` is an error, not ``--resume``),
    defaults shown in the help."""
    p = sub.add_parser(name, help=help, description=description or help, allow_abbrev=False,
                       formatter_class=_Formatter)
    p.set_defaults(func=func, parser=p)
    return p


def _overrides(p: argparse.ArgumentParser, example: str) -> None:
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help=f"config overrides, anywhere on the line (before or after the flags), e.g. {example}")


def build_parser() -> argparse.ArgumentParser:
    from dis_rl import __version__
    from dis_rl.resources import doc_path  # the guides ship in the wheel: help names where they are

    parser = argparse.ArgumentParser(
        prog="dis-rl", allow_abbrev=False,
        description="Deep Improvement Supervision for Tiny Recursive Models: train, evaluate, guide. "
        "Configs and checkpoints are paths or the names of shipped ones (`dis-rl configs`).",
    )
    parser.add_argument("--version", action="version", version=f"dis-rl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "train", _cmd_train, "train a model from a YAML config (DIS or TRM)",
                 "Train from CONFIG; override any key with section.key=value.")
    p.add_argument("config", help="YAML experiment config: a path or a shipped name (`dis-rl configs`), "
                   "e.g. nqueens_dis")
    _overrides(p, "train.lr=3e-4 model.hidden=128")
    p.add_argument("--resume", action="store_true", help="continue the run folder's last checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run a used run folder holds (default: refuse it)")
    p.add_argument("--run-dir", default=None, help="run folder (default: <out_dir>/<name> of the config)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--arc-dir", action="append", default=[], metavar="DIR",
                   help="extra directory of ARC task files to train on (repeatable; sets data.arc_dirs)")
    p.add_argument("--strict", action="store_true", help="a bad ARC task file or Sudoku CSV row is an error")

    p = _command(sub, "eval", _cmd_eval, "evaluate a checkpoint on its test puzzles")
    _checkpoint_arguments(p)
    p.add_argument("--vote", type=_at_least(0), default=0, metavar="N",
                   help="ARC: vote over N augmentations of each test input (pass@1, pass@2, pass@N; 0: no voting); "
                   "Sudoku / N-Queens: N symmetry views (view 1 = plain decoding), the rules pick a valid answer")
    p.add_argument("--samples", type=_at_least(0), default=0, metavar="K",
                   help="Sudoku / N-Queens: also K sampled rollouts at --temperature, the rules pick (best-of-k)")
    p.add_argument("--temperature", type=float, default=0.5, help="with --samples: sampling temperature")
    p.add_argument("--submission", default="submission.json", help="with --vote: where to write the ARC Prize file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("data", help="inspect data sources", description="Inspect data sources.", allow_abbrev=False)
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = _command(data_sub, "stats", _cmd_data_stats,
                 "tasks, pairs, grid sizes, augmentations (ARC) or rows, ratings (Sudoku)")
    p.add_argument("source", help="arc1 | arc2 | a directory of ARC task files | a Sudoku CSV file")
    p.add_argument("--num-aug", type=int, default=1000, help="augmentations per ARC puzzle to plan")
    p.add_argument("--strict", action="store_true", help="stop at the first bad task file or CSV row")
    p.add_argument("--keep-multiple-solutions", action="store_true",
                   help="Sudoku: skip the uniqueness check (a few ms a row) and count such rows as valid")
    p = _command(data_sub, "sudoku", _cmd_data_sudoku, "generate Sudoku puzzles (unique solutions, rated) into a CSV",
                 "Writes OUT in the Sudoku-Extreme layout (source,question,answer,rating), readable by "
                 f"data.csv_path and `dis-rl data stats` ({doc_path('DATA.md')}).")
    p.add_argument("out", help="CSV file to write (an existing one only with --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    p.add_argument("--num", type=int, default=100, help="puzzles to write")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument("--keep-fraction", type=float, default=1.0, help="keep the hardest share of candidates")
    p.add_argument("--target-rating", type=int, default=0,
                   help="hill-climb each candidate toward this rating (0: no climb)")
    p.add_argument("--harden-steps", type=int, default=100, help="most hill-climb steps per candidate")
    p.add_argument("--blanks", type=int, default=0,
                   help="easy puzzles with this many blanks instead of minimal ones (0: minimal)")
    p.add_argument("--workers", type=int, default=1, help="generator processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = _command(sub, "sweep-w", _cmd_sweep_w, "sweep the guidance scale w on a checkpoint's test puzzles",
                 "Accuracy, advantage margin and Hamming contraction per step for each w; saves markdown, CSV, "
                 "PNG and TensorBoard scalars (default runs/sweep_w/<run name>/).")
    _checkpoint_arguments(p)
    p.add_argument("--w", default="0,0.5,1,1.5,2,3", type=_ws, help="comma-separated guidance scales")
    p.add_argument("--out", default=None,
                   help="output folder (default: runs/sweep_w/<run name> in the working directory)")
    p.add_argument("--max-aug", type=_at_least(1), default=8, help="ARC: augmentations voted per test pair")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = _command(sub, "show", _cmd_show, "draw one puzzle's refinement (targets and guided predictions) as a PNG",
                 "A strip like the paper's Fig. 6; also logged to TensorBoard.")
    _checkpoint_arguments(p)
    p.add_argument("--puzzle", type=_puzzle, default=0,
                   help="puzzle index in the split, or its id as the envs name it (ARC: <task id>/<test pair>)")
    p.add_argument("--w", type=_w, default=1.0, help="guidance scale (1: plain decoding)")
    p.add_argument("--out", default=None,
                   help="PNG path (default: runs/show/<run name>/puzzle_<I>_w<W>.png in the working directory)")
    p.add_argument("--seed", type=int, default=0, help="seed of the DIS target frames")

    p = _command(sub, "export", _cmd_export, "write a slim shareable checkpoint (weights + metadata, no optimiser)",
                 "Export CHECKPOINT to OUT_DIR (model.safetensors + meta.json, <= 5 MB).")
    p.add_argument("checkpoint", help="run folder, checkpoints/ folder or step folder to export")
    p.add_argument("out_dir", help="folder to write model.safetensors and meta.json into")
    p.add_argument("--no-eval", action="store_true", help="keep the stored metrics instead of re-evaluating")

    p = _command(sub, "demo", _cmd_demo, "train the N-Queens DIS demo (config nqueens_dis) and report",
                 "The README's first command: a short DIS run on 8x8 N-Queens, then the shipped checkpoint's "
                 "w table and one solved env episode.")
    _overrides(p, "train.max_batches=100")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo run (make demo passes it)")

    p = _command(sub, "compare", _cmd_compare, "train several methods (DIS, TRM, ...) to one budget and compare them",
                 "Train every arm x seed of a compare file to the same budget (network calls or training seconds); "
                 f"write accuracy-vs-compute plots, tables and TensorBoard scalars. See {doc_path('COMPARE.md')}.")
    p.add_argument("config", help="compare file: a path or a shipped name, e.g. compare_nqueens")
    _overrides(p, "seeds=1 budget.network_calls=2000000")
    p.add_argument("--fresh", action="store_true",
                   help="retrain arms even if a finished run with the same config exists")
    p.add_argument("--finished", action="store_true",
                   help="train nothing: tables and plot of the arm x seeds finished so far (safe beside a "
                        "running compare of the same file)")
    p.add_argument("--jobs", type=int, default=1,
                   help="train this many arm x seeds at once, each in its own process (with train.threads=1, "
                        "up to one per core; no progress bars)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = _command(sub, "rl", _cmd_rl, "run one RL arm: PPO from scratch or policy-gradient fine-tuning",
                 f"Run the arm of an RL config (arm: ppo_scratch | pg_finetune). Every key: {doc_path('RL.md')}.")
    p.add_argument("config", help="RL config: a path or a shipped name, e.g. rl_nqueens_finetune")
    _overrides(p, "finetune.algorithm=ppo seed=1")
    p.add_argument("--run-dir", default=None, help="run folder (default: <out_dir>/<name> of the config)")
    p.add_argument("--overwrite", action="store_true", help="replace the run a used run folder holds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    _command(sub, "configs", _cmd_configs, "list the shipped configs and checkpoints (usable by name)",
             "The configs and checkpoints that ship with dis-rl; every command takes their names where it "
             "takes a path.")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse a command line; ``key=value`` overrides may stand anywhere, also after flags
    (``dis-rl train CFG --strict train.lr=1e-3``), which plain argparse rejects."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    stray = [a for a in extra if a.startswith("-") or "=" not in a or not hasattr(args, "overrides")]
    if stray:
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
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
