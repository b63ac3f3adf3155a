"""arc_small: ARC learning on a CPU (issue 14). Trains ``configs/arc_small.yaml`` (40 small ARC-AGI-1
tasks, the TRM way; the config says which), then scores the run:

- training-example accuracy: exact match on every training example, un-augmented and untranslated
  (demonstrations of all 40 tasks and the test pairs of the 10 training tasks);
- held-out test pairs (30 tasks, 33 pairs): exact match and Hamming distance per refinement step
  (un-augmented), pass@1 / pass@2 by voting over the first ``--vote-aug`` augmentations of each
  pair (default ``data.num_aug``: 4 of the 5 views of the shipped config; `dis_rl.puzzles.arc_vote`),
  against two model-free baselines: copy the input, and the task's most common demonstration outputs;
- the eval log over training (exact match on the held-out pairs against network calls).

It writes ``<out>/arc_small_<tag>.md`` + ``.json`` and ``<figures>/arc_small_<tag>.png`` (Hamming
per step; accuracy against network calls) and ends with one line:
``arc_small: train exact X%, pass@2 Y% (copy-input Z%, most-common W%)``.

    PYTHONPATH=. python benchmarks/arc_small.py                         # DIS, cropped canvas, ~20 min
    PYTHONPATH=. python benchmarks/arc_small.py --method trm            # TRM baseline, same network calls
    PYTHONPATH=. python benchmarks/arc_small.py data.canvas=full train.seed=1 --tag dis_full_s1
    PYTHONPATH=. python benchmarks/arc_small.py train.max_batches=100 --out /tmp/x --figures /tmp/x

``--method trm`` applies TRM-compact's recursion (N_sup 16, T 3, n 6, halting head, no step index)
at the DIS run's network calls (the config's budget is in batches, for the cosine schedule: TRM gets
the batches that spend the same calls), so DIS and TRM are compared at equal calls. The shared
pieces (training, scoring, voting, baselines, figure) are in ``benchmarks/arc_common.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from arc_common import (
    REPO,
    method_overrides,
    metrics_table,
    parser,
    pct,
    plot,
    provenance,
    result_record,
    train_and_score,
)

CONFIG = REPO / "configs" / "arc_small.yaml"


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__, "arc_small", "method_canvas_s<seed>").parse_args(argv)

    from dis_rl.config import load_config, save_config

    overrides = method_overrides(CONFIG, args.method, args.overrides)
    cfg = load_config(CONFIG, overrides)
    tag = args.tag or f"{args.method}_{cfg.data.canvas}_s{cfg.train.seed}"
    run_dir = Path(args.run_dir or Path(cfg.out_dir) / f"arc_small_{tag}")
    s = train_and_score(cfg, run_dir, args.vote_aug, args.overwrite)
    result = result_record(s, tag=tag, method=args.method, overrides=overrides)
    out, figures = Path(args.out), Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"arc_small_{tag}.json").write_text(json.dumps(result, indent=1))
    figure = figures / f"arc_small_{tag}.png"
    plot(figure, f"arc_small {tag}", "held-out", s)
    save_config(cfg, run_dir / "arc_small_config.yaml")
    command = f"benchmarks/arc_small.py --method {args.method}"
    (out / f"arc_small_{tag}.md").write_text(f"""# arc_small: {tag}

{provenance(s, command, args.overrides)} Config `configs/arc_small.yaml`.

{metrics_table(s, "held-out")}

![arc_small {tag}](../figures/{figure.name})
""")
    print(f"results: {out / f'arc_small_{tag}.md'}, {figure}")
    print(f"arc_small: train exact {pct(s.train_eval.exact)}, pass@2 {pct(s.votes.pass_at[2])} "
          f"(copy-input {pct(s.copy.pass_at[2])}, most-common {pct(s.common.pass_at[2])})")


if __name__ == "__main__":
    main()
