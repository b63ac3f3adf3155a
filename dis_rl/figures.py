"""The refinement strip (matplotlib, headless): what each step of a model did to one puzzle.

The strip follows the paper's Fig. 6: for one puzzle, the input, then per step the DIS target
(top row) and the model's guided prediction (bottom row); cells that changed since the previous
frame of the same row are outlined, so one sees what each step did. Boards are drawn by the
domain's own ``render_rgb`` (ARC palette for ARC, boards for N-Queens and Sudoku).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from dis_rl.puzzles import get_domain  # noqa: E402
from dis_rl.puzzles.arc import example_names  # noqa: E402
from dis_rl.puzzles.base import PAD, Domain  # noqa: E402
from dis_rl.puzzles.solver_order import solver_order  # noqa: E402
from dis_rl.rollout import rollout  # noqa: E402
from dis_rl.targets import make_frames  # noqa: E402

CELL_PX = 16
IMAGE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")  # what `dis-rl show --out` may end in
OUTLINE = "#ff00ff"  # changed cells (magenta: not in the ARC palette or on the boards)


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
        names = example_names(puzzles)
        hits = np.flatnonzero((names == puzzle) | np.char.startswith(names, f"{puzzle}/"))
        if len(hits):
            return int(hits[0])
    raise IndexError(f"unknown puzzle {puzzle!r} in the {split} split: pass an index 0..{count - 1}"
                     + (" or an id <task id>/<test pair>" if "task_id" in extras else ""))


def model_strip(model, cfg, puzzles, index: int, w: float = 1.0, seed: int = 0, device="cpu", title: str = ""):
    """`refinement_strip` of ``model`` on example ``index`` of ``puzzles``: the run's DIS targets
    (its target generator seeded with ``seed``) and the guided predictions of each step."""
    batch = puzzles.get(np.array([index]))
    tc = cfg.train
    inputs = torch.from_numpy(batch["inputs"]).to(device)
    labels = torch.from_numpy(batch["labels"]).to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    order = None
    if tc.targets == "solver":
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
