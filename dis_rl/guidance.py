"""Test-time guidance: the advantage margin of paper Prop. 4.1 and sweeps of the guidance scale ``w``.

Each refinement step reads the answer twice: ``l_u`` before the step's reasoning update and
``l_c`` after it; the guided logits are ``l_w = l_u + w * dl`` with ``dl = l_c - l_u``. For the
loss of the correct token, ``L(w) = -log softmax(l_w)[y]``,

    dL/dw = E_{a ~ pi_w}[dl_a] - dl_y,    pi_w = softmax(l_w),

so the *advantage margin* ``m(w) = dl_y - E_{pi_w}[dl]`` is minus the slope: where it is positive,
raising ``w`` raises the probability of the correct token. `sweep_w` measures, for a list of
``w``, the accuracy per step (verifier and exact match), the margin and the share of cells with a
positive margin, and the Hamming distance per step (which should contract, Lemma A.2). Margins
are taken against the stored label on scored (non-PAD) cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from dis_rl.device import autocast
from dis_rl.evaluate import score_predictions
from dis_rl.model.trm import TRM
from dis_rl.puzzles import get_domain
from dis_rl.puzzles.answers import answer_sets, valid_by_band
from dis_rl.puzzles.base import PAD, ExampleSource, PuzzleSet, uncrop
from dis_rl.rollout import guided_logits, rollout


def advantage_margin(
    logits_before: torch.Tensor, logits_after: torch.Tensor, labels: torch.Tensor, w: float
) -> torch.Tensor:
    """``dl[y] - E_{pi_w}[dl]`` per cell ``[B, L]`` (at least float32): minus the slope of the label's
    loss in ``w``."""
    dtype = torch.promote_types(logits_before.dtype, torch.float32)
    lu, lc = logits_before.to(dtype), logits_after.to(dtype)
    delta = lc - lu
    pi = torch.softmax(guided_logits(lu, lc, float(w)), dim=-1)
    return delta.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1) - (pi * delta).sum(-1)


def margin_stats(margin: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean margin and share of cells with a positive margin, over scored cells."""
    scored = labels != PAD
    if not bool(scored.any()):
        return 0.0, 0.0
    values = margin[scored]
    return float(values.mean()), float((values > 0).float().mean())


@dataclass
class WResult:
    """Everything measured at one guidance scale; lists run over the steps."""

    w: float
    valid_per_step: list[float]
    exact_per_step: list[float]
    hamming_per_step: list[float]  # mean Hamming distance to the stored label
    distance_per_step: list[float]  # mean distance to the nearest solution (the domain's metric)
    margin_per_step: list[float]
    positive_per_step: list[float]  # share of scored cells with a positive margin
    votes: dict[int, float] | None = None  # ARC: pass@k after test-time voting
    # (band, puzzles, valid share) by the puzzles' number of valid answers (empty: all have one)
    by_answers: list[tuple[str, int, float]] = field(default_factory=list)

    @property
    def valid(self) -> float:
        return self.valid_per_step[-1]

    @property
    def exact(self) -> float:
        return self.exact_per_step[-1]


@dataclass
class SweepResult:
    domain: str
    num_puzzles: int
    steps: int
    rows: list[WResult] = field(default_factory=list)

    def best(self) -> WResult:
        """Highest final verifier accuracy; ties: exact match, then the smaller final Hamming distance."""
        return max(self.rows, key=lambda r: (r.valid, r.exact, -r.hamming_per_step[-1], -abs(r.w - 1)))

    def row(self, w: float) -> WResult | None:
        return next((r for r in self.rows if abs(r.w - w) < 1e-9), None)



MAX_W = 100.0  # guidance scales used are 0-3; far above, the logits only overflow


def check_w(w: float, name: str = "--w") -> float:
    """A guidance scale: finite and in ``[0, MAX_W]`` (0: unconditional, 1: plain decoding)."""
    if not math.isfinite(w) or not 0 <= w <= MAX_W:
        raise ValueError(f"{name} values must be finite numbers from 0 to {MAX_W:g} (0: unconditional, 1: plain "
                         f"decoding, above 1: guided); got {w!r}")
    return w


def parse_ws(text: str) -> list[float]:
    """``"0,0.5,1"`` -> ``[0.0, 0.5, 1.0]`` with a clear error for anything else: an empty item
    (``1,,2``), a repeat (``1,1``), or a value `check_w` refuses (``nan``, ``-1``, ``1e9``)."""
    items = text.split(",")
    if any(not v.strip() for v in items):
        raise ValueError(f"--w must be comma-separated numbers such as 0,0.5,1,2 (no empty item); got {text!r}")
    try:
        ws = [float(v) for v in items]
    except ValueError:
        raise ValueError(f"--w must be comma-separated numbers such as 0,0.5,1,2; got {text!r}") from None
    for w in ws:
        check_w(w)
    repeated = sorted({w for w in ws if ws.count(w) > 1})
    if repeated:
        raise ValueError(f"--w lists {', '.join(f'{w:g}' for w in repeated)} more than once; got {text!r}")
    return ws


def _is_arc_vote_source(puzzles: object) -> bool:
    from dis_rl.puzzles.arc_augment import ARCAugmentedSource

    return isinstance(puzzles, ARCAugmentedSource)


@torch.no_grad()
def sweep_w(
    model: TRM,
    puzzles: ExampleSource,
    ws: Sequence[float],
    steps: int,
    step_input: str = "input",
    batch_size: int = 200,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    max_aug: int | None = 8,
    progress: bool = False,
) -> SweepResult:
    """Measure accuracy, margin and contraction at each ``w`` on ``puzzles`` (a `PuzzleSet` or any
    example source). For an ARC test source (`ARCAugmentedSource`) the per-step numbers cover the
    first ``max_aug`` augmentations of each pair and the final answer is also scored by voting."""
    device = torch.device(device)
    domain = get_domain(puzzles.domain)
    was_training = model.training
    model.eval()
    indices = np.arange(len(puzzles))
    arc_votes = _is_arc_vote_source(puzzles)
    if arc_votes and max_aug is not None:
        indices = indices[puzzles.locate(indices)[2] < max_aug]
    result = SweepResult(domain=puzzles.domain, num_puzzles=len(indices), steps=steps)
    # Valid share by number of answers: where the answers are a cheap lookup (N-Queens; a solver's
    # enumeration per sweep would cost more than the sweep).
    counts = None
    if isinstance(puzzles, PuzzleSet) and getattr(domain, "cheap_answers", False):
        counts = answer_sets(domain, puzzles.inputs, puzzles.labels).counts
    from tqdm.auto import tqdm

    bar = tqdm(total=len(ws) * -(-len(indices) // batch_size), desc=f"sweep {len(ws)} w x {len(indices)} puzzles",
               unit="batch", disable=not progress, dynamic_ncols=True, leave=False)
    for w in ws:
        bar.set_postfix(w=f"{w:g}")
        sums = np.zeros((6, steps))  # valid, exact, hamming, distance, margin*cells, positive*cells
        cells = np.zeros(steps)
        final_valid = np.zeros(len(puzzles), dtype=bool)
        chunks = (puzzles.batches(indices, batch_size) if arc_votes else
                  [indices[start : start + batch_size] for start in range(0, len(indices), batch_size)])
        for idx in chunks:
            batch = puzzles.get(idx)
            inputs = torch.from_numpy(batch["inputs"]).to(device)
            pids = torch.from_numpy(batch["puzzle_ids"]).to(device)
            labels = torch.from_numpy(batch["labels"]).to(device)
            where = torch.from_numpy(batch["cells"]).to(device) if "cells" in batch else None
            with autocast(device, precision):
                out = rollout(model, inputs, pids, steps, step_input, float(w), cells=where)
            if where is not None:  # cropped ARC: answers back on the canvas, scored against the whole label
                canvas = puzzles.get(idx, crop=False)
                out.predictions = [torch.from_numpy(uncrop(p.cpu().numpy(), batch["cells"], canvas["inputs"].shape[1]))
                                   for p in out.predictions]
                batch = {**batch, "inputs": canvas["inputs"], "labels": canvas["labels"]}
            n_scored = int((labels != PAD).sum())
            for s in range(steps):
                preds = out.predictions[s].cpu().numpy()
                valid, exact, hamming = score_predictions(domain, batch["inputs"], preds, batch["labels"])
                distance = domain.distance(batch["inputs"], preds, batch["labels"])
                mean, positive = margin_stats(
                    advantage_margin(out.logits_before[s], out.logits_after[s], labels, w), labels
                )
                sums[:4, s] += [valid.sum(), exact.sum(), hamming.sum(), np.sum(distance)]
                if s == steps - 1 and counts is not None:
                    final_valid[idx] = valid
                sums[4:, s] += [mean * n_scored, positive * n_scored]
                cells[s] += n_scored
            bar.update(1)
        n = max(len(indices), 1)
        row = WResult(
            w=float(w),
            valid_per_step=(sums[0] / n).tolist(),
            exact_per_step=(sums[1] / n).tolist(),
            hamming_per_step=(sums[2] / n).tolist(),
            distance_per_step=(sums[3] / n).tolist(),
            margin_per_step=(sums[4] / np.maximum(cells, 1)).tolist(),
            positive_per_step=(sums[5] / np.maximum(cells, 1)).tolist(),
        )
        if counts is not None and counts.max() > 1:
            row.by_answers = valid_by_band(counts, final_valid)
        if arc_votes:
            from dis_rl.puzzles.arc_vote import evaluate_votes
            from dis_rl.vote import model_predictor

            fn = model_predictor(model, steps, step_input, device, precision, w=w)
            row.votes = evaluate_votes(puzzles, fn, batch_size, max_aug=max_aug, progress=progress).pass_at
        result.rows.append(row)
    bar.close()
    model.train(was_training)
    return result
