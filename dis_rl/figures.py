"""Guidance figures (matplotlib, headless): the ``w`` sweep's outputs (plot, tables,
TensorBoard scalars) and the refinement strip.

The strip follows the paper's Fig. 6: for one puzzle, the input, then per step the DIS target
(top row) and the model's guided prediction (bottom row); cells that changed since the previous
frame of the same row are outlined, so one sees what each step did. Boards are drawn by the
domain's own ``render_rgb`` (ARC palette for ARC, boards for N-Queens and Sudoku).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from dis_rl.puzzles.base import PAD, Domain  # noqa: E402

if TYPE_CHECKING:
    from dis_rl.guidance import SweepResult

CELL_PX = 16
IMAGE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")  # what `dis-rl show --out` may end in
OUTLINE = "#ff00ff"  # changed cells (magenta: not in the ARC palette or on the boards)


def plot_sweep(result: SweepResult, path: str | Path) -> Path:
    """Four panels: final accuracy vs ``w``; Hamming distance, mean margin and share of positive
    margins per step, one line per ``w``. A point far off the others' scale (``w = 0``'s first
    step reads the untrained answer) is marked at the top edge so the other curves stay legible."""
    from dis_rl.plot_axes import clip_outliers, percent_axis

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
    md.write_text(result.to_markdown() + "\n\nPer step:\n\n" + result.per_step_markdown() + "\n")
    table = out_dir / "sweep_w.csv"
    table.write_text(result.to_csv())
    png = plot_sweep(result, out_dir / "sweep_w.png")
    write_sweep_tensorboard(result, out_dir / "tb", tb_tag)
    return [md, table, png, out_dir / "tb"]


def write_sweep_tensorboard(result: SweepResult, log_dir: str | Path, tag: str = "sweep_w") -> None:
    """Final metrics against ``round(100 * w)`` (TensorBoard steps are integers), and each ``w``'s
    per-step curves against the step index."""
    from torch.utils.tensorboard import SummaryWriter

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


def _draw(ax, domain: Domain, tokens: np.ndarray, changed: np.ndarray | None, title: str) -> None:
    image = domain.render_rgb(tokens, cell=CELL_PX)
    ax.imshow(image, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    if changed is None:
        return
    rows, cols = domain.grid_shape
    height, width = image.shape[:2]
    for index in np.flatnonzero(changed):
        r, c = divmod(int(index), cols)
        x, y = c * CELL_PX, r * CELL_PX
        if r < rows and x < width and y < height:  # ARC images show only the decoded grid
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), CELL_PX, CELL_PX, fill=False, ec=OUTLINE, lw=1.6))


def refinement_strip(
    domain: Domain,
    inputs: np.ndarray,
    labels: np.ndarray,
    targets: np.ndarray,
    predictions: np.ndarray,
    title: str = "",
):
    """A figure: column 0 the input (top) and label (bottom), then per step the DIS target (top)
    and the prediction (bottom); outlined cells changed since the previous frame of the row."""
    steps = len(predictions)
    # Height: two rows of boards plus room for each row's titles and the caption (the bottom row's
    # titles must not sit on the top row's boards).
    fig, axes = plt.subplots(2, steps + 1, figsize=(1.9 * (steps + 1), 5.0), squeeze=False)
    _draw(axes[0, 0], domain, inputs, None, "input")
    _draw(axes[1, 0], domain, labels, None, "label")
    prev_t, prev_p = inputs, inputs
    for s in range(steps):
        _draw(axes[0, s + 1], domain, targets[s], targets[s] != prev_t, f"target {s + 1}")
        ok = bool(domain.verify(inputs[None], predictions[s][None], labels[None])[0])
        _draw(axes[1, s + 1], domain, predictions[s], predictions[s] != prev_p,
              f"step {s + 1}" + (" (valid)" if ok else ""))
        prev_t, prev_p = targets[s], predictions[s]
    if title:
        fig.suptitle(title, fontsize=9)
    axes[0, 1].set_ylabel("DIS targets", fontsize=8)
    axes[1, 1].set_ylabel("predictions", fontsize=8)
    outline = Rectangle((0, 0), 1, 1, fill=False, ec=OUTLINE, lw=1.6)
    fig.legend([outline], ["cell changed since the previous frame of its row"], loc="lower center", fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1), h_pad=1.6)
    return fig


def figure_to_array(fig) -> np.ndarray:
    """RGB ``[H, W, 3]`` uint8 of a drawn figure (for TensorBoard)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def puzzle_index(puzzles, puzzle: int | str, split: str) -> int:
    """The row of ``puzzle`` in ``puzzles``: an index, its string, or (ARC) an id as the envs name it,
    ``<task id>/<test pair>``, or a bare task id for its first test pair. `IndexError` otherwise."""
    count = len(puzzles)
    if isinstance(puzzle, str) and puzzle.isdigit():
        puzzle = int(puzzle)
    if isinstance(puzzle, int):
        if not 0 <= puzzle < count:
            raise IndexError(f"--puzzle must lie in 0..{count - 1} for the {split} split, got {puzzle}")
        return puzzle
    extras = getattr(puzzles, "extras", {}) or {}
    if "task_id" in extras and "test_index" in extras:
        from dis_rl.puzzles.arc import example_names

        names = example_names(puzzles)
        hits = np.flatnonzero((names == puzzle) | np.char.startswith(names, f"{puzzle}/"))
        if len(hits):
            return int(hits[0])
    raise IndexError(f"unknown puzzle {puzzle!r} in the {split} split: pass an index 0..{count - 1}"
                     + (" or an id <task id>/<test pair>" if "task_id" in extras else ""))


def model_strip(model, cfg, puzzles, index: int, w: float = 1.0, seed: int = 0, device="cpu", title: str = ""):
    """`refinement_strip` of ``model`` on example ``index`` of ``puzzles``: the run's DIS targets
    (its target generator seeded with ``seed``) and the guided predictions of each step."""
    import torch

    from dis_rl.puzzles import get_domain
    from dis_rl.rollout import rollout
    from dis_rl.targets import make_frames

    batch = puzzles.get(np.array([index]))
    tc = cfg.train
    inputs = torch.from_numpy(batch["inputs"]).to(device)
    labels = torch.from_numpy(batch["labels"]).to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    order = None
    if tc.targets == "solver":
        from dis_rl.puzzles.solver_order import solver_order

        order = torch.from_numpy(solver_order(puzzles.domain, batch["inputs"], batch["labels"])).to(device)
    frames = make_frames(tc.targets, inputs, labels, tc.supervision_steps, model.vocab_size, generator,
                         cells=tc.path_cells, order=order).clamp(min=PAD)  # canvas frames' IGNORE drawn as PAD
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out_roll = rollout(model, inputs, torch.from_numpy(batch["puzzle_ids"]).to(device), tc.supervision_steps,
                           tc.step_input, float(w))
    model.train(was_training)
    preds = np.stack([p[0].cpu().numpy() for p in out_roll.predictions])
    return refinement_strip(get_domain(puzzles.domain), batch["inputs"][0], batch["labels"][0],
                            frames[:, 0].cpu().numpy(), preds, title=title)


def show_checkpoint(
    checkpoint: str | Path,
    puzzle: int | str = 0,
    w: float = 1.0,
    out: str | Path | None = None,
    split: str = "test",
    seed: int = 0,
    device: str = "auto",
    tensorboard: bool = True,
) -> Path:
    """``dis-rl show``: draw one puzzle's refinement as a PNG (default
    ``runs/show/<run name>/puzzle_<I>_w<W>.png`` under the working directory)
    and log it to TensorBoard beside it. The DIS targets come from the run's target generator,
    seeded with ``seed``."""
    from dis_rl.evaluate import load_run
    from dis_rl.guidance import check_w
    from dis_rl.runs import RunFolderError, check_output, checkpoint_inputs, default_output

    check_w(float(w), "w")  # before any work: nan would draw an image of nothing

    if out is not None and str(out).strip() and Path(out).suffix.lower().lstrip(".") not in IMAGE_FORMATS:
        raise RunFolderError(f"--out {out}: the strip is an image; name a file ending in one of "
                             f"{', '.join('.' + f for f in IMAGE_FORMATS)}")
    run = load_run(checkpoint, split, device)
    check_output(out, checkpoint_inputs(checkpoint, run.checkpoint.path))
    model, cfg, ckpt, dev, puzzles = run.model, run.cfg, run.checkpoint, run.device, run.puzzles
    puzzle = puzzle_index(puzzles, puzzle, split)
    fig = model_strip(model, cfg, puzzles, puzzle, w, seed, dev,
                      title=f"{puzzles.domain} {split} puzzle {puzzle}, w={w:g} ({ckpt.path.name})")
    path = Path(out) if out is not None else default_output(ckpt.path, "show") / f"puzzle_{puzzle}_w{w:g}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    if tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        with SummaryWriter(str(path.parent / "tb")) as writer:
            writer.add_image(f"show/{split}_{puzzle}_w{w:g}", figure_to_array(fig), 0, dataformats="HWC")
    plt.close(fig)
    return path
