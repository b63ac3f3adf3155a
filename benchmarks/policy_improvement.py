"""The policy-improvement view on one reference policy: valid % against KL(pi || pi_ref).

Reference: a checkpoint (default the shipped stored-label one, `nqueens_dis_label`). Three ways of
moving away from it, each scored on the same 200 test boards (overall and on the boards with several
valid answers) and placed by its KL to the reference (`dis_rl.policy_kl`: per-cell KL summed over
cells, averaged over steps and boards, at temperature 1):

  (a) guidance: the reference model itself at guidance scale w (pi_w against pi_1);
  (b) fine-tuning: the checkpoints one `dis-rl rl ... finetune.keep_checkpoints=N` run saved;
  (c) other trained models, e.g. DIS with answer-set targets (run folders or checkpoints).

    python benchmarks/policy_improvement.py --finetune runs/rl/grpo_several_s0 \
        --models runs/answers/demo_nearest_s0 runs/answers/demo_canonical_s0 \
        --out docs/results/policy_improvement.md --figure docs/figures/policy_improvement.png
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dis_rl.data import puzzle_sets
from dis_rl.evaluate import evaluate
from dis_rl.loading import load_model
from dis_rl.policy_kl import policy_kl

WS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)


def score(model, reference, test, steps, step_input, w=1.0):
    result = evaluate(model, test, steps, step_input, w=w)
    several = next((v for name, _, v in result.by_answers() if name == "several"), float("nan"))
    kl = policy_kl(model, reference, test, steps, step_input, w=w, w_ref=1.0)
    return {"valid": result.valid, "several": several, "kl": kl}


def finetune_checkpoints(run: Path) -> list[tuple[int, Path]]:
    """(iteration, step folder) of every checkpoint a fine-tuning run kept, in order."""
    folders = sorted((run / "checkpoints").glob("step_*"))
    return [(int(f.name.split("_")[-1]), f) for f in folders]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", default="nqueens_dis_label")
    p.add_argument("--w", default=",".join(f"{w:g}" for w in WS), help="guidance scales for (a)")
    p.add_argument("--finetune", nargs="*", default=[], help="fine-tuning run folders for (b)")
    p.add_argument("--models", nargs="*", default=[], help="other checkpoints / run folders for (c)")
    p.add_argument("--out", default="", help="markdown table (also .json beside it)")
    p.add_argument("--figure", default="")
    p.add_argument("--replot", default="", help="draw --figure from an earlier run's .json, measuring nothing")
    args = p.parse_args()
    if args.replot:
        plot(json.loads(Path(args.replot).read_text()), args.figure, args.reference)
        return
    torch.set_num_threads(1)
    started = time.time()

    reference, cfg, _ = load_model(args.reference)
    steps, step_input = cfg.train.supervision_steps, cfg.train.step_input
    test = puzzle_sets(cfg.data)[1]
    rows: list[dict] = []
    for w in (float(v) for v in args.w.split(",")):
        measured = score(reference, reference, test, steps, step_input, w)
        rows.append({"kind": "guidance", "what": f"w = {w:g}", **measured})
        print(rows[-1], flush=True)
    for run in args.finetune:
        for it, folder in finetune_checkpoints(Path(run)):
            model, _, _ = load_model(str(folder))
            rows.append({"kind": "fine-tuning", "what": f"{Path(run).name} iteration {it}",
                         **score(model, reference, test, steps, step_input)})
            print(rows[-1], flush=True)
    for name in args.models:
        model, mcfg, _ = load_model(name)
        rows.append({"kind": "trained", "what": f"{Path(name).name} ({mcfg.train.answer_target})",
                     **score(model, reference, test, steps, step_input)})
        print(rows[-1], flush=True)

    lines = [f"Reference policy: `{args.reference}`; {len(test)} test boards; KL(pi || pi_ref) in nats "
             "(per-cell KL summed over the 64 cells, mean over the steps and boards).", "",
             "| kind | policy | KL(pi \\|\\| pi_ref) | valid % | valid %, boards with several answers |",
             "|---|---|---:|---:|---:|"]
    lines += [f"| {r['kind']} | {r['what']} | {r['kl']:.3f} | {100 * r['valid']:.1f} | {100 * r['several']:.1f} |"
              for r in rows]
    lines += ["", f"({time.time() - started:.0f} s)"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=1))
    if args.figure:
        plot(rows, args.figure, args.reference)


def plot(rows: list[dict], path: str, reference: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    styles = {"guidance": ("o", "guidance scale w"), "fine-tuning": ("s", "GRPO fine-tuning checkpoints"),
              "trained": ("*", "DIS, answer-set targets")}
    for ax, key, title in ((axes[0], "valid", "all 200 test boards"),
                           (axes[1], "several", "boards with several valid answers")):
        for kind, (style, label) in styles.items():
            pts = [r for r in rows if r["kind"] == kind]
            if not pts:
                continue
            if kind == "fine-tuning":  # one line per run
                runs = {r["what"].rsplit(" iteration", 1)[0] for r in pts}
                for i, run in enumerate(sorted(runs)):
                    mine = [r for r in pts if r["what"].startswith(run)]
                    ax.plot([r["kl"] for r in mine], [100 * r[key] for r in mine], style, ms=4, linestyle="-",
                            label=label if i == 0 else None, color="tab:orange", alpha=0.9 - 0.3 * i)
            elif kind == "guidance":  # two branches from w = 1: below (dotted) and above (solid)
                ws = [float(r["what"].split("=")[1]) for r in pts]
                for below in (True, False):
                    branch = sorted((w, r) for w, r in zip(ws, pts) if (w <= 1) == below or w == 1)
                    ax.plot([r["kl"] for _, r in branch], [100 * r[key] for _, r in branch], style, ms=5,
                            linestyle=":" if below else "-", color="tab:blue",
                            label=None if below else label + " (dotted: w < 1)")
            else:
                ax.plot([r["kl"] for r in pts], [100 * r[key] for r in pts], style, ms=10, label=label,
                        linestyle="none", color="tab:red")
            if kind == "guidance":
                for r in pts:
                    ax.annotate(r["what"].replace("w = ", "w="), (r["kl"], 100 * r[key]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set_xlabel("KL(pi || pi_ref), nats per board and step")
        ax.set_ylabel("valid %")
        ax.set_ylim(0, 102)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Policy improvement from {reference}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
