"""Curves of policy-gradient fine-tuning runs (`dis-rl rl rl_nqueens_finetune ...`), one figure:
test valid % (all boards and boards with several valid answers), the training return, the
policy's entropy and KL(pi || pi_pretrained) on the test boards, against iterations.

    python benchmarks/finetune_curves.py runs/rl/grpo_several_s0 runs/rl/grpo_several_s1 \
        --out docs/figures/finetune_curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def scalars(run: Path, tag: str) -> tuple[list[float], list[float]]:
    """(env steps, values) of one TensorBoard scalar of a run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    if tag not in acc.Tags()["scalars"]:
        return [], []
    events = acc.Scalars(tag)
    return [e.step for e in events], [e.value for e in events]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for i, name in enumerate(args.runs):
        run = Path(name)
        evals = [json.loads(line) for line in (run / "eval_log.jsonl").read_text().splitlines() if line.strip()]
        steps = [e["env_steps"] for e in evals]
        colour = f"C{i}"
        axes[0].plot(steps, [100 * e["valid"] for e in evals], "o-", color=colour, label=f"{run.name}: all boards")
        axes[0].plot(steps, [100 * e["valid_by_answers"]["several"]["valid"] for e in evals], "s--", color=colour,
                     label=f"{run.name}: several answers")
        axes[3].plot(steps, [e.get("kl_to_pretrained_test", float("nan")) for e in evals], "o-", color=colour,
                     label=run.name)
        for ax, tag in ((axes[1], "charts/episodic_return"), (axes[2], "losses/entropy")):
            x, y = scalars(run, tag)
            ax.plot(x, y, color=colour, alpha=0.8, label=run.name)
    titles = ("test valid %", "training return per episode", "policy entropy (nats per step, summed over cells)",
              "KL(pi || pi_pretrained), test boards")
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 102)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
