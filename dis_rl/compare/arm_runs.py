"""Running one arm x seed: training it (the ``dis`` and ``trm`` runner is here, the RL arms' in
`dis_rl.agents.rl_arm`), or reusing its saved result while its resolved config, the code and the
checkpoints it starts from are unchanged; one at a time or ``jobs`` at a time in spawned processes."""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from dis_rl import checkpoint
from dis_rl.arms import ARM_KINDS, ArmRun, resolve
from dis_rl.compare.schema import Arm
from dis_rl.config import ConfigError, RunConfig
from dis_rl.runs import read_jsonl
from dis_rl.train.loop import Trainer


def run_supervised(run: RunConfig, run_dir: Path, progress: bool) -> ArmRun:
    """Train a DIS or TRM arm with the shared loop and read its evaluation log."""
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


def provenance(run: RunConfig) -> dict:
    """What a result depends on besides its resolved config: the code's commit and the content
    (SHA-256 of every file) of each checkpoint the arm starts from (``starting_checkpoints()``)."""
    digests = {}
    for ref in getattr(run, "starting_checkpoints", lambda: [])():
        try:
            folder = checkpoint.resolve_checkpoint(ref)
        except checkpoint.CheckpointError:
            digests[str(ref)] = "missing"
            continue
        digests[str(ref)] = {f.name: checkpoint.file_digest(f) for f in sorted(folder.iterdir()) if f.is_file()}
    return {"commit": checkpoint.git_commit(), "checkpoints": digests}


def finished_result(run: RunConfig, arm_dir: Path, why: list[str] | None = None) -> ArmRun | None:
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


def run_in_workers(todo: list, jobs: int, fresh: bool, log: Callable[[str], None],
                   initializer: Callable[[], None] | None) -> dict[tuple[str, int], ArmRun]:
    """The arm x seeds of ``todo`` (arm, seed, run, arm_dir): finished ones read here, the others
    trained ``jobs`` at a time in fresh (spawned) processes; results do not depend on ``jobs``."""
    done, pending = {}, []
    for arm, seed, run, arm_dir in todo:
        reused = reuse(arm, run, arm_dir, fresh, log)
        if reused is not None:
            done[arm.name, seed] = reused
        else:
            pending.append((arm, seed, run, arm_dir))
    if not pending:
        return done
    log(f"training {len(pending)} arm x seed(s), {min(jobs, len(pending))} at a time")
    with ProcessPoolExecutor(min(jobs, len(pending)), mp_context=mp.get_context("spawn"),
                             initializer=initializer) as pool:
        futures = {pool.submit(run_or_reuse, arm, run, arm_dir, False, True, print_flushed): (arm.name, seed)
                   for arm, seed, run, arm_dir in pending}
        for future in as_completed(futures):
            done[futures[future]] = future.result()  # a worker's error stops the comparison here
    return done


def print_flushed(line: str) -> None:
    """A worker's log: whole lines, flushed, so parallel arms interleave by line."""
    print(line, flush=True)


def reuse(arm: Arm, run: RunConfig, arm_dir: Path, fresh: bool, log: Callable[[str], None]) -> ArmRun | None:
    """The finished result to reuse (logged), or None when the arm x seed must train."""
    why: list[str] = []
    reused = None if fresh else finished_result(run, arm_dir, why)
    if reused is not None:
        log(f"[{arm.name}] reusing {arm_dir / 'arm_result.json'}")
    elif why:
        log(f"[{arm.name}] not reusing {arm_dir / 'arm_result.json'}: {why[0]} changed since it ran")
    return reused


def run_or_reuse(arm: Arm, run: RunConfig, arm_dir: Path, progress: bool, fresh: bool,
                 log: Callable[[str], None]) -> ArmRun:
    """A finished arm x seed with the same resolved config is read back, so an interrupted
    comparison continues where it stopped."""
    reused = reuse(arm, run, arm_dir, fresh, log)
    if reused is not None:
        return reused
    if arm_dir.exists():
        shutil.rmtree(arm_dir)  # a stale or half-finished run: logs must start empty
    seed = run.seed if hasattr(run, "seed") else run.train.seed
    started_from = provenance(run)  # what it trains from, read before it does
    log(f"[{arm.name} seed {seed}] training ({arm.kind}) in {arm_dir}")
    result = resolve(ARM_KINDS[arm.kind])(run, arm_dir, progress)
    final = result.evals[-1] if result.evals else {}
    log(f"[{arm.name} seed {seed}] valid {100 * final.get('valid', 0):.1f}% after "
        f"{final.get('network_calls', 0):,.0f} calls, {final.get('train_s', 0):.0f}s training")
    resolved = json.loads(json.dumps(run.to_dict()))
    (arm_dir / "arm_result.json").write_text(json.dumps({"config": resolved, "provenance": started_from,
                                                         "run": asdict(result)}))
    return result


def read_finished(todo: list, name: str, run_dir: Path,
                  log: Callable[[str], None]) -> dict[tuple[str, int], ArmRun]:
    """The finished arm x seeds (same resolved config) of ``todo``; the others are listed."""
    done, missing = {}, []
    for arm, seed, run, arm_dir in todo:
        result = finished_result(run, arm_dir)
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
