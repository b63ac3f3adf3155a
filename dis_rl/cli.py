"""The ``dis-rl`` command line: thin wrappers that parse, load a config and call a library
function. Every command is also a Python function (see each handler's callee)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "nqueens_dis.yaml"


def _cmd_train(args: argparse.Namespace) -> int:
    from dis_rl.config import load_config
    from dis_rl.distributed import shutdown_distributed
    from dis_rl.evaluate import format_table
    from dis_rl.plots import plot_run
    from dis_rl.train import Trainer

    cfg = load_config(args.config, args.overrides)
    try:
        trainer = Trainer(cfg, run_dir=args.run_dir, progress=not args.no_progress)
        main = trainer.dist.is_main  # under torchrun only rank 0 reports
        if main:
            print(f"run folder: {trainer.run_dir}  |  model: {trainer.model.num_parameters():,} parameters "
                  f"|  device: {trainer.device} x {trainer.dist.world_size} process(es)  "
                  f"|  train examples: {len(trainer.train_source):,}")
        result = trainer.run(resume=args.resume)
    finally:
        shutdown_distributed()
    if main:
        figures = plot_run(trainer.run_dir)
        print(format_table(result))
        print(f"TensorBoard: tensorboard --logdir {trainer.run_dir / 'tb'}   figures: {', '.join(map(str, figures))}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from dis_rl.evaluate import evaluate_checkpoint, format_table

    result = evaluate_checkpoint(args.checkpoint, split=args.split, device=args.device)
    print(format_table(result))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    args.config = str(DEMO_CONFIG)
    args.run_dir = None
    args.resume = False
    return _cmd_train(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dis-rl",
        description="Deep Improvement Supervision for Tiny Recursive Models: train, evaluate, guide.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model from a YAML config (DIS or TRM)",
                       description="Train from CONFIG; override any key with section.key=value.")
    p.add_argument("config", help="YAML experiment config, e.g. configs/nqueens_dis.yaml")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.lr=3e-4 model.hidden=128")
    p.add_argument("--resume", action="store_true", help="continue the run folder's last checkpoint")
    p.add_argument("--run-dir", default=None, help="run folder (default: <out_dir>/<name>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="evaluate a checkpoint on its test puzzles",
                       description="Evaluate CHECKPOINT (a run folder, checkpoints/ folder or step folder).")
    p.add_argument("checkpoint")
    p.add_argument("--split", default="test", choices=["train", "test"], help="which puzzles (default: test)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("demo", help="train the N-Queens DIS demo (configs/nqueens_dis.yaml) and report",
                       description="The README's first command: a short DIS run on 8x8 N-Queens.")
    p.add_argument("overrides", nargs="*", help="key=value overrides")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from dis_rl.checkpoint import CheckpointError
    from dis_rl.config import ConfigError
    from dis_rl.train.loop import TrainingDiverged

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, CheckpointError, FileNotFoundError) as err:
        print(f"dis-rl: error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        print(f"dis-rl: training stopped: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dis-rl: interrupted; resume with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
