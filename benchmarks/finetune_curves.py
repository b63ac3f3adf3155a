"""Curves of RL runs, one figure each.

Policy-gradient fine-tuning (`dis-rl rl rl_nqueens_finetune ...`): test valid % (all boards and boards
with several valid answers), the training return, the policy's entropy and KL(pi || pi_pretrained)
on the test boards, against env steps. PPO from scratch (`dis-rl rl rl_nqueens_ppo ...`, `--ppo`):
test valid %, SB3's policy entropy (against its maximum, a uniform policy), approx. KL per update and
clip fraction.

    python benchmarks/finetune_curves.py runs/rl/grpo_several_s0 runs/rl/grpo_several_s1 \
        --out docs/figures/finetune_curves.png
    python benchmarks/finetune_curves.py --ppo runs/rl/ppo_mlp_s0 --out docs/figures/ppo_curves.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dis_rl.runs import read_jsonl


def scalars(run: Path, tag: str, folder: str = "tb") -> tuple[list[float], list[float]]:
    """(env steps, values) of one TensorBoard scalar of a run."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / folder), size_guidance={"scalars": 0})
    acc.Reload()
    if tag not in acc.Tags()["scalars"]:
        return [], []
    events = acc.Scalars(tag)
    return [e.step for e in events], [e.value for e in events]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="*")
    p.add_argument("--ppo", default="", help="a PPO-from-scratch run folder instead")
    p.add_argument("--out", required=True)
    args = p.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if args.ppo:
        ppo_figure(Path(args.ppo), args.out, plt)
        return

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for i, name in enumerate(args.runs):
        run = Path(name)
        evals = read_jsonl(run / "eval_log.jsonl")
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
    axes[0].set_ylim(0, 102)
    axes[0].legend(fontsize=7)
    finish(fig, axes, titles, args.out)


def finish(fig, axes, titles: tuple[str, ...], out: str) -> None:
    """Title, label and grid each panel (x: env steps), then save the figure."""
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"figure: {out}")


def ppo_figure(run: Path, out: str, plt) -> None:
    import math

    evals = read_jsonl(run / "eval_log.jsonl")
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    axes[0].plot([e["env_steps"] for e in evals], [100 * e["valid"] for e in evals], "o-")
    axes[0].set_ylim(-2, 102)
    x, y = scalars(run, "train/entropy_loss", "tb/sb3")
    axes[1].plot(x, [-v for v in y], label="policy entropy")
    cells = 64  # N-Queens: 64 cells of 3 tokens
    axes[1].axhline(cells * math.log(3), color="gray", linestyle="--", label="uniform policy (64 ln 3)")
    axes[1].legend(fontsize=7)
    for ax, tag in ((axes[2], "train/approx_kl"), (axes[3], "train/clip_fraction")):
        ax.plot(*scalars(run, tag, "tb/sb3"))
    titles = ("test valid %", "entropy of the answer (nats, summed over cells)", "approx. KL per update",
              "clip fraction")
    fig.suptitle(f"PPO from scratch: {run.name}", fontsize=10)
    finish(fig, axes, titles, out)


if __name__ == "__main__":
    main()
