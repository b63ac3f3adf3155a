"""The ``dis-rl`` argument parser: every subcommand, its options and their checks (``--vote -1``,
``--w nan`` and stray arguments stop here, before any work). Each subcommand names its handler by a
string (``args.handler``); `dis_rl.cli` maps the names to the functions that run them, so the parser
imports no command.
"""

from __future__ import annotations

import argparse

from dis_rl import __version__
from dis_rl.guidance import check_w, parse_ws
from dis_rl.resources import doc_path  # the guides ship in the wheel: help names where they are


def _ws(text: str) -> list[float]:
    try:
        return parse_ws(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _w(text: str) -> float:
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


def _command(sub, name: str, handler: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand parser: no abbreviated options (``--resum`` is an error, not ``--resume``),
    defaults shown in the help."""
    p = sub.add_parser(name, help=help, description=description or help, allow_abbrev=False,
                       formatter_class=_Formatter)
    p.set_defaults(handler=handler, parser=p)  # dis_rl.cli.HANDLERS[handler] runs it
    return p


def _overrides(p: argparse.ArgumentParser, example: str) -> None:
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help=f"config overrides, anywhere on the line (before or after the flags), e.g. {example}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dis-rl", allow_abbrev=False,
        description="Deep Improvement Supervision for Tiny Recursive Models: train, evaluate, guide. "
        "Configs and checkpoints are paths or the names of shipped ones (`dis-rl configs`).",
    )
    parser.add_argument("--version", action="version", version=f"dis-rl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "train", "train", "train a model from a YAML config (DIS or TRM)",
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

    p = _command(sub, "eval", "eval", "evaluate a checkpoint on its test puzzles")
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
    p = _command(data_sub, "stats", "data_stats",
                 "tasks, pairs, grid sizes, augmentations (ARC) or rows, ratings (Sudoku)")
    p.add_argument("source", help="arc1 | arc2 | a directory of ARC task files | a Sudoku CSV file")
    p.add_argument("--num-aug", type=int, default=1000, help="augmentations per ARC puzzle to plan")
    p.add_argument("--strict", action="store_true", help="stop at the first bad task file or CSV row")
    p.add_argument("--keep-multiple-solutions", action="store_true",
                   help="Sudoku: skip the uniqueness check (a few ms a row) and count such rows as valid")
    p = _command(data_sub, "sudoku", "data_sudoku", "generate Sudoku puzzles (unique solutions, rated) into a CSV",
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

    p = _command(sub, "sweep-w", "sweep_w", "sweep the guidance scale w on a checkpoint's test puzzles",
                 "Accuracy, advantage margin and Hamming contraction per step for each w; saves markdown, CSV, "
                 "PNG and TensorBoard scalars (default runs/sweep_w/<run name>/).")
    _checkpoint_arguments(p)
    p.add_argument("--w", default="0,0.5,1,1.5,2,3", type=_ws, help="comma-separated guidance scales")
    p.add_argument("--out", default=None,
                   help="output folder (default: runs/sweep_w/<run name> in the working directory)")
    p.add_argument("--max-aug", type=_at_least(1), default=8, help="ARC: augmentations voted per test pair")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = _command(sub, "show", "show", "draw one puzzle's refinement (targets and guided predictions) as a PNG",
                 "A strip like the paper's Fig. 6; also logged to TensorBoard.")
    _checkpoint_arguments(p)
    p.add_argument("--puzzle", type=_puzzle, default=0,
                   help="puzzle index in the split, or its id as the envs name it (ARC: <task id>/<test pair>)")
    p.add_argument("--w", type=_w, default=1.0, help="guidance scale (1: plain decoding)")
    p.add_argument("--out", default=None,
                   help="PNG path (default: runs/show/<run name>/puzzle_<I>_w<W>.png in the working directory)")
    p.add_argument("--seed", type=int, default=0, help="seed of the DIS target frames")

    p = _command(sub, "export", "export", "write a slim shareable checkpoint (weights + metadata, no optimiser)",
                 "Export CHECKPOINT to OUT_DIR (model.safetensors + meta.json, <= 5 MB).")
    p.add_argument("checkpoint", help="run folder, checkpoints/ folder or step folder to export")
    p.add_argument("out_dir", help="folder to write model.safetensors and meta.json into")
    p.add_argument("--no-eval", action="store_true", help="keep the stored metrics instead of re-evaluating")

    p = _command(sub, "demo", "demo", "train the N-Queens DIS demo (config nqueens_dis) and report",
                 "The README's first command: a short DIS run on 8x8 N-Queens, then the shipped checkpoint's "
                 "w table and one solved env episode.")
    _overrides(p, "train.max_batches=100")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo run (make demo passes it)")

    p = _command(sub, "compare", "compare", "train several methods (DIS, TRM, ...) to one budget and compare them",
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

    p = _command(sub, "rl", "rl", "run one RL arm: PPO from scratch or policy-gradient fine-tuning",
                 f"Run the arm of an RL config (arm: ppo_scratch | pg_finetune). Every key: {doc_path('RL.md')}.")
    p.add_argument("config", help="RL config: a path or a shipped name, e.g. rl_nqueens_finetune")
    _overrides(p, "finetune.algorithm=ppo seed=1")
    p.add_argument("--run-dir", default=None, help="run folder (default: <out_dir>/<name> of the config)")
    p.add_argument("--overwrite", action="store_true", help="replace the run a used run folder holds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    _command(sub, "configs", "configs", "list the shipped configs and checkpoints (usable by name)",
             "The configs and checkpoints that ship with dis-rl; every command takes their names where it "
             "takes a path.")
    return parser


def parse_command_line(argv: list[str] | None = None) -> argparse.Namespace:
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
