"""Evaluation of a model on a puzzle set: verifier accuracy, exact match and per-step distances.

Every step's prediction is scored, so the curves show whether each step improves the answer
(Lemma A.2 of the paper: the Hamming distance to the answer should fall step by step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist

from dis_rl.device import autocast
from dis_rl.distributed import DistContext
from dis_rl.model.trm import TRM
from dis_rl.puzzles import get_domain
from dis_rl.puzzles.answers import answer_sets, valid_by_band
from dis_rl.puzzles.base import PAD, Domain, PuzzleSet, uncrop, window_cells, windowed_batches
from dis_rl.rollout import rollout


@dataclass
class EvalResult:
    valid: float  # share of puzzles the verifier accepts after the last step (headline)
    exact: float  # share whose prediction equals the stored label on every scored cell
    valid_per_step: list[float]
    exact_per_step: list[float]
    hamming_per_step: list[float]  # mean Hamming distance to the label over scored cells
    copy_valid: float  # the verifier's verdict on the unchanged input (a baseline)
    num_puzzles: int
    predictions: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    # Per puzzle: how many valid answers it has (`dis_rl.puzzles.answers`) and whether the last
    # step's prediction is valid, for the table by number of answers.
    answer_counts: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    final_valid: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=bool))

    def summary(self) -> dict[str, float]:
        return {"valid": self.valid, "exact": self.exact, "hamming_final": self.hamming_per_step[-1]}

    def by_answers(self) -> list[tuple[str, int, float]]:
        """``(band, puzzles, valid share)`` by number of valid answers (1 / 2-3 / 4-10 / 11+, then
        ``several``: all with more than one); empty when every puzzle has one answer."""
        if not len(self.answer_counts) or self.answer_counts.max() <= 1:
            return []
        return valid_by_band(self.answer_counts, self.final_valid)


def score_predictions(
    domain: Domain, inputs: np.ndarray, preds: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per example: the verifier's verdict, exact match on scored cells, Hamming distance to the label."""
    scored = labels != PAD
    valid = domain.verify(inputs, preds, labels)
    exact = ((preds == labels) | ~scored).all(axis=1)
    hamming = ((preds != labels) & scored).sum(axis=1)
    return valid, exact, hamming


@torch.no_grad()
def evaluate(
    model: TRM,
    puzzles: PuzzleSet,
    steps: int,
    step_input: str = "input",
    batch_size: int = 200,
    w: float | list[float] = 1.0,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    progress: bool = False,
    answer_counts: np.ndarray | None = None,
    unique: bool = False,
) -> EvalResult:
    """Score every step of a rollout of ``puzzles`` (``progress``: a bar over the batches).
    ``answer_counts``: each puzzle's number of valid answers, if known (else counted here, unless
    ``unique`` says every puzzle has one, `dis_rl.data.unique_answers`)."""
    from tqdm.auto import tqdm

    device = torch.device(device)
    domain = get_domain(puzzles.domain)
    was_training = model.training
    model.eval()
    valid = np.zeros((steps, len(puzzles)), dtype=bool)
    exact = np.zeros((steps, len(puzzles)), dtype=bool)
    hamming = np.zeros((steps, len(puzzles)), dtype=np.float64)
    final = np.zeros_like(puzzles.labels, dtype=np.int64)
    width = puzzles.grid_shape[1]
    batches = list(windowed_batches(puzzles, batch_size))
    for idx, side in tqdm(batches, desc=f"eval {len(puzzles)} puzzles", unit="batch", disable=not progress,
                          dynamic_ncols=True, leave=False):
        batch = puzzles.get(idx)
        # A cropped run (extras["window"]) runs on each example's top-left window; the predictions
        # go back to the full grid (PAD outside the window) to be scored like any other.
        cells = None if side is None else window_cells(side, width)
        inputs = batch["inputs"] if cells is None else batch["inputs"][:, cells]
        with autocast(device, precision):
            out = rollout(model, torch.from_numpy(inputs).to(device), torch.from_numpy(batch["puzzle_ids"]).to(device),
                          steps, step_input, w, cells=None if cells is None else torch.from_numpy(cells).to(device))
        preds = [p.cpu().numpy() if cells is None else uncrop(p.cpu().numpy(), cells, puzzles.seq_len)
                 for p in out.predictions]
        for s, pred in enumerate(preds):
            valid[s, idx], exact[s, idx], hamming[s, idx] = score_predictions(
                domain, batch["inputs"], pred, batch["labels"]
            )
        final[idx] = preds[-1]
    model.train(was_training)
    copy_valid = domain.verify(puzzles.inputs, puzzles.inputs, puzzles.labels).mean()
    if answer_counts is None:
        answer_counts = answer_sets(domain, puzzles.inputs, puzzles.labels, unique=unique).counts
    return EvalResult(
        valid=float(valid[-1].mean()),
        exact=float(exact[-1].mean()),
        valid_per_step=valid.mean(axis=1).tolist(),
        exact_per_step=exact.mean(axis=1).tolist(),
        hamming_per_step=hamming.mean(axis=1).tolist(),
        copy_valid=float(copy_valid),
        num_puzzles=len(puzzles),
        predictions=final,
        answer_counts=np.asarray(answer_counts, dtype=np.int64),
        final_valid=valid[-1].copy(),
    )


def format_table(result: EvalResult) -> str:
    """Markdown table: one row per step, then the headline numbers."""
    lines = ["| step | valid % | exact % | Hamming to label |", "|---:|---:|---:|---:|"]
    for s, (v, e, h) in enumerate(zip(result.valid_per_step, result.exact_per_step, result.hamming_per_step), 1):
        lines.append(f"| {s} | {100 * v:.1f} | {100 * e:.1f} | {h:.2f} |")
    lines.append("")
    lines.append(
        f"valid completions: {100 * result.valid:.1f}% of {result.num_puzzles} test puzzles "
        f"(exact match to label {100 * result.exact:.1f}%, copying the input {100 * result.copy_valid:.1f}%)"
    )
    bands = result.by_answers()
    if bands:
        lines += ["", "| valid answers of the puzzle | puzzles | valid % |", "|---|---:|---:|"]
        lines += [f"| {name} | {n} | {100 * v:.1f} |" for name, n, v in bands]
    return "\n".join(lines)


def gather_eval(local: EvalResult | None, num_local: int, steps: int, seq_len: int, ctx: DistContext,
                device: torch.device) -> EvalResult:
    """Merge the ranks' results on their blocks (in rank order) into the result on the whole set.

    Means are re-weighted by each rank's puzzle count; predictions are concatenated. Tensors, not
    pickled objects, travel between ranks."""
    if not ctx.enabled:
        assert local is not None
        return local
    width = 4 + 3 * steps
    stats = torch.zeros(width, dtype=torch.float64, device=device)
    preds = torch.zeros(0, seq_len, dtype=torch.long, device=device)
    if local is not None and num_local:
        stats = torch.tensor(
            [num_local, local.valid * num_local, local.exact * num_local, local.copy_valid * num_local,
             *(np.array(local.valid_per_step) * num_local), *(np.array(local.exact_per_step) * num_local),
             *(np.array(local.hamming_per_step) * num_local)],
            dtype=torch.float64, device=device,
        )
        preds = torch.as_tensor(local.predictions, dtype=torch.long, device=device)
    # Two more columns travel with each prediction: its puzzle's answer count and its validity.
    extra = torch.zeros(preds.shape[0], 2, dtype=torch.long, device=device)
    if local is not None and num_local:
        extra[:, 0] = torch.as_tensor(local.answer_counts, dtype=torch.long, device=device)
        extra[:, 1] = torch.as_tensor(local.final_valid, dtype=torch.long, device=device)
    preds = torch.cat([preds, extra], dim=1)
    sizes = torch.tensor([num_local], dtype=torch.long, device=device)
    all_sizes = [torch.zeros_like(sizes) for _ in range(ctx.world_size)]
    dist.all_gather(all_sizes, sizes)
    counts = [int(s) for s in all_sizes]
    longest = max(counts)
    preds = torch.cat([preds, preds.new_zeros(longest - preds.shape[0], seq_len + 2)])
    all_stats = [torch.zeros_like(stats) for _ in range(ctx.world_size)]
    all_preds = [torch.zeros_like(preds) for _ in range(ctx.world_size)]
    dist.all_gather(all_stats, stats)
    dist.all_gather(all_preds, preds)
    total = torch.stack(all_stats).sum(0).cpu().numpy()
    n = total[0]
    per = total[4:] / n
    gathered = torch.cat([p[:k] for p, k in zip(all_preds, counts)]).cpu().numpy()
    predictions = gathered[:, :seq_len]
    return EvalResult(
        valid=float(total[1] / n),
        exact=float(total[2] / n),
        valid_per_step=per[:steps].tolist(),
        exact_per_step=per[steps : 2 * steps].tolist(),
        hamming_per_step=per[2 * steps :].tolist(),
        copy_valid=float(total[3] / n),
        num_puzzles=int(n),
        predictions=predictions,
        answer_counts=gathered[:, seq_len],
        final_valid=gathered[:, seq_len + 1].astype(bool),
    )
