"""Cost of the solver orders behind ``train.targets: solver`` (docs/TARGETS.md).

    python benchmarks/solver_orders.py [--hard path/to/sudoku_hard.csv]

N-Queens: the demo's training set (800 base boards x dihedral images); Sudoku: generated puzzles
(the generator's defaults) and, if given, a CSV of hard puzzles; and batches of 64 through
`SolverOrderSource` (first touch vs cached).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from dis_rl.puzzles import nqueens, sudoku
from dis_rl.puzzles.solver_order import SolverOrderSource
from dis_rl.puzzles.sudoku_solver import deduction_order


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def batches_ms(source, idx: np.ndarray, size: int = 64) -> float:
    starts = range(0, len(idx), size)
    _, dt = timed(lambda: [source.get(idx[i : i + size]) for i in starts])
    return 1e3 * dt / len(starts)


def sudoku_line(name: str, puzzles) -> str:
    q, a = puzzles.inputs.astype(int) - 1, puzzles.labels.astype(int) - 1
    found, dt = timed(lambda: [deduction_order(x.tolist(), y.tolist()) for x, y in zip(q, a)])
    before = [sum(0 <= w < d.first_guess_wave for w in d.waves) / d.waves.count(-1) if d.first_guess_wave >= 0
              else 1.0 for d in found]
    return (f"sudoku {name} ({len(q)}): {1e3 * dt / len(q):.1f} ms/puzzle; guesses median "
            f"{np.median([d.guesses for d in found]):.0f}; solved by logic alone "
            f"{np.mean([d.guesses == 0 for d in found]):.0%}; blanks placed before the first guess, median "
            f"{np.median(before):.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hard", default="", help="a Sudoku-Extreme-layout CSV of hard puzzles (first 200 rows)")
    args = parser.parse_args()

    train, _ = nqueens.generate(num_train=800, num_test=200, seed=0)
    _, dt = timed(lambda: nqueens.commit_order(train.inputs, train.labels))
    print(f"nqueens: {len(train)} boards in {dt:.2f} s ({1e3 * dt / len(train):.2f} ms/board)")
    source, idx = SolverOrderSource(train), np.random.default_rng(0).permutation(len(train))
    first, cached = batches_ms(source, idx), batches_ms(source, idx)
    print(f"nqueens batches of 64: {first:.1f} ms/batch in the first epoch, {cached:.2f} ms/batch cached")

    generated, _ = sudoku.generate_with_report(100, seed=0, keep_fraction=1.0)
    print(sudoku_line("generated, keep_fraction 1", generated))
    if args.hard and Path(args.hard).is_file():
        hard, _ = sudoku.load_csv(args.hard)
        print(sudoku_line(Path(args.hard).stem, hard.subset(np.arange(min(200, len(hard))))))
    aug = sudoku.SudokuAugmentedSource(generated, num_aug=1000, seed=0)
    source, idx = SolverOrderSource(aug), np.random.default_rng(0).permutation(len(aug))[: 64 * 50]
    plain, first, cached = batches_ms(aug, idx), batches_ms(source, idx), batches_ms(source, idx)
    print(f"sudoku augmented batches of 64 (100 base puzzles x 1001 copies): {plain:.1f} ms without orders, "
          f"{first:.1f} ms while base orders are computed, {cached:.1f} ms cached")


if __name__ == "__main__":
    main()
