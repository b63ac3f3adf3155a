"""Ratings of generated Sudoku puzzles against a hard list (docs/results/sudoku_generator.md).

    python benchmarks/sudoku_generator.py --num 8 --target-rating 82 --harden-steps 100 \\
        --hard ../shared/data/sudoku_hard/magictour_top1465.csv --hard-sample 300 [--figure out.png]

Generates ``--num`` plain minimal puzzles (every candidate kept) and ``--num`` hill-climbed ones
(the hardest ``--keep-fraction`` of the candidates, each climbed toward ``--target-rating``),
rates a seeded sample of the hard list with the same rating (`puzzle_rating`: dead ends of the
whole search tree), and prints generation rates, medians and histograms.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from dis_rl.puzzles.sudoku import generate_with_report, histogram, load_csv, puzzle_rating


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target-rating", type=int, default=82)
    parser.add_argument("--harden-steps", type=int, default=100)
    parser.add_argument("--keep-fraction", type=float, default=1.0,
                        help="hill-climbed row: climb the hardest this fraction of the candidates")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--hard", default="")
    parser.add_argument("--hard-sample", type=int, default=300)
    parser.add_argument("--figure", default="")
    args = parser.parse_args()

    rows = {}
    for label, options in (("plain minimal", {}),
                           (f"hardest {args.keep_fraction:g} hill-climbed to {args.target_rating} "
                            f"(<= {args.harden_steps} steps)",
                            {"target_rating": args.target_rating, "harden_steps": args.harden_steps,
                             "keep_fraction": args.keep_fraction})):
        start = time.perf_counter()
        puzzles, _ = generate_with_report(args.num, seed=args.seed, workers=args.workers,
                                          **{"keep_fraction": 1.0, **options})
        seconds = time.perf_counter() - start
        ratings = puzzles.extras["rating"].astype(int)
        rows[label] = ratings
        print(f"{label}: {args.num} puzzles in {seconds:.0f} s ({args.num / seconds * 60:.1f} puzzles/min, "
              f"{args.workers} worker(s)); rating median {np.median(ratings):.0f}, min {ratings.min()}, max "
              f"{ratings.max()}; reached the target {np.mean(ratings >= args.target_rating):.0%}; "
              f"histogram {histogram(ratings)}")
    if args.hard and Path(args.hard).is_file():
        hard, _ = load_csv(args.hard)
        idx = np.sort(np.random.default_rng(0).choice(len(hard), size=min(args.hard_sample, len(hard)), replace=False))
        ratings = np.array([puzzle_rating((hard.inputs[i].astype(int) - 1).tolist()) for i in idx])
        rows[f"{Path(args.hard).stem} (sample of {len(idx)})"] = ratings
        print(f"{Path(args.hard).stem}, seeded sample of {len(idx)}: rating median {np.median(ratings):.0f}; "
              f"histogram {histogram(ratings)}")
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        bins = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]
        for label, ratings in rows.items():
            counts, _ = np.histogram(np.clip(ratings, 0, 4095), bins=bins)
            ax.plot(range(len(counts)), counts / counts.sum(), "o-", label=f"{label} (median {np.median(ratings):.0f})")
        ax.set_xticks(range(len(bins) - 1), [f"{lo}-{hi - 1}" for lo, hi in zip(bins, bins[1:])], rotation=45)
        ax.set_xlabel("rating (dead ends of the whole search tree)")
        ax.set_ylabel("share of puzzles")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.figure, dpi=120)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
