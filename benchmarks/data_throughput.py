"""Data pipeline throughput and memory: augmented ARC examples/s of the training source's `get`
(single process) and the peak RAM of an ARC-AGI-1 x 1000-augmentation training setup.

    PYTHONPATH=. python benchmarks/data_throughput.py [--num-aug 1000] [--extra DIR] [--seconds 3]

Peak RAM is the process's maximum resident set size (ru_maxrss), which includes the interpreter
and numpy; the Python-allocated part of building the setup is measured with tracemalloc.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

import numpy as np

from dis_rl.puzzles.arc_augment import build_arc_splits, describe_embedding_table


def peak_rss_mib() -> float:
    bytes_per_unit = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB, macOS bytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * bytes_per_unit / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-aug", type=int, default=1000, help="augmentations per puzzle (+ identity)")
    parser.add_argument("--extra", action="append", default=[], help="extra training task directory")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per batch size")
    parser.add_argument("--width", type=int, default=512, help="puzzle-embedding width for the size report")
    args = parser.parse_args()

    rss_before = peak_rss_mib()
    tracemalloc.start()
    start = time.perf_counter()
    splits = build_arc_splits(("arc1", *args.extra), "arc1", num_aug=args.num_aug)
    build_s = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sources = " + ".join(["ARC-AGI-1", *args.extra])
    print(f"setup: {sources} x {args.num_aug} augmentations")
    print(splits.describe(args.width))
    print(f"built in {build_s:.1f} s; python allocations peak {traced_peak / 2**20:.1f} MiB")

    src = splits.train
    rng = np.random.default_rng(0)
    rows = []
    for batch in (64, 256, 1024):
        src.get(rng.integers(0, len(src), batch))  # warm-up (builds the gather tables once)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            src.get(rng.integers(0, len(src), batch))
            n += batch
        rows.append((batch, n / (time.perf_counter() - t0)))
    print(f"\n{'batch':>6} | {'examples/s':>11}")
    print(f"{'-' * 6}-+-{'-' * 11}")
    for batch, rate in rows:
        print(f"{batch:>6} | {rate:>11,.0f}")
    print(f"\npeak RSS: {peak_rss_mib():.0f} MiB (process start: {rss_before:.0f} MiB)")
    print(describe_embedding_table(splits.num_puzzle_ids, args.width) + " (not allocated here)")


if __name__ == "__main__":
    main()
