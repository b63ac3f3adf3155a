"""A comparison's markdown: the tables of ``compare.md`` (finals, bands by number of answers, every
evaluation point, the verdict's readings) and the reach table with its provenance (``report:``)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from dis_rl import checkpoint
from dis_rl.arms import ArmRun
from dis_rl.compare.schema import Arm, Budget, CompareConfig
from dis_rl.compare.stats import ArmSummary, Verdict, mean, ratio_words, std


def format_tables(summaries: list[ArmSummary], verdict_: Verdict | None, budget: Budget) -> str:
    unit = f"{budget.network_calls:,} network calls" if budget.network_calls else f"{budget.seconds:.0f} training s"
    lines = [f"Budget: {unit} per run; test valid-completion accuracy, mean over seeds (± std).", "",
             "| arm | kind | params | seeds | calls/example/batch (schedule) | realised calls/example | "
             "final valid % | final exact % | network calls | training s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        lines.append(
            f"| {s.name} | {s.kind} | {s.parameters:,} | {len(s.seeds)} | {s.calls_per_example:.0f} | "
            f"{s.realised_calls_per_example:.1f} | {100 * s.final_mean:.1f} ± {100 * std(s.final_valid):.1f} | "
            f"{100 * mean(s.final_exact):.1f} | {s.calls[-1]:,.0f} | {s.seconds[-1]:.0f} |"
        )
    banded = [s for s in summaries if s.final_by_answers]
    if banded:
        names = list(banded[0].final_by_answers)
        lines += ["", "Final valid % by the boards' number of valid answers (mean over seeds; boards in brackets):", "",
                  "| arm | " + " | ".join(f"{n} ({banded[0].final_by_answers[n][0]})" for n in names) + " |",
                  "|---|" + "---:|" * len(names)]
        for s in banded:
            lines.append(f"| {s.name} | " + " | ".join(
                f"{100 * s.final_by_answers[n][1]:.1f}" if n in s.final_by_answers else "-" for n in names) + " |")
    lines += ["", "Valid % at each evaluation point (mean over seeds; calls / training s of that arm):", "",
              "| point | " + " | ".join(s.name for s in summaries) + " |",
              "|---:|" + "---:|" * len(summaries)]
    # One row per point of the comparison: an arm without an evaluation there shows "-".
    at = {s.name: s.points or list(range(len(s.calls))) for s in summaries}
    for point in sorted({p for s in summaries for p in at[s.name]}):
        cells = []
        for s in summaries:
            k = at[s.name].index(point) if point in at[s.name] else None
            cells.append("-" if k is None else f"{100 * s.valid_mean[k]:.1f} ({s.calls[k]:,.0f} / {s.seconds[k]:.0f}s)")
        lines.append(f"| {point + 1} | " + " | ".join(cells) + " |")
    if verdict_ is not None:
        v = verdict_
        kinds = {s.name: s.kind for s in summaries}
        if (kinds.get(v.baseline), kinds.get(v.contender)) == ("trm", "dis"):  # the paper's claim
            lines += ["", "Two readings of the paper's 18x:", "",
                      f"- calls per example per batch (schedule): {v.baseline} / {v.contender} = "
                      f"{v.schedule_ratio:.1f}x (with {v.baseline}'s realised halting cost: {v.realised_ratio:.1f}x)"]
        else:  # other pairs (RL arms): calls per example mean different things, only reaching counts
            lines += ["", f"{v.contender} against {v.baseline}:", ""]
        if v.calls_ratio is not None:
            seconds = f" (training time: {ratio_words(v.seconds_ratio, 'less', 'more')})" if v.seconds_ratio else ""
            lines.append(f"- calls to reach {v.baseline}'s final accuracy ({100 * v.target:.1f}%): "
                         f"{ratio_words(v.calls_ratio, 'fewer', 'more')}{seconds}")
        elif v.target <= 0:
            lines.append(f"- calls to reach {v.baseline}'s final accuracy: none to reach ({v.baseline} ended at 0.0%)")
        else:
            lines.append(f"- calls to reach {v.baseline}'s final accuracy ({100 * v.target:.1f}%): not reached")
        lines.append(f"- {v.contender}'s final accuracy is {'not lower than' if v.final_not_lower else 'LOWER than'} "
                     f"{v.baseline}'s")
        lines.append("")
        lines.append("Ratios are read at the evaluation points, so they are lower bounds within one point's spacing.")
    return "\n".join(lines)


def _spread(values: list[float], fmt: str) -> str:
    """``mean [min-max]`` of per-seed values (just the value for one seed)."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(mean(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def reach_table(arms: list[Arm], results: dict[str, dict[int, ArmRun]], reach: float) -> str:
    """Per arm: final valid % and the network calls at the first evaluation reaching ``reach`` valid,
    each as seed mean [min-max]; seeds that never reach it are counted, not averaged."""
    pct = f"{100 * reach:g}"
    lines = [f"| arm | seeds | final valid % | calls to reach {pct}% valid | seeds reaching {pct}% | "
             "training s per run | note |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for arm in arms:
        runs = results[arm.name]
        final = [100 * r.evals[-1]["valid"] for r in runs.values() if r.evals]
        calls = [next((e["network_calls"] for e in r.evals if e["valid"] >= reach), None) for r in runs.values()]
        reached = [c for c in calls if c is not None]
        seconds = [r.evals[-1]["train_s"] for r in runs.values() if r.evals]
        lines.append(f"| {arm.name} | {', '.join(map(str, sorted(runs)))} | "
                     f"{_spread(final, '{:.1f}') if final else '-'} | "
                     f"{_spread(reached, '{:,.0f}') if reached else 'not reached'} | {len(reached)}/{len(runs)} | "
                     f"{mean(seconds):.0f} | {arm.note} |")
    return "\n".join(lines)


def write_report(path: Path, cfg: CompareConfig, source: Path, overrides: list[str] | None, table: str,
                 wall_s: float, finished: bool = False) -> Path:
    """The reach table with its provenance (command, commit, seeds, machine, wall time)."""
    command = " ".join(["dis-rl compare", str(source), *(overrides or []), *(["--finished"] if finished else [])])
    budget = (f"{cfg.budget.network_calls:,} network calls" if cfg.budget.network_calls
              else f"{cfg.budget.seconds:g} training s")
    seeds = (f"seeds: the finished ones of {cfg.seed_list}, per arm in the table" if finished
             else f"seeds {cfg.seed_list}")
    wall = ("the command read finished runs (each run's training time is in the table)" if finished else
            f"wall time of the command {wall_s / 60:.0f} min (arm x seeds reused from an earlier run add none)")
    text = (f"# {cfg.name}\n\nCommand: `{command}`; commit {checkpoint.git_commit()}; {seeds}; budget {budget} "
            f"per arm x seed, {cfg.eval_points} evaluations ({cfg.eval_spacing}); machine: {platform.machine()} "
            f"with {os.cpu_count()} CPUs; {wall}. Plot: {Path(cfg.out_dir) / cfg.name / 'compare.png'} "
            f"(valid % vs network calls, seed mean and min-max band).\n\n"
            f"{table}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
