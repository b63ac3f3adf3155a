"""ARC at the cost of its grids: the cropped canvas (``data.canvas: cropped``) against the full
30x30 canvas on ARC-AGI-1 training shapes, for the compact and medium presets.

    PYTHONPATH=. python benchmarks/arc_canvas.py                  # a few CPU minutes on one thread
    PYTHONPATH=. python benchmarks/arc_canvas.py --threads 2 --batch 2 --batches 8 --presets compact

What it measures, on the data of ``configs/arc1_dis_compact.yaml`` (ARC-AGI-1 training tasks plus
the evaluation tasks' demonstrations, identity + 1000 augmentations each, translation on; the
models of ``configs/arc1_dis_compact.yaml`` and ``configs/arc1_dis_medium.yaml``):

- FLOPs per epoch, analytically (`train_throughput.dis_pass_flops`: matmuls, attention included,
  backward = 2x forward) summed over every example of one epoch at its own sequence length
  (``16 + side^2`` cropped, ``16 + 900`` full).
- Training samples/s (per CPU second) of the real trainer (`Trainer` + `DISMethod.train_round`: 6 supervision
  steps, stablemax, Adam-atan2, signSGD) on real batches of the epoch. The cropped canvas has one
  shape per crop side, so the timed batches are a stratified sample: one batch from each of
  ``--batches`` crop sides taken at evenly spaced quantiles of the epoch's examples; samples/s =
  samples timed / seconds timed. The full canvas has one shape (``--full-batches`` passes timed).
  Each trainer first runs one untimed warm-up pass. The puzzle-embedding table is cut to 1,001 rows
  (its cost is a row lookup; the 730k-row table would only cost memory here).
- Test windows: how many ARC-AGI-1 evaluation test outputs would not fit the window chosen from
  their task's demonstrations (``data.test_crop: task``).

It ends with the line ``cropped vs full: N.Nx faster (samples/s), M.Mx fewer FLOPs per epoch``
(compact preset, or the first one given). The speed-up is measured in samples per second of the
process's CPU time (one thread): on a shared machine wall-clock rates follow the other jobs' load
(both are printed); on an idle machine the two agree.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import dis_pass_flops  # noqa: E402

CONFIGS = {name: Path(__file__).resolve().parents[1] / "configs" / f"arc1_dis_{name}.yaml"
           for name in ("compact", "medium")}
TABLE_ROWS = 1_001


class _FixedBatches:
    """Stands in for the trainer's stream: hands out prepared batches in order."""

    def __init__(self) -> None:
        self.queue: list[dict] = []

    def next(self, n: int, bucket: int | None = None) -> dict:
        batch = self.queue.pop(0)
        assert len(batch["inputs"]) == n
        return batch


def epoch_sides(source) -> tuple[np.ndarray, np.ndarray]:
    """Crop sides of one epoch and how many examples have each (from the plan: examples x augmentations)."""
    per_example = source._n_aug[source.example_task]  # augmentations of the example's puzzle
    sides, inverse = np.unique(source.example_side, return_inverse=True)
    return sides, np.bincount(inverse, weights=per_example).astype(np.int64)


def stratified_sides(sides: np.ndarray, counts: np.ndarray, k: int) -> list[int]:
    """``k`` crop sides at evenly spaced quantiles of the epoch's examples (repeats allowed)."""
    cdf = np.cumsum(counts) / counts.sum()
    return [int(sides[np.searchsorted(cdf, (i + 0.5) / k)]) for i in range(k)]


def batch_of_side(source, side: int, batch: int, rng: np.random.Generator, crop: bool) -> dict:
    rows = np.flatnonzero(source.example_side == side)
    ex = rng.choice(rows, size=batch, replace=len(rows) < batch)
    # One random augmentation of each chosen example: index = cum[p] + aug * n_ex[p] + within.
    p = source.example_task[ex]
    aug = rng.integers(0, source._n_aug[p])
    index = source._cum[p] + aug * source._n_ex[p] + (ex - source._ex_start[p])
    data = source.get(index, crop=crop)
    data["puzzle_ids"] = data["puzzle_ids"] % (TABLE_ROWS - 1) + 1
    return data


def measure(preset: str, canvas: str, batches: list[dict], threads: int) -> tuple[float, float]:
    """Samples per second of DIS passes on the prepared batches (after one warm-up pass on the
    first): per second of this process's CPU time, and per wall-clock second."""
    import torch

    from dis_rl.config import load_config
    from dis_rl.puzzles.base import PuzzleSet
    from dis_rl.train import Trainer

    torch.set_num_threads(threads)
    cfg = load_config(CONFIGS[preset], [f"data.canvas={canvas}", f"train.batch_size={len(batches[0]['inputs'])}",
                                        f"train.threads={threads}", "train.precision=fp32", "train.device=cpu",
                                        "train.warmup_steps=10"])
    dummy = PuzzleSet("arc", np.zeros((1, 900), np.uint8), np.zeros((1, 900), np.uint8), np.ones(1, np.int64), 12,
                      (30, 30), num_puzzle_ids=TABLE_ROWS)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir=tmp, progress=False, data=(dummy, dummy))
        stream = _FixedBatches()
        trainer.stream = stream
        stream.queue = [batches[0]]
        trainer.method.train_round()  # warm-up
        stream.queue = list(batches)
        start, cpu = time.perf_counter(), time.process_time()
        for _ in batches:
            trainer.method.train_round()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    samples = sum(len(b["inputs"]) for b in batches)
    return samples / cpu_seconds, samples / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="compact,medium")
    parser.add_argument("--batch", type=int, default=1, help="examples per timed batch")
    parser.add_argument("--batches", type=int, default=4, help="timed cropped batches (crop sides at quantiles)")
    parser.add_argument("--full-batches", type=int, default=1, help="timed full-canvas batches")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)

    from dis_rl.config import load_config
    from dis_rl.data import build_arc
    from dis_rl.puzzles.arc import fits_crop

    t0 = time.perf_counter()
    cfg = load_config(CONFIGS["compact"], ["data.canvas=cropped"])  # the medium config has the same data
    splits = build_arc(cfg.data)
    src = splits.train
    sides, counts = epoch_sides(src)
    total = int(counts.sum())
    assert total == len(src)
    p = cfg.model.puzzle_emb_len
    mean_tokens = float((counts * sides**2).sum() / total)
    print(f"ARC-AGI-1 epoch (1000-augmentation schedule): {total:,} training examples; grid tokens per example "
          f"{mean_tokens:.0f} cropped vs 900 full (+{p} prefix); {len(sides)} crop sides "
          f"({sides.min()}..{sides.max()}); data built in {time.perf_counter() - t0:.0f} s")
    misses = [not fits_crop(src_task.test[j][1].shape, int(splits.test.example_side[e]))
              for e, (t, j) in enumerate(zip(splits.test.example_task, splits.test.example_pair))
              for src_task in [splits.test.tasks[t]] if src_task.test[j][1] is not None]
    print(f"test windows from the demonstrations: {sum(misses)} of {len(misses)} ARC-AGI-1 evaluation test outputs "
          f"({100 * np.mean(misses):.1f}%) would not fit (data.test_crop=full avoids this at full cost)")

    rng = np.random.default_rng(0)
    timed = stratified_sides(sides, counts, args.batches)
    cropped_batches = [batch_of_side(src, s, args.batch, rng, crop=True) for s in timed]
    full_batches = [batch_of_side(src, s, args.batch, rng, crop=False) for s in timed[: args.full_batches]]
    timed_tokens = np.mean([b["inputs"].shape[1] for b in cropped_batches])
    print(f"timed cropped sides {timed} (mean {timed_tokens:.0f} grid tokens), batch {args.batch}, "
          f"{args.threads} thread(s), load average {os.getloadavg()[0]:.1f}")

    lines = ["| preset | canvas | GFLOP per example | PFLOP per epoch | samples/CPU-s | samples/wall-s | speed-up "
             "| FLOPs ratio |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    headline = None
    for preset in args.presets.split(","):
        mcfg = load_config(CONFIGS[preset])
        flops_full = dis_pass_flops(mcfg, 900, 12, 6) * total
        flops_crop = float(sum(c * dis_pass_flops(mcfg, int(s) ** 2, 12, 6) for s, c in zip(sides, counts)))
        rate_full = measure(preset, "full", full_batches, args.threads)
        rate_crop = measure(preset, "cropped", cropped_batches, args.threads)
        speed, ratio = rate_crop[0] / rate_full[0], flops_full / flops_crop
        for canvas, flops, rate in (("full", flops_full, rate_full), ("cropped", flops_crop, rate_crop)):
            extra = f"{speed:.1f}x | {ratio:.1f}x" if canvas == "cropped" else "| "
            print(f"| {preset} | {canvas} | {flops / total / 1e9:.1f} | {flops / 1e15:,.0f} "
                  f"| {rate[0]:.3f} | {rate[1]:.3f} | {extra} |", flush=True)
        headline = headline or (speed, ratio)
    print(f"wall time {time.perf_counter() - t0:.0f} s")
    print(f"cropped vs full: {headline[0]:.1f}x faster (samples/s), {headline[1]:.1f}x fewer FLOPs per epoch")


if __name__ == "__main__":
    main()
