"""Training throughput of one DIS optimisation pass (6 supervision steps, 6 optimiser steps) for the
compact and medium presets at N-Queens (L 64), Sudoku (L 81), ARC (L 900) and cropped ARC
(``arc_cropped``: 17x17 windows, L 289, ``data.canvas: cropped``) shapes: samples/s,
network calls/s, peak memory and, against a measured matmul peak, model FLOP utilisation (MFU).

    PYTHONPATH=. python benchmarks/train_throughput.py            # GPU: bf16, batch 192, ~3 minutes
    PYTHONPATH=. python benchmarks/train_throughput.py --quick    # CPU: fp32, small batches, 1 thread

It runs the real trainer (`Trainer` + `DISMethod.train_round`: target frames, stablemax loss,
Adam-atan2, signSGD on the sparse puzzle table) on random tokens of each shape; each row runs in
its own process so that its peak memory is its own. Prints one markdown table.

FLOPs are counted analytically (matmuls only: projections, attention scores and values, SwiGLU,
head; backward = 2x forward on the grad-enabled cycle, the T-1 no-grad cycles forward only), per
example: ``N_sup * (F_call * (T(n+1) + 2(n+1)) + 4 F_head)``. MFU = achieved FLOP/s / peak, the peak
being a timed square matmul in the run's dtype (bf16 on GPU, fp32 on CPU) on the same device.
Batch 192 on GPU is the reference's global batch 768 split over 4 GPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHAPES = {"nqueens": (3, (8, 8)), "sudoku": (11, (9, 9)), "arc": (12, (30, 30)),
          "arc_cropped": (12, (30, 30))}  # vocab, grid
# data.canvas: cropped runs each ARC example on the window of the canvas its grids need; the timed
# batches are 17x17 windows (289 cells; the ARC-AGI-1 epoch's mean window is 301 cells, see
# benchmarks/arc_canvas.py) at random canvas offsets, through the real cropped path (RoPE ids of
# the window's canvas cells).
CROP_SIDE = 17
PRESET_NAMES = ("compact", "medium")
ARC_PUZZLE_IDS = 730_816  # ids of ARC-AGI-1 x 1000 augmentations (build_arc_splits): 1.4 GiB at D 512
QUICK_BATCH = {"nqueens": 16, "sudoku": 16, "arc": 2, "arc_cropped": 2}


def forward_flops_per_call(hidden: int, layers: int, expansion: float, total_len: int) -> float:
    """Matmul FLOPs of one ``net`` call on one example (attention variant)."""
    from dis_rl.model.layers import swiglu_width

    d, s, i = hidden, total_len, swiglu_width(hidden, expansion)
    per_layer = 2 * s * d * 3 * d + 2 * s * d * d + 2 * 2 * s * s * d + 2 * s * d * 2 * i + 2 * s * i * d
    return layers * per_layer


def dis_pass_flops(cfg, seq_len: int, vocab: int, supervision_steps: int) -> float:
    """Training FLOPs of one DIS pass per example (see the module docstring)."""
    m = cfg.model
    call = forward_flops_per_call(m.hidden, m.layers, m.expansion, m.puzzle_emb_len + seq_len)
    head = 2 * seq_len * m.hidden * vocab
    per_cycle = m.latent_steps + 1
    per_step = call * (m.cycles * per_cycle + 2 * per_cycle) + head * (2 + 2)
    return supervision_steps * per_step


class CroppedSynthetic:
    """Random tokens on ``CROP_SIDE`` x ``CROP_SIDE`` windows of the 30x30 canvas at random offsets."""

    domain, vocab_size, grid_shape = "arc", 12, (30, 30)

    def __init__(self, num_examples: int, num_puzzle_ids: int, seed: int = 0) -> None:
        from dis_rl.puzzles.base import window_cells

        rng = np.random.default_rng(seed)
        self.num_puzzle_ids, self.n = num_puzzle_ids, num_examples
        length = CROP_SIDE * CROP_SIDE
        self.inputs = rng.integers(1, 12, (num_examples, length))
        self.labels = rng.integers(1, 12, (num_examples, length))
        self.puzzle_ids = rng.integers(1, num_puzzle_ids, num_examples)
        self.cells = window_cells(CROP_SIDE, 30, rng.integers(0, 30 - CROP_SIDE + 1, (num_examples, 2)))

    def __len__(self) -> int:
        return self.n

    def bucket_keys(self) -> np.ndarray:
        return np.full(self.n, CROP_SIDE)

    def get(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        return {"inputs": self.inputs[indices], "labels": self.labels[indices],
                "puzzle_ids": self.puzzle_ids[indices], "cells": self.cells[indices]}


def synthetic_data(shape: str, num_examples: int, num_puzzle_ids: int, seed: int = 0):
    from dis_rl.puzzles.base import PuzzleSet

    if shape == "arc_cropped":
        _, test = synthetic_data("arc", 1, num_puzzle_ids, seed)  # the model's full canvas (900 cells)
        return CroppedSynthetic(num_examples, num_puzzle_ids, seed), test

    vocab, grid = SHAPES[shape]
    rng = np.random.default_rng(seed)
    length = grid[0] * grid[1]
    sets = []
    for _ in range(2):
        sets.append(PuzzleSet(
            domain=shape, inputs=rng.integers(1, vocab, (num_examples, length)).astype(np.uint8),
            labels=rng.integers(1, vocab, (num_examples, length)).astype(np.uint8),
            puzzle_ids=rng.integers(1, num_puzzle_ids, num_examples).astype(np.int32),
            vocab_size=vocab, grid_shape=grid, num_puzzle_ids=num_puzzle_ids, name=f"synthetic-{shape}",
        ))
    return tuple(sets)


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure_row(shape: str, preset: str, batch: int, precision: str, device: str, threads: int,
                num_puzzle_ids: int, min_iters: int, min_seconds: float, compile_blocks: bool) -> dict:
    """One row, in this process: warm up one pass, then time passes until both minimums are met."""
    import torch

    from dis_rl.config import config_from_dict
    from dis_rl.train import Trainer

    if threads:
        torch.set_num_threads(threads)
    cfg = config_from_dict({
        "name": f"bench-{shape}-{preset}", "preset": preset,
        "train": {"batch_size": batch, "precision": precision, "device": device, "threads": threads,
                  "optimizer": "adam_atan2", "loss": "stablemax", "warmup_steps": 10, "compile": compile_blocks},
    })
    rss_before = _rss_mib()
    data = synthetic_data(shape, max(4 * batch, 64), num_puzzle_ids)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir=tmp, progress=False, data=data)
        dev = trainer.device
        cuda = dev.type == "cuda"

        def sync():
            if cuda:
                torch.cuda.synchronize(dev)

        trainer.method.train_round()  # warm-up: allocator, kernels, (compilation)
        sync()
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        iters, start = 0, time.perf_counter()
        while iters < min_iters or time.perf_counter() - start < min_seconds:
            trainer.method.train_round()
            iters += 1
        sync()
        seconds = (time.perf_counter() - start) / iters
        if cuda:
            peak = torch.cuda.max_memory_allocated(dev) / 2**20
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
        seq_len = CROP_SIDE * CROP_SIDE if shape == "arc_cropped" else trainer.seq_len
        flops = dis_pass_flops(cfg, seq_len, trainer.vocab_size, cfg.train.supervision_steps) * batch
        return {
            "shape": shape, "seq_len": seq_len, "preset": preset, "params": trainer.model.num_parameters(),
            "batch": batch, "iters": iters, "seconds_per_pass": seconds, "samples_per_s": batch / seconds,
            "calls_per_s": batch / seconds * trainer.method.calls_per_example(), "peak_mib": peak,
            "tflops": flops / seconds / 1e12, "device": str(dev), "precision": precision,
            # The denominator is measured here, right after the passes, under the same machine load.
            "peak_tflops": matmul_peak(str(dev), precision, threads) / 1e12,
        }


def matmul_peak(device: str, precision: str, threads: int) -> float:
    """Measured FLOP/s of a large square matmul in the run's dtype (the MFU denominator)."""
    import torch

    from dis_rl.device import resolve_device

    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    n = 8192 if dev.type == "cuda" else 1024
    a = torch.randn(n, n, device=dev, dtype=dtype)
    b = torch.randn(n, n, device=dev, dtype=dtype)
    for _ in range(3):
        a @ b
    reps = 20 if dev.type == "cuda" else 5
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return 2 * n**3 * reps / (time.perf_counter() - start)


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.3f}"


def format_table(rows: list[dict], header: str) -> str:
    lines = [header, "",
             "| shape | L | preset | params | batch | samples/s | calls/s | peak MiB | TFLOP/s | peak | MFU % |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['shape']} | | {r['preset']} | | {r['batch']} | error: {r['error']} | | | | | |")
            continue
        lines.append(
            f"| {r['shape']} | {r['seq_len']} | {r['preset']} | {r['params'] / 1e6:.2f}M | {r['batch']} "
            f"| {_num(r['samples_per_s'])} | {_num(r['calls_per_s'])} | {r['peak_mib']:,.0f} "
            f"| {r['tflops']:.3f} | {r['peak_tflops']:.3f} | {100 * r['tflops'] / r['peak_tflops']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="nqueens,sudoku,arc,arc_cropped",
                        help="comma-separated: nqueens, sudoku, arc, arc_cropped")
    parser.add_argument("--presets", default="compact,medium", help="comma-separated: compact, medium")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CPU sizes: small batches, few passes (default on CPU)")
    mode.add_argument("--full", action="store_true", help="GPU sizes: batch 192, 10 s per row (default on GPU)")
    parser.add_argument("--batch", type=int, default=0, help="one batch for every row (0: by mode)")
    parser.add_argument("--precision", default="", help="fp32 | bf16 (default: bf16 on GPU, fp32 on CPU)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: 1 on CPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the blocks (train.compile)")
    parser.add_argument("--row", help=argparse.SUPPRESS)  # internal: measure one row, print JSON
    args = parser.parse_args(argv)

    if args.row:
        print("ROW " + json.dumps(measure_row(**json.loads(args.row))), flush=True)
        return

    import torch

    from dis_rl.device import resolve_device

    dev = resolve_device(args.device)
    gpu = dev.type == "cuda"
    quick = args.quick or (not args.full and not gpu)
    precision = args.precision or ("bf16" if gpu else "fp32")
    threads = args.threads or (0 if gpu else 1)
    if threads:
        torch.set_num_threads(threads)
    rows = []
    for shape in args.shapes.split(","):
        if shape not in SHAPES:
            raise SystemExit(f"--shapes: unknown shape {shape!r}; expected some of {sorted(SHAPES)}")
        for preset in args.presets.split(","):
            batch = args.batch or (QUICK_BATCH[shape] if quick else 192)
            ids = 1_001 if quick or not shape.startswith("arc") else ARC_PUZZLE_IDS
            spec = {"shape": shape, "preset": preset, "batch": batch, "precision": precision, "device": str(dev),
                    "threads": threads, "num_puzzle_ids": ids,
                    "min_iters": 1 if quick else 5, "min_seconds": 5.0 if quick else 10.0,
                    "compile_blocks": args.compile}
            cmd = [sys.executable, str(Path(__file__).resolve()), "--row", json.dumps(spec)]
            env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
            found = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
            if done.returncode or not found:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1][:80]
                rows.append({"shape": shape, "preset": preset, "batch": batch, "error": last})
            else:
                rows.append(json.loads(found[0]))
            print(f"  measured {shape} {preset}", file=sys.stderr, flush=True)
    name = torch.cuda.get_device_name(dev) if gpu else f"CPU, {threads} thread(s)"
    load = f", load average {os.getloadavg()[0]:.1f}" if not gpu else ""
    header = (f"DIS optimisation pass (6 supervision steps, T 1, n 2) on {name}, {precision}{load}"
              f"{', torch.compile' if args.compile else ''}; MFU against a {precision} matmul timed in each row")
    print(format_table(rows, header))


if __name__ == "__main__":
    main()
