"""A comparison's numbers: each arm's seeds averaged at the evaluation points (`ArmSummary`), and the
verdict of a contender against a baseline (calls to reach the baseline's final accuracy)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dis_rl.arms import ArmRun
from dis_rl.compare.schema import Arm


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
        return mean(self.final_valid)

    def reach(self, target: float) -> int | None:
        """Index of the first eval point whose seed-mean valid accuracy reaches ``target``."""
        return next((k for k, v in enumerate(self.valid_mean) if v >= target), None)


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def std(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def by_point(evals: list[dict], points: list[float], unit: str, start: float = 0.0) -> dict[int, dict]:
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
    at = [by_point(runs[s].evals, points, unit, runs[s].start.get(unit, 0.0)) for s in seeds]
    common = sorted(set.intersection(*(set(b) for b in at)) - {-1}) or [max(at[0])]
    col = {key: [[b[i].get(key, float("nan")) for b in at] for i in common]
           for key in ("network_calls", "train_s", "valid", "env_steps")}
    return ArmSummary(
        name=arm.name, kind=arm.kind, seeds=seeds,
        calls=[mean(v) for v in col["network_calls"]], seconds=[mean(v) for v in col["train_s"]],
        env_steps=[mean(v) for v in col["env_steps"]], points=common,
        valid_mean=[mean(v) for v in col["valid"]], valid_min=[min(v) for v in col["valid"]],
        valid_max=[max(v) for v in col["valid"]],
        final_valid=[runs[s].evals[-1]["valid"] for s in seeds],
        final_exact=[runs[s].evals[-1]["exact"] for s in seeds],
        calls_per_example=mean([runs[s].calls_per_example for s in seeds]),
        realised_calls_per_example=mean([runs[s].realised_calls_per_example for s in seeds]),
        parameters=runs[seeds[0]].parameters,
        final_by_answers=_final_by_answers([runs[s].evals[-1] for s in seeds]),
    )


def _final_by_answers(finals: list[dict]) -> dict[str, tuple[int, float]]:
    """Band -> (boards, valid share averaged over the seeds) from the seeds' last evaluations."""
    bands = [f.get("valid_by_answers") for f in finals]
    if not bands or any(b is None for b in bands):
        return {}
    return {name: (bands[0][name]["puzzles"], mean([b[name]["valid"] for b in bands])) for name in bands[0]}


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
