"""``dis-rl compare``: every arm x seed trained (or reused) to one budget, then the tables, the plot,
the TensorBoard scalars, ``results.json`` and the verdict line."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from dis_rl.compare.arm_runs import read_finished, run_in_workers, run_or_reuse
from dis_rl.compare.plot import plot_comparison, write_tensorboard
from dis_rl.compare.report import format_tables, reach_table, write_report
from dis_rl.compare.schema import arm_run_config, load_compare_config
from dis_rl.compare.stats import ArmSummary, Verdict, summarise, verdict
from dis_rl.config import ConfigError
from dis_rl.runs import check_creatable, check_not_foreign, folder_lock, is_marked, mark_folder

COMPARE_OUTPUTS = ("compare.md", "compare.png", "results.json", "tb", "arms")  # what compare writes in its folder


@dataclass
class CompareResult:
    run_dir: Path
    summaries: list[ArmSummary]
    verdict: Verdict | None
    table: str
    plot: Path


def compare(path: str | Path, overrides: list[str] | None = None, progress: bool = True,
            fresh: bool = False, log: Callable[[str], None] = print, finished: bool = False,
            jobs: int = 1, initializer: Callable[[], None] | None = None) -> CompareResult:
    """Run every arm x seed (reusing finished ones unless ``fresh``) and write plot, tables and
    TensorBoard scalars; ``log`` receives progress lines and, last, the verdict line. With
    ``finished`` nothing trains: the tables and plot cover the arm x seeds that have finished (a
    look at a long comparison while it runs, or a report of one that was stopped). ``jobs > 1``
    trains that many arm x seeds at once in worker processes (no progress bars), each with its
    config's ``train.threads``; ``initializer`` runs in each worker first (the arm kinds need none:
    they are rows of `dis_rl.arms.ARM_KINDS`, imported where they run)."""
    started = time.perf_counter()
    cfg, base_dir = load_compare_config(path, overrides)
    if finished and fresh:
        raise ConfigError("--finished reads finished runs and --fresh retrains them: pass one of the two")
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    runs = {arm.name: {seed: arm_run_config(cfg, arm, seed, base_dir) for seed in cfg.seed_list} for arm in cfg.arms}
    run_dir = Path(cfg.out_dir) / cfg.name
    check_creatable(run_dir)  # before any arm trains
    # Compare rewrites these and empties its arm folders: only in a folder that is its own (marked,
    # or holding finished arms of an older dis-rl).
    check_not_foreign(run_dir, COMPARE_OUTPUTS,
                      is_marked(run_dir, "comparison") or any(run_dir.glob("arms/*/*/arm_result.json")),
                      "comparison folder")
    todo = [(arm, seed, run, run_dir / "arms" / arm.name / f"seed{seed}")
            for arm in cfg.arms for seed, run in runs[arm.name].items()]
    if finished:  # reads arm folders only, so it may run beside the compare that writes them
        done = read_finished(todo, cfg.name, run_dir, log)
    else:
        with folder_lock(run_dir, "compare"):  # a second compare here would wipe the arm folders this one writes
            mark_folder(run_dir, "comparison")
            if jobs == 1:
                done = {(arm.name, seed): run_or_reuse(arm, run, arm_dir, progress, fresh, log)
                        for arm, seed, run, arm_dir in todo}
            else:
                done = run_in_workers(todo, jobs, fresh, log, initializer)
    results = {arm.name: {seed: done[arm.name, seed] for seed in runs[arm.name] if (arm.name, seed) in done}
               for arm in cfg.arms}
    arms = [arm for arm in cfg.arms if results[arm.name]]
    cfg = replace(cfg, arms=arms)
    unit = "network_calls" if cfg.budget.network_calls else "train_s"
    summaries = [summarise(arm, results[arm.name], cfg.points(), unit) for arm in cfg.arms]
    base, cont = cfg.role("baseline"), cfg.role("contender")
    by_name = {s.name: s for s in summaries}
    verdict_ = verdict(by_name[base.name], by_name[cont.name]) if base and cont and base is not cont else None
    table = format_tables(summaries, verdict_, cfg.budget)
    if cfg.reach:
        reach = reach_table(cfg.arms, results, cfg.reach)
        table += f"\n\nPer seed, the first evaluation at or above {100 * cfg.reach:g}% valid:\n\n{reach}"
        if cfg.report:
            wall_s = time.perf_counter() - started
            log(f"report: {write_report(Path(cfg.report), cfg, Path(path), overrides, reach, wall_s, finished)}")
    (run_dir / "compare.md").write_text(table + "\n")
    plot = plot_comparison(summaries, run_dir / "compare.png", verdict_.target if verdict_ else None,
                           log_x=cfg.eval_spacing == "log")
    write_tensorboard(summaries, run_dir / "tb")
    (run_dir / "results.json").write_text(json.dumps(
        {"arms": [asdict(s) for s in summaries], "verdict": asdict(verdict_) if verdict_ else None}, indent=1))
    log(table)
    log(f"plot: {plot}   table: {run_dir / 'compare.md'}   TensorBoard: tensorboard --logdir {run_dir}")
    log(verdict_.line if verdict_ else "no baseline/contender pair (needs a trm and a dis arm, or set both)")
    return CompareResult(run_dir, summaries, verdict_, table, plot)
