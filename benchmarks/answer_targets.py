"""Answer targets on N-Queens: the runs of one config under ``train.answer_target`` label / canonical /
nearest, read from their run folders (``eval_log.jsonl``): a markdown table of the final numbers
(mean [min-max] over the seeds of each target) and one figure of valid % against network calls,
all boards and the boards with several valid completions.

Runs (one thread each, the demo config, seeds S = 0, 1, 2):

    dis-rl train nqueens_dis train.answer_target=T train.seed=S --run-dir runs/answers/demo_T_sS
    python benchmarks/answer_targets.py runs/answers/demo_* --out docs/results/answer_targets_table.md \
        --figure docs/figures/answer_targets.png
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import yaml

from dis_rl.runs import read_jsonl


def read_run(run: Path) -> tuple[str, int, list[dict]]:
    """(answer target, seed, evaluation records) of a run folder."""
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    evals = read_jsonl(run / "eval_log.jsonl")
    return cfg["train"].get("answer_target", "label"), int(cfg["train"]["seed"]), evals


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    """``mean [min-max]`` over seeds, or the one value labelled as one seed."""
    if len(values) == 1:
        return f"{fmt.format(values[0])} (one seed)"
    return f"{fmt.format(sum(values) / len(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", default="")
    p.add_argument("--figure", default="")
    args = p.parse_args()
    by_target: dict[str, list[tuple[int, list[dict], Path]]] = defaultdict(list)
    for name in args.runs:
        run = Path(name)
        if not (run / "eval_log.jsonl").exists():
            continue
        target, seed, evals = read_run(run)
        if evals:
            by_target[target].append((seed, evals, run))

    lines = ["| answer target | seeds | valid % | valid %, boards with several completions | exact % | "
             "network calls | training s per run |", "|---|---|---:|---:|---:|---:|---:|"]
    for target in ("label", "canonical", "nearest"):
        runs = sorted(by_target.get(target, []), key=lambda r: r[0])
        if not runs:
            continue
        finals = [evals[-1] for _, evals, _ in runs]
        several = [100 * f["valid_by_answers"]["several"]["valid"] for f in finals if "valid_by_answers" in f]
        lines.append(
            f"| {target} | {', '.join(str(s) for s, _, _ in runs)} | {spread([100 * f['valid'] for f in finals])} | "
            f"{spread(several) if several else '-'} | {spread([100 * f['exact'] for f in finals])} | "
            f"{spread([f['network_calls'] for f in finals], '{:,.0f}')} | "
            f"{spread([f['train_s'] for f in finals], '{:,.0f}')} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.figure:
        plot(by_target, args.figure)


def plot(by_target: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dis_rl.plot_axes import count_axis

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    colours = {"label": "tab:gray", "canonical": "tab:blue", "nearest": "tab:red"}
    for target, runs in by_target.items():
        for i, (_, evals, _) in enumerate(sorted(runs, key=lambda r: r[0])):
            calls = [e["network_calls"] for e in evals]
            seeds = ", ".join(str(s) for s, _, _ in runs)
            label = f"{target} (seed{'s' if len(runs) > 1 else ''} {seeds})" if i == 0 else None
            axes[0].plot(calls, [100 * e["valid"] for e in evals], "o-", color=colours.get(target), ms=3,
                         alpha=0.85, label=label)
            several = [(c, 100 * e["valid_by_answers"]["several"]["valid"]) for c, e in zip(calls, evals)
                       if "valid_by_answers" in e]
            if several:
                axes[1].plot(*zip(*several), "o-", color=colours.get(target), ms=3, alpha=0.85, label=label)
    for ax, title in zip(axes, ("all 200 test boards", "the 49 boards with several completions")):
        ax.set_title(title)
        ax.set_xlabel("network calls (the no-grad rollouts of 'nearest' included)")
        ax.set_ylim(0, 102)
        count_axis(ax)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("valid %")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
