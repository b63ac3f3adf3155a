"""arc1_eval_small: the ARC-AGI-1 evaluation protocol on the tasks a CPU can afford (issue 25).

Trains ``configs/arc1_eval_small.yaml``: the 77 ARC-AGI-1 evaluation tasks whose every grid is at
most 10x10 (their demonstrations; their test pairs are the test set), the 178 training tasks of
that size and, when ``--conceptarc`` names a folder that exists (default
``../shared/data/conceptarc``), ConceptARC's tasks of that size, with 4 augmentations each. Then it
scores the run (``benchmarks/arc_common.py``, shared with ``arc_small.py``):

- pass@1 / pass@2 on the evaluation test outputs by voting over the first ``--vote-aug``
  augmentations of each test input (default ``data.num_aug``), against copy-input and the task's
  most common demonstration outputs, scored the same way;
- exact match on every training example (un-augmented) and on the test pairs (un-augmented), the
  Hamming distance per refinement step, and what the vote had to work with;
- the same trained model as an agent through ``evaluate_agent`` and ``ARCRefine-v0`` made from the
  run's data config (evaluation protocol, 2 attempts per test input, the agent sees observations
  only): its per-task pass@1 / pass@2 and every answer it submits must equal the vote's, or the
  script exits with status 1.

It refuses to score a run whose training pairs contain an evaluation test pair (input and output
together, by content). It writes ``<out>/arc1_eval_small_<tag>.md`` + ``.json`` and
``<figures>/arc1_eval_small_<tag>.png`` and ends with the line
``arc1_eval_small: pass@2 X% (copy-input Y%, most-common Z%), training exact W%``.

    PYTHONPATH=. python benchmarks/arc1_eval_small.py                 # DIS, seed 0, <= 90 min of one core
    PYTHONPATH=. python benchmarks/arc1_eval_small.py --method trm    # TRM-compact's recursion, same calls
    PYTHONPATH=. python benchmarks/arc1_eval_small.py train.max_batches=20 --out /tmp/a --figures /tmp/a \\
        --run-dir /tmp/a/run                                          # a smoke run (minutes)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from arc_common import (
    REPO,
    agent_score,
    leaked_pairs,
    method_overrides,
    metrics_table,
    parser,
    pct,
    plot,
    provenance,
    result_record,
    scores_agree,
    train_and_score,
)

CONFIG = REPO / "configs" / "arc1_eval_small.yaml"
CONCEPTARC = REPO.parent / "shared" / "data" / "conceptarc"


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, "arc1_eval_small", "method_s<seed>")
    cli.add_argument("--conceptarc", default=str(CONCEPTARC),
                     help="ConceptARC folder added to the training tasks when it exists ('' : never)")
    args = cli.parse_args(argv)

    from dis_rl.config import load_config

    extra = []
    if args.conceptarc and Path(args.conceptarc).is_dir():
        extra = [f"data.arc_dirs=[{Path(args.conceptarc).resolve()}]"]
    else:
        print(f"ConceptARC: {args.conceptarc or '(none)'} is not a folder; training without it", file=sys.stderr)
    overrides = method_overrides(CONFIG, args.method, extra + args.overrides)
    cfg = load_config(CONFIG, overrides)
    tag = args.tag or f"{args.method}_s{cfg.train.seed}"
    run_dir = Path(args.run_dir or Path(cfg.out_dir) / f"arc1_eval_small_{tag}")

    from dis_rl.data import build_arc

    leaks = leaked_pairs(build_arc(cfg.data))
    if leaks:
        raise SystemExit(f"evaluation test pairs among the training pairs: {leaks[:5]} ({len(leaks)}); not scoring")
    s = train_and_score(cfg, run_dir, args.vote_aug, args.overwrite)
    score = agent_score(s)
    differ = scores_agree(s, score)

    splits = s.splits
    result = result_record(
        s, tag=tag, method=args.method, overrides=overrides, conceptarc=bool(extra),
        tasks={"evaluation": int(splits.is_eval.sum()), "training": int((~splits.is_eval).sum())},
        env={"summary": score.summary(), "pass_at_1": score.pass_at(1), "pass_at_2": score.pass_at(2),
             "agrees_with_vote": not differ, "differences": differ})
    out, figures = Path(args.out), Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"arc1_eval_small_{tag}.json").write_text(json.dumps(result, indent=1))
    figure = figures / f"arc1_eval_small_{tag}.png"
    plot(figure, f"arc1_eval_small {tag}", "evaluation", s)
    command = f"benchmarks/arc1_eval_small.py --method {args.method}"
    verdict = f"{len(differ)} differences: {differ[:3]}" if differ else "agrees with the vote on every task and answer"
    env_line = f"{score.summary()}: {verdict}"
    tasks = result["tasks"]
    (out / f"arc1_eval_small_{tag}.md").write_text(f"""# arc1_eval_small: {tag}

{provenance(s, command, args.overrides)} Config `configs/arc1_eval_small.yaml`; training tasks:
{tasks['training']} ({'with' if extra else 'without'} ConceptARC), evaluation tasks: {tasks['evaluation']}.

{metrics_table(s, "evaluation")}

Through `evaluate_agent` and `ARCRefine-v0` (evaluation protocol, the same model as an agent): {env_line}.

![arc1_eval_small {tag}](../figures/{figure.name})
""")
    print(f"results: {out / f'arc1_eval_small_{tag}.md'}, {figure}")
    print(f"evaluate_agent: {env_line}")
    print(f"arc1_eval_small: pass@2 {pct(s.votes.pass_at[2])} (copy-input {pct(s.copy.pass_at[2])}, "
          f"most-common {pct(s.common.pass_at[2])}), training exact {pct(s.train_eval.exact)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
