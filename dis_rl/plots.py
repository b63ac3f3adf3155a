"""End-of-run figures (matplotlib, headless): accuracy vs network calls, distance vs step."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dis_rl.plot_axes import count_axis, percent_axis  # noqa: E402
from dis_rl.runs import read_jsonl  # noqa: E402


def plot_run(run_dir: str | Path) -> list[Path]:
    """Write ``accuracy_vs_calls.png`` and ``hamming_per_step.png`` into the run folder."""
    run_dir = Path(run_dir)
    evals = read_jsonl(run_dir / "eval_log.jsonl")
    if not evals:
        return []
    out = []
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    calls = [e["network_calls"] for e in evals]
    valid, exact = [100 * e["valid"] for e in evals], [100 * e["exact"] for e in evals]
    ax.plot(calls, valid, "o-", label="valid (verifier)")
    ax.plot(calls, exact, "s--", label="exact match to label")
    percent_axis(ax, valid + exact)
    count_axis(ax)
    out.append(_finish(fig, ax, "network calls (cumulative, all examples)", "test accuracy (%)", run_dir.name,
                       run_dir / "accuracy_vs_calls.png"))

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    last = evals[-1]["hamming_per_step"]
    ax.plot(range(1, len(last) + 1), last, "o-", label=f"batch {evals[-1]['batch']}")
    if len(evals) > 1:
        first = evals[0]["hamming_per_step"]
        ax.plot(range(1, len(first) + 1), first, "o:", alpha=0.6, label=f"batch {evals[0]['batch']}")
    ax.set_ylim(bottom=0)
    ax.set_xticks(range(1, len(last) + 1))
    out.append(_finish(fig, ax, "supervision step", "mean Hamming distance to label",
                       f"{run_dir.name}: each step should improve the answer", run_dir / "hamming_per_step.png"))
    return out


def _finish(fig, ax, xlabel: str, ylabel: str, title: str, path: Path) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
