"""ARC voting evaluation of a trained model (``dis-rl eval CKPT --vote N``).

The model is a predictor for `dis_rl.puzzles.arc_vote.evaluate_votes`: every augmented copy of a
test input runs the training schedule (``train.supervision_steps`` refinement steps); its
confidence is the mean top-token probability of the final step over the cells it predicts as
part of the grid, which breaks ties between grids with equal votes.
"""

from __future__ import annotations

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


# --------------------------------------------------------------------------------------------
# Test-time compute that uses the rules (Sudoku, N-Queens): the verifier needs only the givens, so
# it can pick among candidate answers without the label.

RULE_DOMAINS = ("sudoku", "nqueens")


def symmetry_views(domain: str, inputs: np.ndarray, views: int, seed: int = 0):
    """``(augmented inputs [views * B, L], back)``: view ``v`` of board ``i`` is row ``v * B + i``
    (view 0 the identity); ``back(preds)`` maps predictions on those rows to the original frame.
    Sudoku: digit permutations, band/stack and row/column shuffles, transposition (any number of
    views); N-Queens: the 8 dihedral symmetries (at most 8 views)."""
    inputs = np.asarray(inputs, dtype=np.int64)
    b = len(inputs)
    if domain == "sudoku":
        from dis_rl.puzzles.sudoku import augment_tokens, unaugment_tokens
        from dis_rl.puzzles.sudoku import symmetry_views as sudoku_views

        cells, digits = sudoku_views(b, views, seed)
        return augment_tokens(np.tile(inputs, (views, 1)), cells, digits), (
            lambda preds: unaugment_tokens(preds, cells, digits))
    if domain == "nqueens":
        from dis_rl.puzzles.nqueens import dihedral

        if not 1 <= views <= 8:
            raise ValueError(f"N-Queens has 8 symmetries (the dihedral group): views must be 1-8, got {views}")
        inverse = [0, 3, 2, 1, 4, 5, 6, 7]  # rotations undo by the opposite turn; reflections undo themselves

        def back(preds: np.ndarray) -> np.ndarray:
            preds = np.asarray(preds).reshape(views, b, -1)
            return np.concatenate([dihedral(preds[v], inverse[v]) for v in range(views)])

        return np.concatenate([dihedral(inputs, v) for v in range(views)]), back
    raise ConfigError(f"rule-based voting needs a domain with a label-free verifier {RULE_DOMAINS}, got {domain!r}")


def select_by_rules(domain, inputs: np.ndarray, candidates: np.ndarray, confidence: np.ndarray | None = None,
                    cell_vote: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pick one answer per board from ``candidates [K, B, L]`` (candidate 0: plain decoding; with
    ``cell_vote`` and K > 2 also the board of each cell's most common token among them):
    the candidate the rules accept (`verify` with the givens only, no label) that most candidates
    agree with, ties to the higher ``confidence [K, B]`` and then the earlier candidate; a board
    without a valid candidate keeps candidate 0. Returns the answers ``[B, L]`` and whether each
    board had a valid candidate."""
    k, b, _ = candidates.shape
    if cell_vote and k > 2:  # one more candidate at no network cost: each cell's most common token
        counts = np.stack([(candidates == t).sum(0) for t in range(int(candidates.max()) + 1)])  # [V, B, L]
        candidates = np.concatenate([candidates, counts.argmax(0)[None]])
        confidence = None if confidence is None else np.concatenate([confidence, np.full((1, b), -1.0)])
        k += 1
    valid = np.stack([domain.verify(inputs, candidates[j]) for j in range(k)])  # [K, B], no labels
    conf = np.zeros((k, b)) if confidence is None else np.asarray(confidence, dtype=np.float64)
    out = candidates[0].copy()
    for i in range(b):
        ok = np.flatnonzero(valid[:, i])
        if len(ok) == 0:
            continue
        boards = candidates[ok, i]
        votes = (boards[:, None, :] == boards[None, :, :]).all(-1).sum(1)
        best = max(range(len(ok)), key=lambda j: (votes[j], conf[ok[j], i], -j))
        out[i] = boards[best]
    return out, valid.any(axis=0)


def rule_candidates(model, inputs: np.ndarray, puzzle_ids: np.ndarray, steps: int, step_input: str, domain: str,
                    views: int = 1, samples: int = 0, temperature: float = 1.0, seed: int = 0,
                    device: torch.device | str = "cpu", precision: str = "fp32") -> tuple[np.ndarray, np.ndarray]:
    """Candidate answers ``[K, B, L]`` and confidences ``[K, B]`` (mean top-token probability of
    the final step): ``views`` symmetry views decoded by argmax (view 0 is plain decoding), then
    ``samples`` draws at ``temperature`` on the identity view. K = views + samples rollouts, each
    of ``steps`` refinement steps."""
    device = torch.device(device)
    b = len(inputs)
    aug, back = symmetry_views(domain, inputs, views, seed)
    pids = np.tile(np.asarray(puzzle_ids, dtype=np.int64), views)
    x = torch.from_numpy(aug).to(device)
    with torch.no_grad(), autocast(device, precision):
        out = rollout(model, x, torch.from_numpy(pids).to(device), steps, step_input)
    top = torch.softmax(out.guided[-1].float(), -1).max(-1).values.mean(-1)
    cands = [back(out.predictions[-1].cpu().numpy()).reshape(views, b, -1)]
    confs = [top.cpu().numpy().reshape(views, b)]
    if samples:
        gen = torch.Generator(device=device).manual_seed(seed)
        x1 = torch.from_numpy(np.tile(np.asarray(inputs, dtype=np.int64), (samples, 1))).to(device)
        p1 = torch.from_numpy(np.tile(np.asarray(puzzle_ids, dtype=np.int64), samples)).to(device)
        with torch.no_grad(), autocast(device, precision):
            out = rollout(model, x1, p1, steps, step_input, temperature=temperature, generator=gen)
        top = torch.softmax(out.guided[-1].float(), -1).max(-1).values.mean(-1)
        cands.append(out.predictions[-1].cpu().numpy().reshape(samples, b, -1))
        confs.append(top.cpu().numpy().reshape(samples, b))
    return np.concatenate(cands), np.concatenate(confs)


def rule_vote(model, puzzles, steps: int, step_input: str, views: int = 8, samples: int = 0,
              temperature: float = 1.0, seed: int = 0, batch_size: int = 200, device: torch.device | str = "cpu",
              precision: str = "fp32", calls_per_step: int = 1) -> dict:
    """Solved % of ``puzzles`` by plain decoding, by the rules' pick among the ``views`` symmetry
    views, among ``samples`` draws (plus the plain answer), and among all of them; with each one's
    network calls per puzzle (rollouts x ``steps`` x ``calls_per_step``). The label is read only to
    score the pick (the verifier's verdict: any valid completion keeping the givens is solved)."""
    from dis_rl.puzzles import get_domain

    domain = get_domain(puzzles.domain)
    was_training = model.training
    model.eval()
    cands, confs = [], []
    for start in range(0, len(puzzles), batch_size):
        idx = np.arange(start, min(start + batch_size, len(puzzles)))
        batch = puzzles.get(idx)
        c, f = rule_candidates(model, batch["inputs"], batch["puzzle_ids"], steps, step_input, puzzles.domain,
                               views, samples, temperature, seed + start, device, precision)
        cands.append(c)
        confs.append(f)
    model.train(was_training)
    cands, confs = np.concatenate(cands, axis=1), np.concatenate(confs, axis=1)
    inputs = np.asarray(puzzles.inputs)
    per_rollout = steps * calls_per_step

    each: dict[str, np.ndarray] = {}  # per puzzle: solved by each way of decoding

    def solved(rows: list[int]) -> float:
        picked, _ = select_by_rules(domain, inputs, cands[rows], confs[rows])
        each[len(each)] = ok = domain.verify(inputs, picked, puzzles.labels)
        return float(ok.mean())

    result = {"puzzles": len(puzzles), "steps": steps, "calls_per_rollout": per_rollout, "each": each,
              "plain": {"solved": solved([0]), "rollouts": 1, "calls_per_puzzle": per_rollout}}
    if views > 1:
        result["views"] = {"solved": solved(list(range(views))), "rollouts": views,
                           "calls_per_puzzle": views * per_rollout}
    if samples:
        rows = [0, *range(views, views + samples)]
        result["samples"] = {"solved": solved(rows), "rollouts": len(rows), "calls_per_puzzle": len(rows) * per_rollout,
                             "temperature": temperature}
        if views > 1:
            result["all"] = {"solved": solved(list(range(views + samples))), "rollouts": views + samples,
                             "calls_per_puzzle": (views + samples) * per_rollout}
    result["each"] = dict(zip([k for k in ("plain", "views", "samples", "all") if k in result], each.values()))
    return result


def format_rule_vote(result: dict) -> str:
    names = {"plain": "plain decoding", "views": "symmetry views, rules pick",
             "samples": "best-of-k samples, rules pick", "all": "views + samples, rules pick"}
    lines = ["| decoding | rollouts | network calls / puzzle | solved % |", "|---|---:|---:|---:|"]
    for key, label in names.items():
        if key in result:
            r = result[key]
            extra = f" (T={r['temperature']:g})" if "temperature" in r else ""
            lines.append(f"| {label}{extra} | {r['rollouts']} | {r['calls_per_puzzle']:,} | {100 * r['solved']:.1f} |")
    return "\n".join(lines) + f"\n{result['puzzles']} test puzzles; the rules (no label) choose among the candidates"
