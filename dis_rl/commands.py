"""The commands that start from a checkpoint: ``dis-rl eval`` (plain, ``--vote``, ``--samples``),
``sweep-w``, ``show``, ``export`` and what ``demo`` shows after training, as Python functions.

Each one loads the checkpoint through `dis_rl.loading`, checks its outputs before any work
(`dis_rl.runs.check_output`: never an input, never inside a checkpoint), calls the math
(`dis_rl.evaluate`, `dis_rl.guidance`, `dis_rl.vote`) on the model and puzzles, and hands the result
to the drawing and writing modules (`dis_rl.figures`, `dis_rl.sweep_report`, `dis_rl.export`). This
floor sits above all of them and the agents, so the math and the drawing never import each other
or a path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from safetensors.torch import save_file
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from dis_rl.agents.cfg_agent import CFGAgent
from dis_rl.checkpoint import (
    FORMAT,
    VERSION,
    CheckpointError,
    _json_default,
    atomic_folder,
    evaluation_state,
    load_checkpoint,
    resolve_checkpoint,
)
from dis_rl.data import unique_answers
from dis_rl.evaluate import EvalResult, evaluate
from dis_rl.export import MAX_BYTES, check_export_target
from dis_rl.figures import IMAGE_FORMATS, figure_to_array, model_strip, puzzle_index
from dis_rl.guidance import SweepResult, check_w, sweep_w
from dis_rl.loading import load_run
from dis_rl.puzzles.arc_vote import check_max_aug, evaluate_votes
from dis_rl.puzzles.base import PuzzleSet
from dis_rl.registration import make_refine_env
from dis_rl.resources import CHECKPOINTS_DIR
from dis_rl.runs import RunFolderError, check_output, checkpoint_inputs, default_output
from dis_rl.sweep_report import sweep_markdown, write_sweep
from dis_rl.vote import arc_vote_source, model_predictor, rule_vote


def evaluate_checkpoint(checkpoint: str, split: str = "test", device: str = "auto",
                        progress: bool = False) -> EvalResult:
    """``dis-rl eval``: rebuild the run's data and model and evaluate on ``split``."""
    run = load_run(checkpoint, split, device)
    model, cfg, dev, puzzles = run.model, run.cfg, run.device, run.puzzles
    if not isinstance(puzzles, PuzzleSet):
        raise ValueError("split=train needs a materialised training set; this domain augments on the fly")
    tc = cfg.train
    return evaluate(model, puzzles, tc.supervision_steps, tc.step_input, tc.eval_batch_size, device=dev,
                    precision=tc.precision, progress=progress, unique=unique_answers(cfg.data))

def vote_checkpoint(
    checkpoint: str,
    max_aug: int | None = None,
    submission_path: str | Path | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    ks: tuple[int, ...] = (1, 2),
    progress: bool = True,
):
    """Vote over the first `max_aug` augmentations (all if None) of every test pair of the run's ARC
    evaluation tasks; returns the `VoteResult` and writes ``submission.json`` if asked."""
    check_max_aug(max_aug)

    run = load_run(checkpoint, "test", device)
    check_output(submission_path, checkpoint_inputs(checkpoint, run.checkpoint.path), "--submission")
    model, cfg, dev = run.model, run.cfg, run.device
    source = arc_vote_source(model, cfg)
    tc = cfg.train
    predict = model_predictor(model, tc.supervision_steps, tc.step_input, dev, tc.precision)
    ks = tuple(sorted({*ks, *((max_aug,) if max_aug and max_aug > 2 else ())}))
    return evaluate_votes(source, predict, batch_size=batch_size or tc.eval_batch_size, max_aug=max_aug,
                          ks=ks, submission_path=submission_path, progress=progress)

def rule_vote_checkpoint(checkpoint: str, views: int = 8, samples: int = 0, temperature: float = 1.0, seed: int = 0,
                         device: str = "auto", split: str = "test") -> dict:
    """``dis-rl eval CKPT --vote N [--samples K]`` for Sudoku and N-Queens runs."""
    if views < 1 or samples < 0:
        raise ValueError(f"views must be >= 1 and samples >= 0, got views={views}, samples={samples}")

    run = load_run(checkpoint, split, device)
    tc = run.cfg.train
    return rule_vote(run.model, run.puzzles, tc.supervision_steps, tc.step_input, views, samples, temperature, seed,
                     tc.eval_batch_size, run.device, tc.precision, run.cfg.model.calls_per_step)

def sweep_checkpoint(
    checkpoint: str | Path,
    ws: Sequence[float],
    split: str = "test",
    out_dir: str | Path | None = None,
    device: str = "auto",
    max_aug: int | None = 8,
    save: bool = True,
    progress: bool = False,
) -> tuple[SweepResult, Path | None]:
    """``dis-rl sweep-w``: rebuild the run's data and model, sweep, save (default
    ``runs/sweep_w/<run name>`` under the working directory). On an ARC run's test split the sweep
    covers the first ``max_aug`` augmentations of each test pair and also votes over them (the
    predictor and confidence rule of ``dis-rl eval --vote``)."""
    # Refused before any work or file: a sweep over nothing, or over a w that cannot be plotted.
    if not ws:
        raise ValueError("ws needs at least one guidance scale")
    for w in ws:
        check_w(float(w), "ws")
    if len(set(ws)) != len(ws):
        raise ValueError(f"ws lists a value more than once: {list(ws)}")
    check_max_aug(max_aug)
    run = load_run(checkpoint, split, device)
    model, cfg, ckpt, dev = run.model, run.cfg, run.checkpoint, run.device
    if save:  # before the sweep: an output folder that is an input or inside a checkpoint is refused
        check_output(out_dir, checkpoint_inputs(checkpoint, ckpt.path), folder=True)
    if cfg.data.domain == "arc" and split == "test":
        puzzles = arc_vote_source(model, cfg)  # every augmentation: per-step numbers and votes
    else:
        puzzles = run.puzzles
    tc = cfg.train
    result = sweep_w(model, puzzles, ws, tc.supervision_steps, tc.step_input, tc.eval_batch_size, dev,
                     tc.precision, max_aug=max_aug, progress=progress)
    if not save:
        return result, None
    folder = Path(out_dir) if out_dir is not None else default_output(ckpt.path, "sweep_w")
    write_sweep(result, folder)
    return result, folder

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
        with SummaryWriter(str(path.parent / "tb")) as writer:
            writer.add_image(f"show/{split}_{puzzle}_w{w:g}", figure_to_array(fig), 0, dataformats="HWC")
    plt.close(fig)
    return path

def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, evaluate_split: str | None = "test",
                      max_bytes: int = MAX_BYTES) -> Path:
    """Write ``out_dir/{model.safetensors, meta.json}``; re-measure accuracy on ``evaluate_split``
    (None keeps the metrics stored in the checkpoint). Refuses folders over ``max_bytes``."""
    ckpt = load_checkpoint(checkpoint, with_optim=True)
    out_dir = check_export_target(checkpoint, ckpt.path, out_dir)
    weights, which = evaluation_state(ckpt)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "config": ckpt.meta["config"],
        "data": ckpt.meta["data"],
        "seed": ckpt.meta.get("seed"),
        "commit": ckpt.meta.get("commit", "unknown"),
        "parameters": ckpt.meta.get("parameters"),
        "training": {
            **{k: v for k, v in ckpt.meta.get("trainer", {}).items() if k != "stream"},
            "weights": which,
        },
        "metrics": ckpt.meta.get("metrics", {}),
        "exported_from": str(ckpt.path),
        "optim": {},
        "step": ckpt.meta.get("step"),
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with atomic_folder(out_dir) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, str(tmp / "model.safetensors"))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        if evaluate_split is not None:
            result = evaluate_checkpoint(str(tmp), split=evaluate_split, device="cpu")
            meta["metrics"] = {**result.summary(), "split": evaluate_split, "num_puzzles": result.num_puzzles,
                               "valid_per_step": result.valid_per_step}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        size = sum(p.stat().st_size for p in tmp.iterdir())
        if size > max_bytes:
            raise ValueError(f"exported checkpoint is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB "
                             "limit: export a smaller model")
    return out_dir


# What `dis-rl demo` shows after its short run: the shipped N-Queens checkpoint's w table and one env
# episode solved by CFGAgent, so a new user sees a capable model within minutes.
SHIPPED_CHECKPOINT = CHECKPOINTS_DIR / "nqueens_dis"
SHOWCASE_WS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


def demo_showcase(checkpoint: str | Path | None = None, ws: Sequence[float] = SHOWCASE_WS,
                  max_tries: int = 50, progress: bool = False) -> str:
    """The text to print: the guidance sweep on the checkpoint's test boards and one rendered
    NQueensRefine-v0 episode (ansi) solved by the guided agent at the best ``w``. Returns a short
    explanation instead when there is no checkpoint (nothing is raised)."""
    path = Path(checkpoint) if checkpoint is not None else SHIPPED_CHECKPOINT
    try:
        resolve_checkpoint(path)
    except CheckpointError:
        return (f"(no reference checkpoint at {path}: the w table and the agent episode are skipped. "
                "Make one with `dis-rl train nqueens_dis_reference` and "
                "`dis-rl export runs/nqueens_dis_reference dis_rl/checkpoints/nqueens_dis`.)")
    result, _ = sweep_checkpoint(path, ws, save=False, device="cpu", progress=progress)
    best = result.best()
    agent = CFGAgent(path, w=best.w)
    data = agent.config.data
    if data.domain != "nqueens":
        return sweep_markdown(result) + f"\n(the episode needs an N-Queens checkpoint; this one is {data.domain})"
    env = make_refine_env(data, render_mode="ansi", split="test")
    lines = [f"Reference checkpoint {path}", "", sweep_markdown(result), ""]
    for puzzle in tqdm(range(min(max_tries, data.num_test)), desc="CFGAgent episodes", unit="board",
                       disable=not progress, leave=False, dynamic_ncols=True):
        episode = agent.run_episode(env, seed=0, options={"puzzle": puzzle}, render=True)
        if episode["solved"]:
            lines += [f"CFGAgent (w={best.w:g}) solving test board {puzzle} in {episode['steps']} step(s) "
                      f"(rewards {', '.join(f'{r:.3f}' for r in episode['rewards'])}):", "", episode["frames"][-1]]
            break
    else:
        lines.append(f"CFGAgent (w={best.w:g}) solved none of the first {max_tries} test boards.")
    env.close()
    return "\n".join(lines)
