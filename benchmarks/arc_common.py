"""What the ARC benchmarks share (`arc_small.py`, `arc1_eval_small.py`): the TRM baseline at the
DIS run's network calls, training and scoring a run (training-example accuracy, test exact match
and per-step Hamming, the augmentation vote, the two model-free baselines), the result record and
table, the figure, the leakage check on content, and `VoteAgent`, the same vote as an agent that
answers the env from observations only (for `dis_rl.envs.evaluate.evaluate_agent`).

Imported by the scripts beside it (run as ``python benchmarks/<script>.py``, their folder is on the
path) and by the tests (``benchmarks.arc_common`` from the repository root).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
# TRM-compact's recursion: N_sup 16, T 3, n 6, halting head, no step index (DIS's path keys at their
# defaults: TRM trains on the label and refuses keys it would ignore).
TRM_OVERRIDES = ["train.method=trm", "model.halting_head=true", "model.step_embedding=0", "model.cycles=3",
                 "model.latent_steps=6", "train.supervision_steps=16", "train.path_cells=scored"]


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def parser(doc: str, name: str, default_tag: str) -> argparse.ArgumentParser:
    """The command line both ARC benchmarks take (a script adds its own options before parsing)."""
    out = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    out.add_argument("--method", choices=("dis", "trm"), default="dis")
    out.add_argument("--tag", default="", help=f"result name (default: {default_tag})")
    out.add_argument("--run-dir", default="", help=f"run folder (default: runs/{name}_<tag>)")
    out.add_argument("--out", default=str(REPO / "docs" / "results"), help="folder of the .md/.json results")
    out.add_argument("--figures", default=str(REPO / "docs" / "figures"), help="folder of the plot")
    out.add_argument("--vote-aug", type=int, default=None, help="augmentations voted per test input "
                     "(default: data.num_aug)")
    out.add_argument("--overwrite", action="store_true", help="replace an earlier run in the run folder")
    out.add_argument("overrides", nargs="*", help="config overrides, key=value")
    return out


def method_overrides(config: Path, method: str, overrides: list[str]) -> list[str]:
    """The overrides that run ``method`` on ``config``: DIS as it is; TRM with its recursion and the
    DIS run's network calls. A budget in calls stays; a budget in batches (the cosine schedule,
    which decays over ``train.max_batches``) becomes the TRM batches that spend the same calls
    (rounded up: at most one batch more)."""
    if method == "dis":
        return list(overrides)
    from dis_rl.config import load_config

    dis = load_config(config, overrides)
    trm = load_config(config, TRM_OVERRIDES + overrides)
    if trm.train.max_network_calls:
        return TRM_OVERRIDES + list(overrides)
    tc = dis.train
    calls = tc.max_batches * tc.batch_size * tc.supervision_steps * dis.model.calls_per_step
    per_batch = trm.train.batch_size * trm.model.calls_per_step
    return TRM_OVERRIDES + list(overrides) + [f"train.max_batches={-(-calls // per_batch)}"]


@dataclass
class Scored:
    """A trained run and its scores."""

    cfg: Any
    trainer: Any
    splits: Any  # the run's `ARCSplits`
    train_eval: Any  # `EvalResult` on every training example, un-augmented
    test_eval: Any  # `EvalResult` on the test pairs, un-augmented
    votes: Any  # `VoteResult` of the augmentation vote
    copy: Any  # `VoteResult` of the copy-input baseline
    common: Any  # `VoteResult` of the most-common-outputs baseline
    vote_aug: int
    train_seconds: float
    wall_seconds: float

    @property
    def model(self):
        return self.trainer.eval_model()

    def vote_agreement(self) -> dict[str, float]:
        """What the vote had to work with: the share of test pairs with a decodable answer in any
        view, and the mean share of a pair's decoded views that back its top candidate."""
        pairs = [order for task in self.votes.ranked.values() for order in task]
        backed = [order[0].votes / sum(c.votes for c in order) for order in pairs if order]
        return {"decoded_pairs": len(backed) / max(len(pairs), 1),
                "top_share": float(np.mean(backed)) if backed else 0.0}


def train_and_score(cfg, run_dir: Path, vote_aug: int | None = None, overwrite: bool = False) -> Scored:
    """Train ``cfg`` into ``run_dir``, then score the evaluation model (EMA weights when on):
    exact match and per-step Hamming on the training examples and the test pairs, the vote over
    the first ``vote_aug`` augmentations of each test pair (default ``data.num_aug``) and the
    copy-input and most-common baselines, scored the same way."""
    from dis_rl.data import arc_train_examples, build_arc
    from dis_rl.evaluate import evaluate
    from dis_rl.puzzles.arc_vote import baseline_votes, evaluate_votes
    from dis_rl.train import Trainer
    from dis_rl.vote import model_predictor

    torch.set_num_threads(max(cfg.train.threads, 1))
    vote_aug = cfg.data.num_aug if vote_aug is None else vote_aug
    start = time.perf_counter()
    trainer = Trainer(cfg, run_dir=run_dir, progress=False, overwrite=overwrite)
    trainer.run()
    model, tc = trainer.eval_model(), cfg.train
    splits = build_arc(cfg.data)
    at = dict(steps=tc.supervision_steps, step_input=tc.step_input, batch_size=tc.eval_batch_size,
              device=trainer.device, precision=tc.precision)
    train_eval = evaluate(model, arc_train_examples(splits), **at)
    test_eval = evaluate(model, trainer.test_set, **at)
    predict = model_predictor(model, tc.supervision_steps, tc.step_input, trainer.device, tc.precision)
    votes = evaluate_votes(splits.test, predict, batch_size=tc.eval_batch_size, max_aug=vote_aug, progress=False)
    copy, common = (baseline_votes(splits.test, kind) for kind in ("copy_input", "most_common_output"))
    return Scored(cfg, trainer, splits, train_eval, test_eval, votes, copy, common, vote_aug,
                  trainer.train_seconds, time.perf_counter() - start)


def result_record(s: Scored, **extra) -> dict:
    """The JSON record of a scored run (``extra`` first: tag, method, overrides, ...)."""
    from dis_rl.runs import read_jsonl

    t, tc = s.trainer, s.cfg.train
    evals = read_jsonl(t.run_dir / "eval_log.jsonl")
    return {
        **extra, "canvas": s.cfg.data.canvas, "seed": tc.seed,
        "train_exact": s.train_eval.exact, "train_examples": s.train_eval.num_puzzles,
        "test_exact": s.test_eval.exact, "test_pairs": s.test_eval.num_puzzles,
        "pass_at_1": s.votes.pass_at[1], "pass_at_2": s.votes.pass_at[2], "vote_aug": s.vote_aug,
        "scored_tasks": s.votes.scored_tasks, "vote_agreement": s.vote_agreement(),
        "copy_input_pass_at_2": s.copy.pass_at[2], "most_common_pass_at_2": s.common.pass_at[2],
        "test_hamming_per_step": s.test_eval.hamming_per_step, "train_hamming_per_step": s.train_eval.hamming_per_step,
        "network_calls": t.network_calls, "examples": t.examples, "batches": t.batches,
        "train_seconds": round(s.train_seconds, 1), "wall_seconds": round(s.wall_seconds, 1),
        "eval_log": [{k: e[k] for k in ("batch", "network_calls", "train_s", "exact")} for e in evals],
    }


def metrics_table(s: Scored, test_name: str) -> str:
    """The markdown tables of a scored run: the metrics, then the Hamming distance per step."""
    agree = s.vote_agreement()
    rows = [
        (f"training examples, exact (un-augmented, {s.train_eval.num_puzzles})", pct(s.train_eval.exact)),
        (f"{test_name} test pairs, exact (un-augmented, {s.test_eval.num_puzzles})", pct(s.test_eval.exact)),
        (f"{test_name} pass@1 (vote over {s.vote_aug} augmentations, {s.votes.scored_tasks} tasks)",
         pct(s.votes.pass_at[1])),
        (f"{test_name} pass@2", pct(s.votes.pass_at[2])),
        ("vote: test pairs with a decodable answer / share of views backing the top answer",
         f"{pct(agree['decoded_pairs'])} / {pct(agree['top_share'])}"),
        ("baseline: copy the input, pass@2", pct(s.copy.pass_at[2])),
        ("baseline: most common demonstration outputs, pass@2", pct(s.common.pass_at[2])),
    ]
    steps = "\n".join(f"| {i} | {h:.2f} | {g:.2f} |" for i, (h, g) in
                      enumerate(zip(s.test_eval.hamming_per_step, s.train_eval.hamming_per_step), 1))
    return ("| metric | value |\n|---|---:|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
            + f"\n\n| step | Hamming, {test_name} | Hamming, training examples |\n|---:|---:|---:|\n" + steps)


def provenance(s: Scored, script: str, args: list[str]) -> str:
    """Where a result came from: the command, config, seed, budget spent and wall time."""
    t, cfg = s.trainer, s.cfg
    return (f"Written by `{script} {' '.join(args)}` (resolved config in `{t.run_dir}/config.yaml`); seed "
            f"{cfg.train.seed}, one run. {t.examples:,} training examples ({t.batches:,} batches, "
            f"{t.network_calls:,} network calls), {s.train_seconds:.0f} s of training, {s.wall_seconds:.0f} s in "
            f"all, on {t.device} with {cfg.train.threads} thread(s).")


def plot(path: Path, title: str, test_name: str, s: Scored) -> None:
    """Hamming distance per refinement step, and test exact match against network calls."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dis_rl.runs import read_jsonl

    evals = read_jsonl(s.trainer.run_dir / "eval_log.jsonl")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = np.arange(1, len(s.test_eval.hamming_per_step) + 1)
    a.plot(steps, s.test_eval.hamming_per_step, "o-", label=f"{test_name} test pairs")
    a.plot(steps, s.train_eval.hamming_per_step, "s-", label="training examples")
    a.set_xlabel("refinement step")
    a.set_ylabel("Hamming distance to the label (cells)")
    a.legend()
    if evals:
        b.plot([e["network_calls"] for e in evals], [100 * e["exact"] for e in evals], "o-")
    b.set_xlabel("network calls (summed over examples)")
    b.set_ylabel(f"{test_name} exact match, un-augmented (%)")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Leakage on content, and the vote as an env agent


def leaked_pairs(splits) -> list[str]:
    """The evaluation test pairs (``"<task>/<j>"``) whose input and output appear together among
    the training pairs of any task (the task-id guard of `check_leakage` does not see content)."""
    from dis_rl.puzzles.arc_augment import training_pairs

    def key(x, y) -> bytes:
        return bytes(x.shape) + x.tobytes() + bytes(y.shape) + y.tobytes()

    trained = {key(x, y) for pairs in training_pairs(splits.tasks, splits.is_eval) for x, y in pairs}
    return [f"{t.task_id}/{j}" for t, e in zip(splits.tasks, splits.is_eval) if e
            for j, (x, y) in enumerate(t.test) if y is not None and key(x, y) in trained]


def _grids_key(grids) -> bytes:
    return b"|".join(np.asarray(g.shape, dtype=np.int64).tobytes() + np.ascontiguousarray(g, dtype=np.uint8).tobytes()
                     for g in grids)


class VoteAgent:
    """The augmentation vote as an agent: ``predict(obs) -> action`` for `evaluate_agent`.

    It knows what training knew and nothing more: the run's tasks with every evaluation test
    output removed (the augmentation plan, puzzle ids and windows depend on demonstrations and
    test inputs only, so they equal the trainer's). Shown an observation, it finds the task by its
    demonstrations, votes over the first ``max_aug`` augmentations of the observed test input
    exactly as `evaluate_votes` does, and answers the best candidate at its first attempt at that
    input and the second best at its second (the best again when there is one; an all-PAD answer,
    which the verifier rejects, when no view decodes)."""

    def __init__(self, model, cfg, max_aug: int | None = None, device: str | torch.device = "cpu") -> None:
        from dis_rl.data import arc_crop, arc_task_split
        from dis_rl.puzzles.arc_augment import make_arc_splits
        from dis_rl.vote import model_predictor

        data, tc = cfg.data, cfg.train
        train_tasks, eval_tasks = arc_task_split(data)
        hidden = [dataclasses.replace(t, test=tuple((x, None) for x, _ in t.test)) for t in eval_tasks]
        self.splits = make_arc_splits(train_tasks, hidden, num_aug=data.num_aug if data.augment else 0,
                                      seed=data.seed, translate=data.translate, crop=arc_crop(data))
        self.predict_fn = model_predictor(model, tc.supervision_steps, tc.step_input, device, tc.precision)
        self.max_aug = data.num_aug if max_aug is None else max_aug
        self.batch_size = tc.eval_batch_size
        self.by_demos: dict[bytes, int] = {}
        for p, (task, e) in enumerate(zip(self.splits.tasks, self.splits.is_eval)):
            if e:
                key = _grids_key([g for pair in task.train for g in pair])
                if self.by_demos.setdefault(key, p) != p:
                    raise ValueError(f"evaluation tasks {self.splits.tasks[self.by_demos[key]].task_id} and "
                                     f"{task.task_id} have the same demonstrations: the agent cannot tell them apart")
        self._ranked: dict[bytes, list[np.ndarray]] = {}
        self._answered: dict[bytes, int] = {}

    def ranked(self, obs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The vote's candidates for this observation's test input, best first."""
        from dis_rl.envs.arc import observation_grids
        from dis_rl.puzzles.arc_augment import ARCAugmentedSource
        from dis_rl.puzzles.arc_vote import evaluate_votes

        grids = observation_grids(obs)
        p = self.by_demos.get(_grids_key([g for pair in grids["demos"] for g in pair]))
        if p is None:
            raise ValueError("these demonstrations are not those of an evaluation task of the run")
        s = self.splits
        pairs = [[(grids["input"], None)] if q == p else [] for q in range(len(s.tasks))]
        known = [not e for e in s.is_eval]
        source = ARCAugmentedSource(s.tasks, s.plan, pairs, translate=False, seed=s.train.seed,
                                    sides=s.crop.sides(s.tasks, pairs, True, known))
        votes = evaluate_votes(source, self.predict_fn, batch_size=self.batch_size, max_aug=self.max_aug,
                               progress=False)
        return [c.grid for c in votes.ranked[s.tasks[p].task_id][0]]

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        from dis_rl.envs.arc import grid_action

        key = _grids_key([np.asarray(obs[k]) for k in sorted(obs) if k not in ("answer", "step")])
        if key not in self._ranked:
            self._ranked[key] = self.ranked(obs)
        n = self._answered.get(key, 0)
        self._answered[key] = n + 1
        candidates = self._ranked[key]
        if not candidates:
            return np.zeros(len(obs["answer"]), dtype=np.int64)  # nothing decoded: a rejected answer
        return grid_action(candidates[min(n, len(candidates) - 1)])


def agent_score(s: Scored, max_aug: int | None = None):
    """`evaluate_agent` with `VoteAgent` on the run's evaluation test inputs (the env made from the
    run's data config), and the per-task pass@2 of the vote it must reproduce."""
    from dis_rl.envs.evaluate import evaluate_agent

    agent = VoteAgent(s.model, s.cfg, s.vote_aug if max_aug is None else max_aug, s.trainer.device)
    plan, mine = s.splits.plan, agent.splits.plan
    assert np.array_equal(plan.dihedral, mine.dihedral) and np.array_equal(plan.colours, mine.colours), \
        "the agent's augmentation plan differs from the trainer's"
    return evaluate_agent(agent, "ARCRefine-v0", data=s.cfg.data, progress=False)


def scores_agree(s: Scored, score) -> list[str]:
    """Where the env's evaluation differs from the vote (empty: they agree): each task's pass@1 and
    pass@2, and each submitted answer against the vote's candidate of that rank (the best at
    attempt 1, the second at attempt 2, none where no view decoded)."""
    from dis_rl.puzzles.arc import decode_grid

    out = []
    for k in (1, 2):
        env = score.per_task(k)
        vote = {tid: v[k] for tid, v in s.votes.task_scores.items()}
        for tid in sorted(set(env) | set(vote)):
            if env.get(tid) != vote.get(tid):
                out.append(f"{tid}: pass@{k} env {env.get(tid)} vs vote {vote.get(tid)}")
    for name, answers in sorted(score.answers.items()):
        tid, _, j = name.rpartition("/")
        grids = [c.grid for c in s.votes.ranked[tid][int(j)][:2]]
        for a, answer in enumerate(answers):
            want, got = (grids[min(a, len(grids) - 1)] if grids else None), decode_grid(answer)
            if (want is None) != (got is None) or (want is not None and not np.array_equal(want, got)):
                out.append(f"{name}: attempt {a + 1} is not the vote's candidate {a + 1}")
    return out
