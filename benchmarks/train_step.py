"""Samples/s of one DIS optimisation pass (6 supervision steps) for the compact and medium presets
at a fixed batch on the N-Queens shape: the quick view of `train_throughput.py` (same code; any
of its options, e.g. ``--shapes nqueens,sudoku,arc`` or ``--batch 64``, may follow).

    PYTHONPATH=. python benchmarks/train_step.py
"""

from __future__ import annotations

import sys

from train_throughput import main

if __name__ == "__main__":
    main(["--shapes", "nqueens", *sys.argv[1:]])
