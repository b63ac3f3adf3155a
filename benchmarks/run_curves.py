"""Accuracy against network calls for arms made of finished run folders (one folder per seed).

For comparisons whose runs were trained one by one with `dis-rl train` (e.g. the Sudoku DIS vs TRM
runs of docs/results/sudoku_cpu.md) rather than by `dis-rl compare`: each ``--arm`` is
``LABEL=RUN,RUN,...``; the script reads every run's ``eval_log.jsonl``, draws each seed faintly and
the arm's mean with its min-max band over seeds (at the evaluation points all its seeds share), and
prints a markdown table of the final accuracy per seed and the arm's mean [min-max].

    python benchmarks/run_curves.py --arm "DIS=runs/a_s0,runs/a_s1" --arm "TRM=runs/b_s0,runs/b_s1" \\
        --title "Sudoku, 288k calls" --out docs/figures/sudoku_dis_vs_trm.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dis_rl.plot_axes import percent_axis  # noqa: E402
from dis_rl.runs import read_jsonl  # noqa: E402


def arm_curves(runs: list[Path], metric: str) -> tuple[np.ndarray, np.ndarray, list[list[tuple[int, float]]]]:
    """The evaluation points every run shares, the runs' values there ``[runs, points]``, and each
    run's own full curve."""
    curves = []
    for run in runs:
        log = run / "eval_log.jsonl"
        if not log.is_file():
            raise SystemExit(f"{run}: no eval_log.jsonl (not a finished dis-rl run folder)")
        curves.append([(int(r["network_calls"]), float(r[metric])) for r in read_jsonl(log)])
    shared = sorted(set.intersection(*(set(c for c, _ in curve) for curve in curves)))
    values = np.array([[dict(curve)[c] for c in shared] for curve in curves])
    return np.array(shared), values, curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", action="append", required=True, metavar="LABEL=RUN,RUN",
                        help="an arm: its label and its run folders, one per seed (repeatable)")
    parser.add_argument("--metric", default="valid", help="eval_log.jsonl field to plot (a share)")
    parser.add_argument("--title", default="accuracy against network calls")
    parser.add_argument("--out", required=True, help="figure file (.png)")
    args = parser.parse_args()

    fig, ax = plt.subplots(figsize=(7, 4.5))
    rows, everything = [], []
    for spec in args.arm:
        label, _, folders = spec.partition("=")
        runs = [Path(f) for f in folders.split(",") if f]
        if not label or not runs:
            raise SystemExit(f"--arm {spec!r}: expected LABEL=RUN[,RUN...]")
        calls, values, curves = arm_curves(runs, args.metric)
        (line,) = ax.plot(calls, 100 * values.mean(0), "o-", label=f"{label} (mean of {len(runs)} seed(s))")
        if len(runs) > 1:
            ax.fill_between(calls, 100 * values.min(0), 100 * values.max(0), color=line.get_color(), alpha=0.2)
        for curve in curves:
            ax.plot([c for c, _ in curve], [100 * v for _, v in curve], color=line.get_color(), alpha=0.35, lw=0.8)
        finals = [curve[-1][1] for curve in curves]
        everything += [100 * v for curve in curves for _, v in curve]
        rows.append(f"| {label} | {curves[0][-1][0]:,} | {' / '.join(f'{100 * v:.1f}' for v in finals)} | "
                    f"{100 * np.mean(finals):.1f} [{100 * min(finals):.1f}-{100 * max(finals):.1f}] |")
    ax.set(xlabel="network calls", ylabel=f"{args.metric} (%)", title=args.title)
    percent_axis(ax, everything)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print("| arm | calls at the end | final % per seed | mean [min-max] |\n|---|---:|---:|---:|")
    print("\n".join(rows))
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
