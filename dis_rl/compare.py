"""Method comparisons on equal budgets (``dis-rl compare CONFIG``): the paper's Fig. 5/7.

A compare file lists *arms* (a name, a ``kind``, a train config and overrides), the seeds, one
budget (network calls or training seconds) and how many evaluation points to spread over it.
Every arm x seed trains sequentially to the same budget and is evaluated at the same points;
the run folder then holds ``compare.png`` (test valid accuracy vs network calls and vs training
seconds, mean and min-max band over seeds), ``compare.md`` (tables), ``results.json``, TensorBoard
scalars under ``tb/``, and each arm's own run folder under ``arms/<arm>/seed<k>/``.

The headline is the paper's efficiency claim read two ways: calls per example per batch (the
schedule ``N_sup * T * (n + 1)``: DIS 18 vs TRM 336) and calls needed to reach the baseline's final
accuracy. The last printed line states the second reading.

Arm kinds map to runners in `dis_rl.arms.ARM_KINDS`; ``dis`` and ``trm`` train with the shared `Trainer`.
Another kind (an RL fine-tuning arm) registers a runner that returns the same `ArmRun`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from dis_rl.arms import ARM_KINDS, ARM_LOADERS, ArmRun, register_arm_kind  # noqa: F401 (re-exported)
from dis_rl.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    build_dataclass,
    load_config,
    locate_config,
    read_yaml,
)
from dis_rl.runs import check_creatable, check_not_foreign, check_run_name, folder_lock, is_marked, mark_folder


# -- the compare file ------------------------------------------------------------------------------
@dataclass
class Arm:
    name: str = ""
    kind: str = ""  # dis | trm (a runner in ARM_KINDS)
    config: str = ""  # train config, relative to the compare file (or the working directory)
    overrides: list[str] = field(default_factory=list)  # section.key=value, applied after the shared ones
    note: str = ""  # free text shown beside the arm in the reach table (e.g. what the paper claims)


@dataclass
class Budget:
    network_calls: int = 0  # summed over examples, no-grad calls included
    seconds: float = 0.0  # training seconds (evaluation and checkpoints excluded)


@dataclass
class CompareConfig:
    name: str = "compare"
    out_dir: str = "runs"
    seeds: int | list[int] = 3  # a count (seeds 0..k-1) or an explicit list; sets train.seed
    budget: Budget = field(default_factory=Budget)
    eval_points: int = 10  # evaluations over the budget, the last one at the budget
    eval_spacing: str = "linear"  # linear (evenly) | log (geometric from budget/100 to budget: ratios up to 100x)
    baseline: str = ""  # the arm whose final accuracy is the target (default: the first trm arm)
    contender: str = ""  # the arm measured against it (default: the first dis arm)
    # applied to each arm that has the key (train.threads=2, finetune.lr=1e-5)
    overrides: list[str] = field(default_factory=list)
    reach: float = 0.0  # also tabulate, per seed, the calls to first reach this valid accuracy (0: off)
    report: str = ""  # also write that table, with its provenance, to this markdown file (needs reach)
    arms: list[Arm] = field(default_factory=list)

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def validate(self) -> None:
        check_run_name(self.name)
        if isinstance(self.seeds, int) and self.seeds < 1 or isinstance(self.seeds, list) and not self.seeds:
            raise ValueError(f"seeds must be a count >= 1 or a non-empty list, got {self.seeds!r}")
        if (self.budget.network_calls > 0) == (self.budget.seconds > 0):
            raise ValueError("budget needs exactly one of budget.network_calls or budget.seconds (> 0)")
        if self.budget.network_calls < 0 or self.budget.seconds < 0:
            raise ValueError("budget values must be positive")
        if self.eval_points < 1:
            raise ValueError(f"eval_points must be >= 1, got {self.eval_points}")
        if not 0 <= self.reach <= 1:
            raise ValueError(f"reach must be a valid accuracy in [0, 1], got {self.reach}")
        if self.report and not self.reach:
            raise ValueError("report needs reach (the accuracy whose calls it tabulates)")
        if self.eval_spacing not in ("linear", "log"):
            raise ValueError(f"eval_spacing must be 'linear' or 'log', got {self.eval_spacing!r}")
        if len(self.arms) < 1:
            raise ValueError("arms: list at least one arm (name, kind, config)")
        names = [a.name for a in self.arms]
        for i, arm in enumerate(self.arms):
            if not arm.name or not arm.config:
                raise ValueError(f"arms[{i}] needs a name and a config")
            if arm.kind not in ARM_KINDS:
                raise ValueError(f"arms[{i}].kind must be one of {sorted(ARM_KINDS)}, got {arm.kind!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"arm names must be unique, got {names}")
        for role in ("baseline", "contender"):
            if getattr(self, role) and getattr(self, role) not in names:
                raise ValueError(f"{role} {getattr(self, role)!r} is not an arm name; arms: {names}")

    def points(self) -> list[float]:
        """Where to evaluate, in the budget's unit (network calls or training seconds)."""
        total, k = self.budget.network_calls or self.budget.seconds, self.eval_points
        if self.eval_spacing == "linear" or k == 1:
            points = [total * (i + 1) / k for i in range(k)]
        else:
            points = [total * 100 ** ((i - k + 1) / (k - 1)) for i in range(k)]
        return [float(math.ceil(p)) for p in points] if self.budget.network_calls else points

    def role(self, role: str) -> Arm | None:
        """The baseline (default: first trm arm) or contender (default: first dis arm)."""
        wanted = getattr(self, role) or None
        kind = "trm" if role == "baseline" else "dis"
        for arm in self.arms:
            if arm.name == wanted or (wanted is None and arm.kind == kind):
                return arm
        return None


def load_compare_config(path: str | Path, overrides: list[str] | None = None) -> tuple[CompareConfig, Path]:
    """Parse and check a compare file (a path or a shipped config name); returns it with the folder
    arm configs are relative to."""
    path = locate_config(path, "compare file")
    # An override of a key the compare file does not have (finetune.checkpoint=..., train.lr=...) is
    # meant for the arms: it joins the shared ``overrides``, which go to each arm that has the key.
    own_keys = {f.name for f in fields(CompareConfig)}
    own = [o for o in overrides or [] if _top_key(o) in own_keys or not any(_takes(k, o) for k in ARM_KINDS)]
    data = apply_overrides(read_yaml(path, "compare file"), own, example="budget.network_calls=1e6")
    data["overrides"] = [*(data.get("overrides") or []), *(o for o in overrides or [] if o not in own)]
    arms = data.pop("arms", [])
    try:
        if not isinstance(arms, list):
            raise ConfigError(f"arms: expected a list of arms, got {type(arms).__name__}")
        cfg = build_dataclass(CompareConfig, data, "")
        cfg.arms = [build_dataclass(Arm, arm, f"arms[{i}]") for i, arm in enumerate(arms)]
        cfg.validate()
        for item in cfg.overrides:
            if not any(_takes(arm.kind, item) for arm in cfg.arms):
                raise ConfigError(f"override {item!r}: no arm has the key {_top_key(item)!r} (arm kinds: "
                                  f"{sorted({a.kind for a in cfg.arms})})")
    except (ConfigError, ValueError) as err:
        raise ConfigError(f"{path}: {err}") from None
    return cfg, path.resolve().parent


def _top_key(override: str) -> str:
    return override.split("=", 1)[0].strip().split(".", 1)[0]


def _takes(kind: str, override: str) -> bool:
    """Whether arms of ``kind`` have the override's top-level key (train arms: a train config's
    sections; an arm kind with its own config format: the loader's ``keys``)."""
    keys = getattr(ARM_LOADERS[kind], "keys", ()) if kind in ARM_LOADERS else {f.name for f in fields(RunConfig)}
    return _top_key(override) in keys


def arm_run_config(cfg: CompareConfig, arm: Arm, seed: int, base_dir: Path) -> RunConfig:
    """The arm's train config with the shared and arm overrides, the seed and the budget applied."""
    config_path = Path(arm.config)
    if not config_path.is_absolute() and (base_dir / config_path).is_file():
        config_path = base_dir / config_path
    budget = cfg.budget
    if arm.kind in ARM_LOADERS:  # an arm with its own config format (the RL arms)
        shared = [o for o in cfg.overrides if _takes(arm.kind, o)]
        run = ARM_LOADERS[arm.kind](config_path, [*shared, *arm.overrides], seed, budget, cfg.eval_points)
        run.name = f"{arm.name}_seed{seed}"
        return run
    forced = [f"train.seed={seed}", "train.max_batches=1000000000", "train.eval_every=0", "train.checkpoint_every=0"]
    points = cfg.points()
    if budget.network_calls:
        forced += [f"train.max_network_calls={budget.network_calls}",
                   f"train.eval_at_calls=[{', '.join(str(int(p)) for p in points)}]"]
    else:
        forced += [f"train.max_train_seconds={budget.seconds}",
                   f"train.eval_at_seconds=[{', '.join(map(str, points))}]"]
    shared = [o for o in cfg.overrides if _takes(arm.kind, o)]
    run = load_config(config_path, [*shared, *arm.overrides, *forced])
    if arm.kind in ("dis", "trm") and run.train.method != arm.kind:
        raise ConfigError(f"arm {arm.name!r} has kind {arm.kind!r} but {config_path} trains train.method "
                          f"{run.train.method!r}")
    run.name = f"{arm.name}_seed{seed}"
    return run


# -- running arms ----------------------------------------------------------------------------------
def run_supervised(run: RunConfig, run_dir: Path, progress: bool) -> ArmRun:
    """Train a DIS or TRM arm with the shared loop and read its evaluation log."""
    from dis_rl.runs import read_jsonl
    from dis_rl.train.loop import Trainer

    trainer = Trainer(run, run_dir, progress=progress)
    trainer.run()
    method = trainer.method
    realised = getattr(method, "realised_calls_per_example", None)
    # Env steps of a supervised arm: refinement steps of training puzzles (batches x batch size x
    # N_sup; for TRM with halting, the schedule's upper bound).
    per_batch = run.train.batch_size * run.train.supervision_steps
    evals = [{**{k: e[k] for k in ("network_calls", "train_s", "valid", "exact", "valid_by_answers") if k in e},
              "env_steps": e["batch"] * per_batch}
             for e in read_jsonl(run_dir / "eval_log.jsonl")]
    schedule = float(method.calls_per_example())
    return ArmRun(evals, schedule, float(realised() or schedule) if realised else schedule,
                  trainer.model.num_parameters())


register_arm_kind("dis", run_supervised)
register_arm_kind("trm", run_supervised)


# -- summarising -----------------------------------------------------------------------------------
@dataclass
class ArmSummary:
    name: str
    kind: str
    seeds: list[int]
    calls: list[float]  # per eval point, mean over seeds
    seconds: list[float]
    valid_mean: list[float]
    valid_min: list[float]
    valid_max: list[float]
    final_valid: list[float]  # per seed
    final_exact: list[float]
    calls_per_example: float
    realised_calls_per_example: float
    parameters: int
    env_steps: list[float] = field(default_factory=list)  # per eval point, mean over seeds
    points: list[int] = field(default_factory=list)  # which of the comparison's points each entry is
    # Final valid share by the boards' number of valid answers (band -> (boards, mean over seeds));
    # empty when every board has one answer or the arm's evaluations do not record it.
    final_by_answers: dict[str, tuple[int, float]] = field(default_factory=dict)

    @property
    def final_mean(self) -> float:
        return _mean(self.final_valid)

    def reach(self, target: float) -> int | None:
        """Index of the first eval point whose seed-mean valid accuracy reaches ``target``."""
        return next((k for k, v in enumerate(self.valid_mean) if v >= target), None)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def _std(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _by_point(evals: list[dict], points: list[float], unit: str, start: float = 0.0) -> dict[int, dict]:
    """Each evaluation under the index of the last point its counter, counted from the arm's
    ``start``, had reached (-1: none yet)."""
    by_point = {}
    for e in evals:
        reached = [i for i, p in enumerate(points) if p <= e[unit] - start + 1e-9]
        by_point[reached[-1] if reached else -1] = e
    return by_point


def summarise(arm: Arm, runs: dict[int, ArmRun], points: list[float], unit: str = "network_calls") -> ArmSummary:
    """Average the seeds at each evaluation point. An evaluation belongs to the last point its
    counter (``unit``: network_calls or train_s) had reached; points that a seed passed within one
    round (so evaluated once for several) are kept only where every seed has them. Evaluations
    before the first point (an arm's look at its start) are left out, so that every arm, one seed
    or several, is read at the comparison's points only; a fine-tuned arm is aligned on its own
    budget (after its pretraining's `start`)."""
    seeds = sorted(runs)
    at = [_by_point(runs[s].evals, points, unit, runs[s].start.get(unit, 0.0)) for s in seeds]
    common = sorted(set.intersection(*(set(b) for b in at)) - {-1}) or [max(at[0])]
    col = {key: [[b[i].get(key, float("nan")) for b in at] for i in common]
           for key in ("network_calls", "train_s", "valid", "env_steps")}
    return ArmSummary(
        name=arm.name, kind=arm.kind, seeds=seeds,
        calls=[_mean(v) for v in col["network_calls"]], seconds=[_mean(v) for v in col["train_s"]],
        env_steps=[_mean(v) for v in col["env_steps"]], points=common,
        valid_mean=[_mean(v) for v in col["valid"]], valid_min=[min(v) for v in col["valid"]],
        valid_max=[max(v) for v in col["valid"]],
        final_valid=[runs[s].evals[-1]["valid"] for s in seeds],
        final_exact=[runs[s].evals[-1]["exact"] for s in seeds],
        calls_per_example=_mean([runs[s].calls_per_example for s in seeds]),
        realised_calls_per_example=_mean([runs[s].realised_calls_per_example for s in seeds]),
        parameters=runs[seeds[0]].parameters,
        final_by_answers=_final_by_answers([runs[s].evals[-1] for s in seeds]),
    )


def _final_by_answers(finals: list[dict]) -> dict[str, tuple[int, float]]:
    """Band -> (boards, valid share averaged over the seeds) from the seeds' last evaluations."""
    bands = [f.get("valid_by_answers") for f in finals]
    if not bands or any(b is None for b in bands):
        return {}
    return {name: (bands[0][name]["puzzles"], _mean([b[name]["valid"] for b in bands])) for name in bands[0]}


@dataclass
class Verdict:
    baseline: str
    contender: str
    target: float  # the baseline's final valid accuracy (seed mean)
    reached_at: int | None  # eval point index where the contender first reached it
    calls_ratio: float | None  # baseline's final calls / contender's calls at that point
    seconds_ratio: float | None
    schedule_ratio: float  # calls per example per batch, baseline schedule / contender schedule
    realised_ratio: float  # the same with the baseline's realised (halting) cost
    final_not_lower: bool
    line: str


def ratio_words(ratio: float, less: str, more: str) -> str:
    """``4.0x fewer`` for a ratio above 1, ``2.5x more`` (the inverse) below it."""
    return f"{ratio:.1f}x {less}" if ratio >= 1 else f"{1 / ratio:.1f}x {more}"


def verdict(base: ArmSummary, cont: ArmSummary) -> Verdict:
    target = base.final_mean
    k = cont.reach(target) if target > 0 else None
    calls_ratio = base.calls[-1] / cont.calls[k] if k is not None else None
    seconds_ratio = base.seconds[-1] / cont.seconds[k] if k is not None and cont.seconds[k] > 0 else None
    # Reached by the first evaluation: maybe earlier still, so the ratio is a bound.
    at_least = ("at least " if calls_ratio >= 1 else "at most ") if k == 0 else ""
    if target <= 0:
        line = (f"{cont.name} vs {base.name}: {base.name}'s final accuracy is 0.0%, so there is no accuracy to "
                f"reach; raise the budget")
    elif k is None:
        line = (f"{cont.name} did not reach {base.name}'s final accuracy ({100 * target:.1f}%) within the budget "
                f"(best {100 * max(cont.valid_mean):.1f}%)")
    else:
        line = (f"{cont.name} reached {base.name}'s final accuracy ({100 * target:.1f}%) with {at_least}"
                f"{ratio_words(calls_ratio, 'fewer', 'more')} network calls")
    return Verdict(
        base.name, cont.name, target, k, calls_ratio, seconds_ratio,
        schedule_ratio=base.calls_per_example / cont.calls_per_example,
        realised_ratio=base.realised_calls_per_example / cont.calls_per_example,
        final_not_lower=cont.final_mean >= target, line=line,
    )


def format_tables(summaries: list[ArmSummary], verdict_: Verdict | None, budget: Budget) -> str:
    unit = f"{budget.network_calls:,} network calls" if budget.network_calls else f"{budget.seconds:.0f} training s"
    lines = [f"Budget: {unit} per run; test valid-completion accuracy, mean over seeds (± std).", "",
             "| arm | kind | params | seeds | calls/example/batch (schedule) | realised calls/example | "
             "final valid % | final exact % | network calls | training s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        lines.append(
            f"| {s.name} | {s.kind} | {s.parameters:,} | {len(s.seeds)} | {s.calls_per_example:.0f} | "
            f"{s.realised_calls_per_example:.1f} | {100 * s.final_mean:.1f} ± {100 * _std(s.final_valid):.1f} | "
            f"{100 * _mean(s.final_exact):.1f} | {s.calls[-1]:,.0f} | {s.seconds[-1]:.0f} |"
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
    return f"{fmt.format(_mean(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


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
                     f"{_mean(seconds):.0f} | {arm.note} |")
    return "\n".join(lines)


def write_report(path: Path, cfg: CompareConfig, source: Path, overrides: list[str] | None, table: str,
                 wall_s: float, finished: bool = False) -> Path:
    """The reach table with its provenance (command, commit, seeds, machine, wall time)."""
    import platform

    from dis_rl.checkpoint import git_commit

    command = " ".join(["dis-rl compare", str(source), *(overrides or []), *(["--finished"] if finished else [])])
    budget = (f"{cfg.budget.network_calls:,} network calls" if cfg.budget.network_calls
              else f"{cfg.budget.seconds:g} training s")
    seeds = (f"seeds: the finished ones of {cfg.seed_list}, per arm in the table" if finished
             else f"seeds {cfg.seed_list}")
    wall = ("the command read finished runs (each run's training time is in the table)" if finished else
            f"wall time of the command {wall_s / 60:.0f} min (arm x seeds reused from an earlier run add none)")
    text = (f"# {cfg.name}\n\nCommand: `{command}`; commit {git_commit()}; {seeds}; budget {budget} "
            f"per arm x seed, {cfg.eval_points} evaluations ({cfg.eval_spacing}); machine: {platform.machine()} "
            f"with {os.cpu_count()} CPUs; {wall}. Plot: {Path(cfg.out_dir) / cfg.name / 'compare.png'} "
            f"(valid % vs network calls, seed mean and min-max band).\n\n"
            f"{table}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# Arms drawn later are thinner, dashed and with smaller markers of another shape, so that two arms
# on the same values (e.g. both at 0%) stay visible: the earlier, wider line shows around the later one.
COMPARE_OUTPUTS = ("compare.md", "compare.png", "results.json", "tb", "arms")  # what compare writes in its folder
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_DASHES = ("-", "--", ":", "-.")


def line_style(i: int) -> dict:
    """The matplotlib style of the ``i``-th arm's line in ``compare.png``."""
    return {"marker": _MARKERS[i % len(_MARKERS)], "ls": _DASHES[i % len(_DASHES)],
            "lw": max(3.0 - 0.6 * i, 0.8), "ms": max(8.0 - 1.5 * i, 3.0), "zorder": 2 + i}


def comparison_figure(summaries: list[ArmSummary], target: float | None = None, log_x: bool = False):
    """The figure of `plot_comparison` (open: the caller saves and closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dis_rl.plot_axes import count_axis, percent_axis

    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    for ax, key, label in ((axes[0], "calls", "network calls (cumulative, all examples)"),
                           (axes[1], "seconds", "training time (s, evaluation excluded)"),
                           (axes[2], "env_steps", "environment steps (refinement steps of training puzzles)")):
        for i, s in enumerate(summaries):
            x = getattr(s, key)
            seeds = f"{len(s.seeds)} seed{'s' if len(s.seeds) > 1 else ''}"
            ax.plot(x, [100 * v for v in s.valid_mean], label=f"{s.name} ({seeds})", **line_style(i))
            if len(s.seeds) > 1:
                ax.fill_between(x, [100 * v for v in s.valid_min], [100 * v for v in s.valid_max], alpha=0.2)
        if target is not None and target > 0:
            ax.axhline(100 * target, color="grey", ls=":", lw=1, label="baseline final")
        percent_axis(ax, [100 * v for s in summaries for v in s.valid_max])
        count_axis(ax, log=log_x)
        ax.set_xlabel(label)
        ax.set_ylabel("test valid completions (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("accuracy vs compute (mean, min-max band over seeds)")
    fig.tight_layout()
    return fig


def plot_comparison(summaries: list[ArmSummary], path: Path, target: float | None = None, log_x: bool = False) -> Path:
    import matplotlib.pyplot as plt

    fig = comparison_figure(summaries, target, log_x)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _write_tensorboard(summaries: list[ArmSummary], tb_dir: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tb_dir))
    for s in summaries:
        for c, sec, v in zip(s.calls, s.seconds, s.valid_mean):
            writer.add_scalar(f"compare/valid_vs_network_calls/{s.name}", v, int(c))
            writer.add_scalar(f"compare/valid_vs_train_ms/{s.name}", v, int(1000 * sec))
    writer.close()


# -- the command -----------------------------------------------------------------------------------
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
    config's ``train.threads``; ``initializer`` runs in each worker first (it registers arm kinds
    that live above this module, e.g. the RL arms)."""
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
        done = _read_finished(todo, cfg.name, run_dir, log)
    else:
        with folder_lock(run_dir, "compare"):  # a second compare here would wipe the arm folders this one writes
            mark_folder(run_dir, "comparison")
            if jobs == 1:
                done = {(arm.name, seed): _run_or_reuse(arm, run, arm_dir, progress, fresh, log)
                        for arm, seed, run, arm_dir in todo}
            else:
                done = _run_in_workers(todo, jobs, fresh, log, initializer)
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
    _write_tensorboard(summaries, run_dir / "tb")
    (run_dir / "results.json").write_text(json.dumps(
        {"arms": [asdict(s) for s in summaries], "verdict": asdict(verdict_) if verdict_ else None}, indent=1))
    log(table)
    log(f"plot: {plot}   table: {run_dir / 'compare.md'}   TensorBoard: tensorboard --logdir {run_dir}")
    log(verdict_.line if verdict_ else "no baseline/contender pair (needs a trm and a dis arm, or set both)")
    return CompareResult(run_dir, summaries, verdict_, table, plot)


def _read_finished(todo: list, name: str, run_dir: Path,
                   log: Callable[[str], None]) -> dict[tuple[str, int], ArmRun]:
    """The finished arm x seeds (same resolved config) of ``todo``; the others are listed."""
    done, missing = {}, []
    for arm, seed, run, arm_dir in todo:
        result = _finished(run, arm_dir)
        if result is None:
            missing.append(f"{arm.name} seed {seed}")
        else:
            done[arm.name, seed] = result
    if not done:
        raise ConfigError(f"--finished: no arm x seed of {name} has finished in {run_dir / 'arms'} "
                          f"(with this config); run the comparison without --finished")
    if missing:
        log(f"--finished: {len(missing)} arm x seed(s) not finished, left out: {', '.join(missing)}")
    return done


def provenance(run: RunConfig) -> dict:
    """What a result depends on besides its resolved config: the code's commit and the content
    (SHA-256 of every file) of each checkpoint the arm starts from (``starting_checkpoints()``)."""
    from dis_rl.checkpoint import CheckpointError, file_digest, git_commit, resolve_checkpoint

    digests = {}
    for ref in getattr(run, "starting_checkpoints", lambda: [])():
        try:
            folder = resolve_checkpoint(ref)
        except CheckpointError:
            digests[str(ref)] = "missing"
            continue
        digests[str(ref)] = {f.name: file_digest(f) for f in sorted(folder.iterdir()) if f.is_file()}
    return {"commit": git_commit(), "checkpoints": digests}


def _finished(run: RunConfig, arm_dir: Path, why: list[str] | None = None) -> ArmRun | None:
    """The saved result of a finished arm x seed whose resolved config and `provenance` are
    ``run``'s, else None (``why`` receives the reason when a saved result is stale)."""
    done = arm_dir / "arm_result.json"
    if not done.is_file():
        return None
    try:
        saved = json.loads(done.read_text())
    except (OSError, ValueError):
        return None  # half-written or damaged: the arm x seed counts as unfinished (and retrains)
    if not isinstance(saved, dict) or saved.get("config") != json.loads(json.dumps(run.to_dict())):
        return None
    now, then = provenance(run), saved.get("provenance") or {}
    if now != then:
        if why is not None:
            changed = [f"the checkpoint {ref}" for ref, d in now["checkpoints"].items()
                       if then.get("checkpoints", {}).get(ref) != d]
            if now["commit"] != then.get("commit"):
                changed.append(f"the code (commit {then.get('commit', 'unknown')} -> {now['commit']})")
            why.append(", ".join(changed) or "what it was trained from")
        return None
    return ArmRun(**saved["run"])


def _run_in_workers(todo: list, jobs: int, fresh: bool, log: Callable[[str], None],
                    initializer: Callable[[], None] | None) -> dict[tuple[str, int], ArmRun]:
    """The arm x seeds of ``todo`` (arm, seed, run, arm_dir): finished ones read here, the others
    trained ``jobs`` at a time in fresh (spawned) processes; results do not depend on ``jobs``."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    done, pending = {}, []
    for arm, seed, run, arm_dir in todo:
        reused = _reuse(arm, run, arm_dir, fresh, log)
        if reused is not None:
            done[arm.name, seed] = reused
        else:
            pending.append((arm, seed, run, arm_dir))
    if not pending:
        return done
    log(f"training {len(pending)} arm x seed(s), {min(jobs, len(pending))} at a time")
    with ProcessPoolExecutor(min(jobs, len(pending)), mp_context=mp.get_context("spawn"),
                             initializer=initializer) as pool:
        futures = {pool.submit(_run_or_reuse, arm, run, arm_dir, False, True, _print_flushed): (arm.name, seed)
                   for arm, seed, run, arm_dir in pending}
        for future in as_completed(futures):
            done[futures[future]] = future.result()  # a worker's error stops the comparison here
    return done


def _print_flushed(line: str) -> None:
    """A worker's log: whole lines, flushed, so parallel arms interleave by line."""
    print(line, flush=True)


def _reuse(arm: Arm, run: RunConfig, arm_dir: Path, fresh: bool, log: Callable[[str], None]) -> ArmRun | None:
    """The finished result to reuse (logged), or None when the arm x seed must train."""
    why: list[str] = []
    reused = None if fresh else _finished(run, arm_dir, why)
    if reused is not None:
        log(f"[{arm.name}] reusing {arm_dir / 'arm_result.json'}")
    elif why:
        log(f"[{arm.name}] not reusing {arm_dir / 'arm_result.json'}: {why[0]} changed since it ran")
    return reused


def _run_or_reuse(arm: Arm, run: RunConfig, arm_dir: Path, progress: bool, fresh: bool,
                  log: Callable[[str], None]) -> ArmRun:
    """A finished arm x seed with the same resolved config is read back, so an interrupted
    comparison continues where it stopped."""
    reused = _reuse(arm, run, arm_dir, fresh, log)
    if reused is not None:
        return reused
    if arm_dir.exists():
        import shutil

        shutil.rmtree(arm_dir)  # a stale or half-finished run: logs must start empty
    seed = run.seed if hasattr(run, "seed") else run.train.seed
    started_from = provenance(run)  # what it trains from, read before it does
    log(f"[{arm.name} seed {seed}] training ({arm.kind}) in {arm_dir}")
    result = ARM_KINDS[arm.kind](run, arm_dir, progress)
    final = result.evals[-1] if result.evals else {}
    log(f"[{arm.name} seed {seed}] valid {100 * final.get('valid', 0):.1f}% after "
        f"{final.get('network_calls', 0):,.0f} calls, {final.get('train_s', 0):.0f}s training")
    resolved = json.loads(json.dumps(run.to_dict()))
    (arm_dir / "arm_result.json").write_text(json.dumps({"config": resolved, "provenance": started_from,
                                                         "run": asdict(result)}))
    return result
