"""ARC voting evaluation of a trained model (``dis-rl eval CKPT --vote N``).

The model is a predictor for `dis_rl.puzzles.arc_vote.evaluate_votes`: every augmented copy of a
test input runs the training schedule (``train.supervision_steps`` refinement steps); its
confidence is the mean top-token probability of the final step over the cells it predicts as
part of the grid, which breaks ties between grids with equal votes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dis_rl.config import ConfigError
from dis_rl.device import autocast
from dis_rl.puzzles.base import PAD
from dis_rl.rollout import rollout


def model_predictor(model, steps: int, step_input: str, device: torch.device | str, precision: str = "fp32",
                    w: float = 1.0):
    """``predict_fn(inputs, puzzle_ids) -> (preds, confidence)`` running `model` for `steps` steps
    with guidance scale `w`: the one ARC predictor of ``eval --vote`` and ``sweep-w``. Confidence:
    the mean top-token probability of the final step over the cells it predicts as part of the
    grid (not PAD), so a small grid is not judged by the hundreds of trivially-PAD canvas cells."""
    device = torch.device(device)

    @torch.no_grad()
    def predict(inputs: np.ndarray, puzzle_ids: np.ndarray, cells: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        x = torch.from_numpy(np.asarray(inputs, dtype=np.int64)).to(device)
        pids = torch.from_numpy(np.asarray(puzzle_ids, dtype=np.int64)).to(device)
        where = None if cells is None else torch.from_numpy(np.asarray(cells, dtype=np.int64)).to(device)
        with autocast(device, precision):
            out = rollout(model, x, pids, steps, step_input, float(w), cells=where)
        probs = torch.softmax(out.guided[-1].float(), dim=-1)
        top = probs.max(dim=-1).values
        preds = out.predictions[-1]
        grid = preds != PAD
        conf = (top * grid).sum(-1) / grid.sum(-1).clamp(min=1)
        return preds.cpu().numpy(), conf.cpu().numpy()

    return predict


def arc_vote_source(model, cfg):
    """The run's ARC evaluation test pairs with every augmentation (`ARCAugmentedSource`), built
    from its data config (same config and seed: same plan, same puzzle ids), checked against the
    model's puzzle-embedding table."""
    from dis_rl.data import build_arc

    if cfg.data.domain != "arc":
        raise ConfigError(f"voting needs an ARC run; this checkpoint trained on data.domain={cfg.data.domain!r}")
    splits = build_arc(cfg.data)
    table = model.puzzle_emb
    if table is not None and table.num_embeddings != splits.num_puzzle_ids:
        raise ConfigError(
            f"the data now gives {splits.num_puzzle_ids} puzzle ids but the checkpoint's table has "
            f"{model.puzzle_emb.num_embeddings}: the task sources changed since training"
        )
    if len(splits.test) == 0:
        raise ConfigError("the run has no evaluation tasks (data.evaluate=train): nothing to vote on")
    return splits.test


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
    from dis_rl.evaluate import load_run
    from dis_rl.puzzles.arc_vote import evaluate_votes

    run = load_run(checkpoint, "test", device)
    model, cfg, dev = run.model, run.cfg, run.device
    source = arc_vote_source(model, cfg)
    tc = cfg.train
    predict = model_predictor(model, tc.supervision_steps, tc.step_input, dev, tc.precision)
    ks = tuple(sorted({*ks, *((max_aug,) if max_aug and max_aug > 2 else ())}))
    return evaluate_votes(source, predict, batch_size=batch_size or tc.eval_batch_size, max_aug=max_aug,
                          ks=ks, submission_path=submission_path, progress=progress)
