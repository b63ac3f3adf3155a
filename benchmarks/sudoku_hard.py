"""A Sudoku checkpoint on harder puzzles than it trained on (docs/results/sudoku_hard.md).

    OMP_NUM_THREADS=1 python benchmarks/sudoku_hard.py --checkpoint sudoku_cpu --views 8 \\
        --minimal 200 --hard ../shared/data/sudoku_hard/magictour_top1465.csv --out docs/results/sudoku_hard.md

Sets: the checkpoint's own test puzzles; ``--minimal`` generated minimal puzzles (``data.blanks: 0``,
~24 clues, a seed the training set never used); each ``--hard`` CSV (skipped when absent). Each
puzzle is rated by the generator's rating (`puzzle_rating`: dead ends of the propagate-and-branch
search); the table gives % solved by plain decoding and by the rules' pick among ``--views``
symmetry views (`dis_rl.vote.rule_vote`), per rating band.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from dis_rl.loading import load_run
from dis_rl.puzzles.sudoku import generate, load_csv, puzzle_rating
from dis_rl.vote import rule_vote

BANDS = [(0, 0), (1, 1), (2, 3), (4, 7), (8, 15), (16, 31), (32, 63), (64, None)]


def band_label(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}-{hi}")


def ratings_of(puzzles) -> np.ndarray:
    return np.array([puzzle_rating((q.astype(int) - 1).tolist()) for q in puzzles.inputs])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="sudoku_cpu")
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--minimal", type=int, default=200, help="generated minimal puzzles (0: none)")
    parser.add_argument("--minimal-seed", type=int, default=101)
    parser.add_argument("--hard", action="append", default=[], help="Sudoku-Extreme-layout CSV (repeatable)")
    parser.add_argument("--hard-limit", type=int, default=0, help="first N rows of each CSV (0: all)")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    torch.set_num_threads(1)

    run = load_run(args.checkpoint, "test", "cpu")
    tc, mc = run.cfg.train, run.cfg.model
    sets = {"test set of the run": run.puzzles}
    if args.minimal:
        sets[f"generated minimal (blanks 0, seed {args.minimal_seed})"] = generate(
            args.minimal, seed=args.minimal_seed, keep_fraction=1.0)
    for path in args.hard:
        if Path(path).is_file():
            puzzles, _ = load_csv(path)
            sets[Path(path).stem] = puzzles.subset(np.arange(min(len(puzzles), args.hard_limit or len(puzzles))))
        else:
            print(f"skipped {path}: not found")
    lines = []
    for name, puzzles in sets.items():
        start = time.perf_counter()
        ratings = ratings_of(puzzles)
        r = rule_vote(run.model, puzzles, tc.supervision_steps, tc.step_input, views=args.views,
                      batch_size=tc.eval_batch_size, calls_per_step=mc.calls_per_step)
        plain, views = r["each"]["plain"], r["each"].get("views", r["each"]["plain"])
        clues = (puzzles.inputs > 1).sum(1)
        first = len(lines)
        lines.append(f"\n### {name}: {len(puzzles)} puzzles, clues median {np.median(clues):.0f}, rating median "
                     f"{np.median(ratings):.0f} ({time.perf_counter() - start:.0f} s)\n")
        lines.append(f"| rating band | puzzles | plain solved % ({r['plain']['calls_per_puzzle']} calls) | "
                     f"{args.views} views, rules pick % ({args.views * r['plain']['calls_per_puzzle']} calls) |")
        lines.append("|---|---:|---:|---:|")
        for lo, hi in BANDS:
            m = (ratings >= lo) & (ratings <= (hi if hi is not None else ratings.max()))
            if m.any():
                lines.append(f"| {band_label(lo, hi)} | {m.sum()} | {100 * plain[m].mean():.1f} | "
                             f"{100 * views[m].mean():.1f} |")
        lines.append(f"| all | {len(puzzles)} | {100 * plain.mean():.1f} | {100 * views.mean():.1f} |")
        print("\n".join(lines[first:]), flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    text = (f"Command: `python benchmarks/sudoku_hard.py --checkpoint {args.checkpoint} --views {args.views} "
            f"--minimal {args.minimal} " + " ".join(f"--hard {h}" for h in args.hard) +
            (f" --hard-limit {args.hard_limit}" if args.hard_limit else "") + f"`; commit {commit}; one thread.\n" +
            "\n".join(lines) + "\n")
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
