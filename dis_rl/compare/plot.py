"""A comparison's pictures (matplotlib, headless): ``compare.png`` (valid accuracy against network calls,
training seconds and env steps; seed mean and min-max band) and its TensorBoard scalars."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from dis_rl.compare.stats import ArmSummary  # noqa: E402
from dis_rl.plot_axes import count_axis, percent_axis  # noqa: E402

# Arms drawn later are thinner, dashed and with smaller markers of another shape, so that two arms
# on the same values (e.g. both at 0%) stay visible: the earlier, wider line shows around the later one.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_DASHES = ("-", "--", ":", "-.")


def line_style(i: int) -> dict:
    """The matplotlib style of the ``i``-th arm's line in ``compare.png``."""
    return {"marker": _MARKERS[i % len(_MARKERS)], "ls": _DASHES[i % len(_DASHES)],
            "lw": max(3.0 - 0.6 * i, 0.8), "ms": max(8.0 - 1.5 * i, 3.0), "zorder": 2 + i}


def comparison_figure(summaries: list[ArmSummary], target: float | None = None, log_x: bool = False):
    """The figure of `plot_comparison` (open: the caller saves and closes it)."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    for ax, key, label in ((axes[0], "calls", "network calls (cumulative, all examples)"),
                           (axes[1], "seconds", "training time (s, evaluation excluded)"),
                           (axes[2], "env_steps", "environment steps (refinement steps of training puzzles)")):
        for i, s in enumerate(summaries):
            x = getattr(s, key)
            seeds = f"{len(s.seeds)} seed{'s' if len(s.seeds) > 1 else ''}"
            ax.plot(x, [100 * v for v in s.valid_mean], label=f"{s.name} ({seeds})", **line_style(i))
            if len(s.seeds) > 1:
                ax.fill_between(x, [100 * v for v in s.valid_min], [100 * v for v in s.valid_max], alpha=0.2)
        if target is not None and target > 0:
            ax.axhline(100 * target, color="grey", ls=":", lw=1, label="baseline final")
        percent_axis(ax, [100 * v for s in summaries for v in s.valid_max])
        count_axis(ax, log=log_x)
        ax.set_xlabel(label)
        ax.set_ylabel("test valid completions (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("accuracy vs compute (mean, min-max band over seeds)")
    fig.tight_layout()
    return fig


def plot_comparison(summaries: list[ArmSummary], path: Path, target: float | None = None, log_x: bool = False) -> Path:
    fig = comparison_figure(summaries, target, log_x)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_tensorboard(summaries: list[ArmSummary], tb_dir: Path) -> None:
    writer = SummaryWriter(str(tb_dir))
    for s in summaries:
        for c, sec, v in zip(s.calls, s.seconds, s.valid_mean):
            writer.add_scalar(f"compare/valid_vs_network_calls/{s.name}", v, int(c))
            writer.add_scalar(f"compare/valid_vs_train_ms/{s.name}", v, int(1000 * sec))
    writer.close()
