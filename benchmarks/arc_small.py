"""arc_small: ARC learning on a CPU (issue 14). Trains ``configs/arc_small.yaml`` (40 small ARC-AGI-1
tasks, the TRM way; the config says which), then scores the run:

- training-example accuracy: exact match on every training example, un-augmented and untranslated
  (demonstrations of all 40 tasks and the test pairs of the 10 training tasks);
- held-out test pairs (30 tasks, 33 pairs): exact match and Hamming distance per refinement step
  (un-augmented), pass@1 / pass@2 by voting over the first ``--vote-aug`` augmentations of each
  pair (`dis_rl.puzzles.arc_vote`), against two model-free baselines: copy the input, and the
  task's most common demonstration outputs;
- the eval log over training (exact match on the held-out pairs against network calls).

It writes ``<out>/arc_small_<tag>.md`` + ``.json`` and ``<figures>/arc_small_<tag>.png`` (Hamming
per step; accuracy against network calls) and ends with one line:
``arc_small: train exact X%, pass@2 Y% (copy-input Z%, most-common W%)``.

    PYTHONPATH=. python benchmarks/arc_small.py                         # DIS, cropped canvas, <= 30 min
    PYTHONPATH=. python benchmarks/arc_small.py --method trm            # TRM baseline, same network calls
    PYTHONPATH=. python benchmarks/arc_small.py data.canvas=full train.seed=1 --tag dis_full_s1
    PYTHONPATH=. python benchmarks/arc_small.py train.max_network_calls=50000 --out /tmp/x --figures /tmp/x

``--method trm`` applies TRM-compact's recursion (N_sup 16, T 3, n 6, halting head, no step index);
the network-call budget of the config stays, so DIS and TRM are compared at equal calls.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "arc_small.yaml"
TRM_OVERRIDES = ["train.method=trm", "model.halting_head=true", "model.step_embedding=0", "model.cycles=3",
                 "model.latent_steps=6", "train.supervision_steps=16"]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def plot(path: Path, tag: str, test_hamming: list[float], train_hamming: list[float], evals: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = np.arange(1, len(test_hamming) + 1)
    a.plot(steps, test_hamming, "o-", label="held-out test pairs")
    a.plot(steps, train_hamming, "s-", label="training examples")
    a.set_xlabel("refinement step")
    a.set_ylabel("Hamming distance to the label (cells)")
    a.legend()
    if evals:
        b.plot([e["network_calls"] for e in evals], [100 * e["exact"] for e in evals], "o-")
    b.set_xlabel("network calls (summed over examples)")
    b.set_ylabel("held-out exact match, un-augmented (%)")
    fig.suptitle(f"arc_small {tag}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=("dis", "trm"), default="dis")
    parser.add_argument("--tag", default="", help="result name (default: method_canvas_s<seed>)")
    parser.add_argument("--run-dir", default="", help="run folder (default: runs/arc_small_<tag>)")
    parser.add_argument("--out", default=str(REPO / "docs" / "results"), help="folder of the .md/.json results")
    parser.add_argument("--figures", default=str(REPO / "docs" / "figures"), help="folder of the plot")
    parser.add_argument("--vote-aug", type=int, default=16, help="augmentations voted per test pair")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier run in the run folder")
    parser.add_argument("overrides", nargs="*", help="config overrides, key=value")
    args = parser.parse_args(argv)

    from dis_rl.config import load_config, save_config
    from dis_rl.data import arc_train_examples, build_arc
    from dis_rl.evaluate import evaluate
    from dis_rl.puzzles.arc_vote import baseline_votes, evaluate_votes
    from dis_rl.runs import read_jsonl
    from dis_rl.train import Trainer
    from dis_rl.vote import model_predictor

    overrides = (TRM_OVERRIDES if args.method == "trm" else []) + args.overrides
    cfg = load_config(CONFIG, overrides)
    torch.set_num_threads(max(cfg.train.threads, 1))
    tag = args.tag or f"{args.method}_{cfg.data.canvas}_s{cfg.train.seed}"
    run_dir = Path(args.run_dir or Path(cfg.out_dir) / f"arc_small_{tag}")
    start = time.perf_counter()
    trainer = Trainer(cfg, run_dir=run_dir, progress=False, overwrite=args.overwrite)
    trainer.run()
    train_s = trainer.train_seconds
    model, tc = trainer.eval_model(), cfg.train
    splits = build_arc(cfg.data)
    evaluate_at = dict(steps=tc.supervision_steps, step_input=tc.step_input, batch_size=tc.eval_batch_size,
                       device=trainer.device, precision=tc.precision)
    train_eval = evaluate(model, arc_train_examples(splits), **evaluate_at)
    test_eval = evaluate(model, trainer.test_set, **evaluate_at)
    predict = model_predictor(model, tc.supervision_steps, tc.step_input, trainer.device, tc.precision)
    votes = evaluate_votes(splits.test, predict, batch_size=tc.eval_batch_size, max_aug=args.vote_aug,
                           progress=False)
    copy, common = (baseline_votes(splits.test, kind) for kind in ("copy_input", "most_common_output"))
    wall = time.perf_counter() - start
    evals = read_jsonl(run_dir / "eval_log.jsonl")

    result = {
        "tag": tag, "method": args.method, "canvas": cfg.data.canvas, "seed": tc.seed, "overrides": overrides,
        "train_exact": train_eval.exact, "train_examples": train_eval.num_puzzles,
        "test_exact": test_eval.exact, "test_pairs": test_eval.num_puzzles,
        "pass_at_1": votes.pass_at[1], "pass_at_2": votes.pass_at[2], "vote_aug": args.vote_aug,
        "scored_tasks": votes.scored_tasks,
        "copy_input_pass_at_2": copy.pass_at[2], "most_common_pass_at_2": common.pass_at[2],
        "test_hamming_per_step": test_eval.hamming_per_step, "train_hamming_per_step": train_eval.hamming_per_step,
        "network_calls": trainer.network_calls, "examples": trainer.examples, "batches": trainer.batches,
        "train_seconds": round(train_s, 1), "wall_seconds": round(wall, 1),
        "eval_log": [{k: e[k] for k in ("batch", "network_calls", "train_s", "exact")} for e in evals],
    }
    out, figures = Path(args.out), Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    (out / f"arc_small_{tag}.json").write_text(json.dumps(result, indent=1))
    figure = figures / f"arc_small_{tag}.png"
    plot(figure, tag, test_eval.hamming_per_step, train_eval.hamming_per_step, evals)
    save_config(cfg, run_dir / "arc_small_config.yaml")
    steps = "\n".join(f"| {s} | {h:.2f} | {g:.2f} |" for s, (h, g) in
                      enumerate(zip(test_eval.hamming_per_step, train_eval.hamming_per_step), 1))
    (out / f"arc_small_{tag}.md").write_text(f"""# arc_small: {tag}

Written by `benchmarks/arc_small.py --method {args.method} {' '.join(args.overrides)}` (config
`configs/arc_small.yaml`, resolved copy in `{run_dir}/config.yaml`); seed {tc.seed}, one run.
{trainer.examples:,} training examples ({trainer.batches:,} batches, {trainer.network_calls:,} network calls),
{train_s:.0f} s of training, {wall:.0f} s in all, on {trainer.device} with {cfg.train.threads} thread(s).

| metric | value |
|---|---:|
| training examples, exact (un-augmented, {train_eval.num_puzzles}) | {_pct(train_eval.exact)} |
| held-out test pairs, exact (un-augmented, {test_eval.num_puzzles}) | {_pct(test_eval.exact)} |
| held-out pass@1 (vote over {args.vote_aug} augmentations, {votes.scored_tasks} tasks) | {_pct(votes.pass_at[1])} |
| held-out pass@2 | {_pct(votes.pass_at[2])} |
| baseline: copy the input, pass@2 | {_pct(copy.pass_at[2])} |
| baseline: most common demonstration outputs, pass@2 | {_pct(common.pass_at[2])} |

| step | Hamming, held-out | Hamming, training examples |
|---:|---:|---:|
{steps}

![arc_small {tag}](../figures/{figure.name})
""")
    print(f"results: {out / f'arc_small_{tag}.md'}, {figure}")
    print(f"arc_small: train exact {_pct(train_eval.exact)}, pass@2 {_pct(votes.pass_at[2])} "
          f"(copy-input {_pct(copy.pass_at[2])}, most-common {_pct(common.pass_at[2])})")


if __name__ == "__main__":
    main()
