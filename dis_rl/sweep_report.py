"""The ``w`` sweep's outputs, in one place: the markdown tables and verdict, the CSV, the figure
and the TensorBoard scalars of a `dis_rl.guidance.SweepResult` (``dis-rl sweep-w`` writes all four
with `write_sweep`; the showcase and the benchmarks print the tables).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from dis_rl.guidance import SweepResult  # noqa: E402
from dis_rl.plot_axes import clip_outliers, percent_axis  # noqa: E402


def sweep_markdown(result: SweepResult) -> str:
    """The table of final numbers per ``w`` and the verdict (what ``dis-rl sweep-w`` prints)."""
    has_votes = any(r.votes for r in result.rows)
    ks = sorted(result.rows[0].votes) if has_votes else []
    bands = [name for name, _, _ in result.rows[0].by_answers]
    head = "| w | valid % | exact % |" + "".join(f" pass@{k} % |" for k in ks)
    head += "".join(f" valid % ({name} answer{'' if name == '1' else 's'}) |" for name in bands)
    head += " Hamming per step (to label) | mean margin per step | margin > 0 % (last step) |"
    lines = [
        f"Guidance sweep on {result.num_puzzles} {result.domain} test puzzles, {result.steps} steps "
        "(valid/exact after the last step).",
        "",
        head,
        "|" + "---:|" * (head.count("|") - 1),
    ]
    for r in result.rows:
        votes = "".join(f" {100 * r.votes[k]:.1f} |" for k in ks) if has_votes else ""
        votes += "".join(f" {100 * v:.1f} |" for _, _, v in r.by_answers)
        lines.append(
            f"| {r.w:g} | {100 * r.valid:.1f} | {100 * r.exact:.1f} |{votes} "
            f"{' → '.join(f'{h:.2f}' for h in r.hamming_per_step)} | "
            f"{' '.join(f'{m:+.3f}' for m in r.margin_per_step)} | {100 * r.positive_per_step[-1]:.1f} |"
        )
    lines += ["", verdict(result)]
    return "\n".join(lines)

def per_step_markdown(result: SweepResult) -> str:
    """Every ``w`` and step: accuracy, distances and margins."""
    # Hamming: to the stored label; distance: to the nearest solution (docs/GUIDANCE.md).
    lines = ["| w | step | valid % | exact % | Hamming (to label) | distance (to nearest solution) | margin "
             "| margin > 0 % |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result.rows:
        for s in range(result.steps):
            lines.append(
                f"| {r.w:g} | {s + 1} | {100 * r.valid_per_step[s]:.1f} | {100 * r.exact_per_step[s]:.1f} | "
                f"{r.hamming_per_step[s]:.2f} | {r.distance_per_step[s]:.2f} | {r.margin_per_step[s]:+.4f} | "
                f"{100 * r.positive_per_step[s]:.1f} |"
            )
    return "\n".join(lines)

def verdict(result: SweepResult) -> str:
    """Which ``w`` won, and whether the margin at ``w = 1`` pointed the same way (Prop. 4.1)."""
    best = result.best()
    text = f"best w: {best.w:g} (valid {100 * best.valid:.1f}%)."
    plain = result.row(1.0)
    if plain is None:
        return text
    m = plain.margin_per_step[-1]
    direction = "raising w above 1" if m > 0 else "lowering w below 1"
    text += (
        f" Mean margin at w=1, last step: {m:+.4f} ({100 * plain.positive_per_step[-1]:.0f}% of cells "
        f"positive), so the label's loss falls by {direction}"
    )
    if best.w == 1.0 or abs(best.valid - plain.valid) < 1e-12:
        return text + "; accuracy did not improve away from w=1."
    agrees = (best.w > 1) == (m > 0)
    return text + f"; the best w {'agrees with' if agrees else 'contradicts'} that sign."

def sweep_csv(result: SweepResult) -> str:
    """One row per ``w`` and step; the final step's row also carries the ARC vote's pass@k."""
    buf = io.StringIO()
    out = csv.writer(buf)
    header = ["w", "step", "valid", "exact", "hamming", "distance", "margin", "positive_share", "final"]
    ks = sorted(result.rows[0].votes) if result.rows and result.rows[0].votes else []
    out.writerow(header + [f"pass@{k}" for k in ks])
    for r in result.rows:
        for s in range(result.steps):
            final = s == result.steps - 1
            out.writerow(
                [r.w, s + 1, r.valid_per_step[s], r.exact_per_step[s], r.hamming_per_step[s],
                 r.distance_per_step[s], r.margin_per_step[s], r.positive_per_step[s], int(final)]
                + [r.votes[k] if final else "" for k in ks]
            )
    return buf.getvalue()


def plot_sweep(result: SweepResult, path: str | Path) -> Path:
    """Four panels: final accuracy vs ``w``; Hamming distance, mean margin and share of positive
    margins per step, one line per ``w``. A point far off the others' scale (``w = 0``'s first
    step reads the untrained answer) is marked at the top edge so the other curves stay legible."""
    path = Path(path)
    ws = [r.w for r in result.rows]
    steps = np.arange(1, result.steps + 1)
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    ax = axes[0, 0]
    curves = [[100 * r.valid for r in result.rows], [100 * r.exact for r in result.rows]]
    ax.plot(ws, curves[0], "o-", label="valid (verifier)")
    ax.plot(ws, curves[1], "s--", label="exact match")
    for k in sorted(result.rows[0].votes or {}):
        curves.append([100 * r.votes[k] for r in result.rows])
        ax.plot(ws, curves[-1], "^:", label=f"pass@{k} (voting)")
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="guidance scale w", ylabel="accuracy after the last step (%)", title="accuracy vs w")
    percent_axis(ax, [v for c in curves for v in c])
    ax.legend()
    panels = [
        (axes[0, 1], "hamming_per_step", "mean Hamming distance to label", "contraction per step"),
        (axes[1, 0], "margin_per_step", "mean advantage margin", "margin dl[y] - E_pi_w[dl]"),
        (axes[1, 1], "positive_per_step", "share of cells with margin > 0", "positive margins"),
    ]
    for ax, key, ylabel, title in panels:
        series, colors = {}, {}
        for r in result.rows:
            (line,) = ax.plot(steps, getattr(r, key), "o-", label=f"w={r.w:g}")
            series[f"w={r.w:g}"], colors[f"w={r.w:g}"] = getattr(r, key), line.get_color()
        ax.set(xlabel="step", ylabel=ylabel, title=title)
        ax.set_xticks(steps)
        if key == "positive_per_step":
            ax.set_ylim(0, 1.02)
        else:
            clip_outliers(ax, steps, series, colors)
        ax.legend(fontsize=7, ncol=2)
    axes[1, 0].axhline(0.0, color="grey", lw=0.8)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle(f"guidance sweep: {result.num_puzzles} {result.domain} puzzles")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_sweep(result: SweepResult, out_dir: str | Path, tb_tag: str = "sweep_w") -> list[Path]:
    """``sweep_w.md``, ``sweep_w.csv``, ``sweep_w.png`` and TensorBoard scalars under ``out_dir/tb``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "sweep_w.md"
    md.write_text(sweep_markdown(result) + "\n\nPer step:\n\n" + per_step_markdown(result) + "\n")
    table = out_dir / "sweep_w.csv"
    table.write_text(sweep_csv(result))
    png = plot_sweep(result, out_dir / "sweep_w.png")
    write_sweep_tensorboard(result, out_dir / "tb", tb_tag)
    return [md, table, png, out_dir / "tb"]


def write_sweep_tensorboard(result: SweepResult, log_dir: str | Path, tag: str = "sweep_w") -> None:
    """Final metrics against ``round(100 * w)`` (TensorBoard steps are integers), and each ``w``'s
    per-step curves against the step index."""
    with SummaryWriter(str(log_dir)) as writer:
        for r in result.rows:
            x = int(round(100 * r.w))
            writer.add_scalar(f"{tag}/valid_vs_100w", r.valid, x)
            writer.add_scalar(f"{tag}/exact_vs_100w", r.exact, x)
            writer.add_scalar(f"{tag}/margin_last_step_vs_100w", r.margin_per_step[-1], x)
            for k, v in (r.votes or {}).items():
                writer.add_scalar(f"{tag}/pass@{k}_vs_100w", v, x)
            for s in range(result.steps):
                writer.add_scalar(f"{tag}/w={r.w:g}/hamming", r.hamming_per_step[s], s + 1)
                writer.add_scalar(f"{tag}/w={r.w:g}/margin", r.margin_per_step[s], s + 1)
                writer.add_scalar(f"{tag}/w={r.w:g}/valid", r.valid_per_step[s], s + 1)
