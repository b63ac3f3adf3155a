"""The tiny ARC end-to-end check (issue 4): DIS on 5 small ARC-AGI-1 training tasks with augmentation
must reach 100% exact match on their training examples. Prints when it first got there.

    python benchmarks/arc_tiny.py [--run-dir /tmp/arc_tiny] [key=value overrides]

Uses configs/arc_tiny.yaml (one thread). Measured on a shared 2-core machine: ~1.7-2.2 CPU seconds
per batch of 8 (bf16 / fp32), i.e. 600 batches take 17-22 CPU minutes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from dis_rl.config import load_config
from dis_rl.runs import read_jsonl
from dis_rl.train import Trainer

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "arc_tiny.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", default="/tmp/arc_tiny")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(CONFIG, args.overrides)
    trainer = Trainer(cfg, run_dir=args.run_dir, progress=True, overwrite=True)  # a benchmark measures a fresh run
    start_cpu, start = time.process_time(), time.perf_counter()
    final = trainer.run()
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start
    evals = read_jsonl(Path(args.run_dir) / "eval_log.jsonl")
    first = next((e for e in evals if e["exact"] >= 1.0), None)
    print(f"final exact match {100 * final.exact:.1f}% of {final.num_puzzles} training examples after "
          f"{trainer.batches} batches ({wall:.0f} s wall, {cpu:.0f} s CPU)")
    if first:
        print(f"target reached: 100% exact at batch {first['batch']} ({first['elapsed_s']:.0f} s of training)")
    else:
        print("target NOT reached: best exact " + f"{100 * max(e['exact'] for e in evals):.1f}%")


if __name__ == "__main__":
    main()
