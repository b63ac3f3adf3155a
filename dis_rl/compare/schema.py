"""The compare file (``dis-rl compare CONFIG``): arms, seeds, one budget, evaluation points; and each
arm x seed's resolved config (the arm's own config with the shared and arm overrides, the seed and
the budget applied)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from dis_rl.arms import ARM_KINDS, ARM_LOADERS, resolve
from dis_rl.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    build_dataclass,
    load_config,
    locate_config,
    read_yaml,
)
from dis_rl.runs import check_run_name


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
    if kind not in ARM_LOADERS:
        return _top_key(override) in {f.name for f in fields(RunConfig)}
    keys = getattr(resolve(ARM_LOADERS[kind]), "keys", ())
    return _top_key(override) in keys


def arm_run_config(cfg: CompareConfig, arm: Arm, seed: int, base_dir: Path) -> RunConfig:
    """The arm's train config with the shared and arm overrides, the seed and the budget applied."""
    config_path = Path(arm.config)
    if not config_path.is_absolute() and (base_dir / config_path).is_file():
        config_path = base_dir / config_path
    budget = cfg.budget
    if arm.kind in ARM_LOADERS:  # an arm with its own config format (the RL arms)
        shared = [o for o in cfg.overrides if _takes(arm.kind, o)]
        run = resolve(ARM_LOADERS[arm.kind])(config_path, [*shared, *arm.overrides], seed, budget, cfg.eval_points)
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
