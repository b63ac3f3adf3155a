"""The training loop every method shares: optimisers, warm-up, logging, evaluation,
checkpoints, resume and the NaN guard. Methods (DIS, TRM, ...) only say what one round does.

Read top to bottom: `Trainer.__init__` builds data, model and optimisers from the config;
`Trainer.run` loops rounds until the budget is spent, logging to TensorBoard and JSONL,
evaluating and checkpointing on schedule, and returns the final evaluation.

One module of a little over 400 lines on purpose: the trainer's state (model, optimisers, EMA,
counters, the run folder) is read by every phase of the loop, and the optimiser step it calls
already lives apart (`dis_rl.train.optimizer`); splitting the phases would pass that state around
instead of reading it in one place.
"""

from __future__ import annotations

import contextlib
import functools
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dis_rl import distributed, runs, tb_logging
from dis_rl.checkpoint import (
    CheckpointError,
    NonFiniteWeights,
    git_commit,
    latest_checkpoint,
    load_checkpoint,
    optimizer_state,
    remove_partial_writes,
    save_checkpoint,
    trainer_state,
)
from dis_rl.config import ConfigError, RunConfig, record_resume, resume_changes, save_config
from dis_rl.data import build_data, unique_answers
from dis_rl.device import autocast, bounded_threads, compile_blocks, memory_limit, resolve_device, to_device
from dis_rl.evaluate import EvalResult, evaluate, gather_eval
from dis_rl.model.trm import TRM
from dis_rl.optim import EMA
from dis_rl.progress import BudgetBar
from dis_rl.puzzles import get_domain
from dis_rl.puzzles.answers import answer_sets
from dis_rl.puzzles.load_report import SkippedItemsWarning
from dis_rl.train.dis import DISMethod
from dis_rl.train.method import Method, RoundStats
from dis_rl.train.optimizer import build_optimizers, lr_factor, optimizer_step
from dis_rl.train.stream import ExampleStream
from dis_rl.train.trm import TRMMethod


class TrainingDiverged(RuntimeError):
    """The loss or the weights became NaN or infinite; the last checkpoint with finite weights is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM ended training; the message says what was saved and how to go on.
    A KeyboardInterrupt, so every caller that handles Ctrl-C handles this too."""

    def __init__(self, message: str, signal_name: str = "SIGINT") -> None:
        super().__init__(message)
        self.signal_name = signal_name


def check_batch_memory(cfg: RunConfig, seq_len: int, device: torch.device) -> None:
    """Refuse, before any model or batch exists, batch sizes whose activations cannot fit: a lower
    bound (the two carried states of every token of one batch, fp32) against `memory_limit`. Without
    it a huge ``train.batch_size`` spins for minutes drawing indices, or dies in the allocator."""
    limit = memory_limit(device)
    if not limit:
        return
    tokens = seq_len + cfg.model.puzzle_emb_len
    for key in ("batch_size", "eval_batch_size"):
        size = getattr(cfg.train, key)
        need = size * tokens * cfg.model.hidden * 4 * 2
        if need > limit:
            raise ConfigError(f"train.{key}={size:,}: one batch needs at least {need / 2**30:,.1f} GiB "
                              f"({size:,} x {tokens} tokens x hidden {cfg.model.hidden}, fp32), more than the "
                              f"{limit / 2**30:,.1f} GiB {device.type} memory this process may use; lower train.{key}")


# train.method -> its class; `dis_rl.config.METHOD_NAMES` lists the same names for validation without torch.
METHODS: dict[str, type[Method]] = {"dis": DISMethod, "trm": TRMMethod}


def build_model(cfg: RunConfig, vocab_size: int, seq_len: int, num_puzzle_ids: int) -> TRM:
    return TRM(cfg.model, vocab_size, seq_len, num_puzzle_ids)


class Trainer:
    def __init__(self, cfg: RunConfig, run_dir: str | Path | None = None, progress: bool = True,
                 data: tuple | None = None, resume: bool = False, overwrite: bool = False,
                 resume_named: tuple[str, ...] = ()) -> None:
        """``data``: ``(train_source, test_set)`` in place of ``build_data(cfg.data)`` (benchmarks).
        ``resume`` continues the run folder's last checkpoint; ``overwrite`` replaces the run a used
        folder holds; without either a used folder is refused here, before any data is built."""
        self.cfg, tc = cfg, cfg.train
        cfg.validate()  # the one validation, also for configs built in Python rather than parsed
        if tc.method not in METHODS:
            raise ValueError(f"train.method {tc.method!r} is unknown; available: {sorted(METHODS)}")
        self.run_dir = runs.run_folder_path(run_dir) if run_dir is not None else Path(cfg.out_dir) / cfg.name
        self.resume_requested, self.overwrite = resume, overwrite
        # Config keys the user named for this resume: only those may differ from the checkpoint's.
        self.resume_named, self.resume_changed = tuple(resume_named), {}
        self.dist = distributed.context_from_env()  # torchrun's variables; one process without them
        if self.dist.is_main:  # rank 0 owns the folder; the others only read its checkpoints
            runs.check_run_dir(self.run_dir, resume=resume, overwrite=overwrite)
        self.progress = progress and self.dist.is_main
        try:
            self.device = resolve_device(tc.device, self.dist.local_rank)
        except (ValueError, RuntimeError) as err:  # a well-formed name this machine does not have
            raise ConfigError(f"train.device: {err}") from None
        distributed.init_distributed(self.dist, self.device)
        distributed.shard_slice(tc.batch_size, self.dist)  # fail now if the batch does not split evenly
        if tc.threads:
            torch.set_num_threads(bounded_threads(tc.threads))
        torch.manual_seed(tc.seed)

        check_batch_memory(cfg, 0, self.device)  # the prefix alone: an absurd batch fails before any data is built
        with warnings.catch_warnings(record=True) as caught:  # what the loaders skipped, kept for the run's log
            warnings.simplefilter("always")
            self.train_source, self.test_set = data if data is not None else build_data(cfg.data)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.data_warnings = [str(w.message) for w in caught if issubclass(w.category, SkippedItemsWarning)]
        self.vocab_size = self.train_source.vocab_size
        self.seq_len = self.test_set.seq_len
        check_batch_memory(cfg, self.seq_len, self.device)
        self.model = build_model(cfg, self.vocab_size, self.seq_len, self.train_source.num_puzzle_ids).to(self.device)
        distributed.broadcast_parameters(self.model, self.dist)
        self.stream = ExampleStream(self.train_source, tc.seed)
        self.target_rng = torch.Generator(device=self.device).manual_seed(tc.seed + 1)

        self.optimizers, self.base_lrs = build_optimizers(self.model, tc)
        self.ema = EMA(self.model, tc.ema) if tc.ema > 0 else None
        if tc.compile:
            compile_blocks(self.model.blocks)  # after the EMA copy, which stays uncompiled
        self.method: Method = METHODS[tc.method](self)

        self.batches = 0
        self.opt_steps = 0
        self.examples = 0
        self.network_calls = 0
        self.elapsed = 0.0  # wall-clock of the run, evaluation included
        self.train_seconds = 0.0  # time spent in training rounds only: the fair clock for comparisons
        self.writer = None

    # -- services for methods ------------------------------------------------------------------
    def autocast(self):
        return autocast(self.device, self.cfg.train.precision)

    def next_global_batch(self, n: int, bucket: int | None = None) -> dict[str, torch.Tensor]:
        """The next ``n`` examples, identical on every rank, all of one shape (stream queue
        ``bucket``; None: a freshly drawn one). Draw per-example randomness (DIS target frames) on
        it from a shared generator, then keep this rank's rows with `shard`."""
        return to_device(self.stream.next(n, bucket), self.device)

    def shard(self, x: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """This rank's contiguous share of a global-batch tensor along ``dim`` (all of it in one process)."""
        if not self.dist.enabled:
            return x
        return x[(slice(None),) * dim + (distributed.shard_slice(x.shape[dim], self.dist),)]

    def optimizer_step(self, loss: torch.Tensor) -> None:
        """One optimiser step on ``loss`` (`dis_rl.train.optimizer.optimizer_step`: backward, all-reduce,
        NaN guard, clipping, schedule, EMA); the methods call it here, where a test can wrap it."""
        optimizer_step(self, loss)

    @property
    def lr(self) -> float:
        return self.base_lrs["model"] * lr_factor(self.cfg.train, self.batches, max(self.opt_steps - 1, 0))

    # -- evaluation ----------------------------------------------------------------------------
    def eval_model(self) -> TRM:
        return self.ema.shadow if self.ema is not None else self.model

    def evaluate(self) -> EvalResult:
        """Every rank evaluates its block of the test set; the results are gathered on all ranks."""
        tc = self.cfg.train
        puzzles, counts = self.test_set, self.test_answer_counts
        if self.dist.enabled:
            mine = distributed.eval_indices(len(self.test_set), self.dist)
            puzzles, counts = self.test_set.subset(mine), counts[mine]
        local = evaluate(
            self.eval_model(), puzzles, tc.supervision_steps, tc.step_input, tc.eval_batch_size,
            device=self.device, precision=tc.precision, answer_counts=counts,
        ) if len(puzzles) else None
        return gather_eval(local, len(puzzles), tc.supervision_steps, self.seq_len, self.dist,
                                       self.device)

    @functools.cached_property
    def test_answer_counts(self) -> np.ndarray:
        """How many valid answers each test puzzle has (counted once, for the table by answers)."""
        sets = answer_sets(get_domain(self.test_set.domain), self.test_set.inputs, self.test_set.labels,
                           unique=unique_answers(self.cfg.data))
        return sets.counts

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint_meta(self, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "config": self.cfg.to_dict(),
            "data": {
                "domain": self.test_set.domain,
                "vocab_size": self.vocab_size,
                "seq_len": self.seq_len,
                "num_puzzle_ids": self.train_source.num_puzzle_ids,
            },
            "trainer": {
                "batches": self.batches,
                "opt_steps": self.opt_steps,
                "examples": self.examples,
                "network_calls": self.network_calls,
                "elapsed_s": self.elapsed,
                "train_s": self.train_seconds,
                "stream": self.stream.state(),
            },
            "commit": git_commit(),
            "seed": self.cfg.train.seed,
            "parameters": self.model.num_parameters(),
            "metrics": metrics or {},
        }

    def diverged(self, what: str) -> TrainingDiverged:
        """The NaN guard's error, naming the checkpoint that is really kept (only finite weights are
        ever written, so ``latest`` is it)."""
        kept = latest_checkpoint(self.run_dir / "checkpoints")
        if kept is not None:
            where = f"the last good checkpoint {kept} is kept (resume from it with --resume)"
        else:
            where = f"no checkpoint was written in {self.run_dir / 'checkpoints'}"
        return TrainingDiverged(f"{what}; {where}. Try a lower train.lr, train.loss=stablemax or "
                                "train.precision=fp32.")

    def save(self, metrics: dict[str, Any] | None = None) -> Path | None:
        """Rank 0 writes (the state is identical on every rank and holds no per-rank part; a method's
        per-rank parts, such as TRM's carry shards, are gathered by every rank first).
        Weights that are no longer finite stop the run (`TrainingDiverged`) instead of being saved."""
        bad = not all(bool(torch.isfinite(p).all()) for p in self.model.parameters())
        if self.ema is not None:
            bad = bad or not all(bool(torch.isfinite(p).all()) for p in self.ema.shadow.parameters())
        if bad:  # identical on every rank, so all stop together
            raise self.diverged(f"the weights hold NaN or infinite values after batch {self.batches} "
                                 f"(optimiser step {self.opt_steps}) although the loss stayed finite")
        method_state = self.method.state_tensors()  # a collective for TRM under torchrun: every rank
        try:
            path = self._write_checkpoint(metrics, method_state) if self.dist.is_main else None
        except NonFiniteWeights as err:  # optimiser state: the weights were finite
            raise self.diverged(str(err)) from None
        distributed.barrier(self.dist)
        return path

    def _write_checkpoint(self, metrics: dict[str, Any] | None, method_state: dict[str, torch.Tensor]) -> Path:
        extra = {"rng/torch": torch.get_rng_state(), "rng/targets": self.target_rng.get_state()}
        if self.ema is not None:
            extra.update({f"ema/{k}": v for k, v in self.ema.shadow.state_dict().items()})
        extra.update({f"method/{k}": v for k, v in method_state.items()})
        return save_checkpoint(
            self.run_dir / "checkpoints", self.batches, self.model.state_dict(), self.checkpoint_meta(metrics),
            self.optimizers, extra, keep=self.cfg.train.keep_checkpoints,
        )

    def resume(self) -> None:
        ckpt = load_checkpoint(self.run_dir / "checkpoints")
        self.resume_changed = resume_changes(ckpt.meta["config"], self.cfg, self.resume_named)
        try:
            self.model.load_state_dict(ckpt.model_state)
            for name, opt in self.optimizers.items():
                opt.load_state_dict(optimizer_state(ckpt, name))
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(f"{ckpt.path} does not fit this config: {err}") from None
        tr = trainer_state(ckpt)
        self.batches, self.opt_steps = tr["batches"], tr["opt_steps"]
        self.examples, self.network_calls, self.elapsed = tr["examples"], tr["network_calls"], tr["elapsed_s"]
        self.train_seconds = tr.get("train_s", self.elapsed)
        self.stream.load_state(tr["stream"])
        torch.set_rng_state(ckpt.optim_tensors["rng/torch"])
        self.target_rng.set_state(ckpt.optim_tensors["rng/targets"])
        if self.ema is not None:
            self.ema.shadow.load_state_dict(
                {k[4:]: v for k, v in ckpt.optim_tensors.items() if k.startswith("ema/")}
            )
        self.method.load_state_tensors({k[7:]: v for k, v in ckpt.optim_tensors.items() if k.startswith("method/")})
        if self.dist.is_main:
            runs.truncate_jsonl(self.run_dir / "train_log.jsonl", "batch", self.batches)
            runs.truncate_jsonl(self.run_dir / "eval_log.jsonl", "batch", self.batches)

    # -- the loop ------------------------------------------------------------------------------
    def run(self, resume: bool | None = None) -> EvalResult:
        """Train until a budget is spent; ``resume`` (default: the constructor's) continues the
        folder's last checkpoint. Rank 0 holds the run folder's lock throughout."""
        resume = self.resume_requested if resume is None else resume
        with runs.folder_lock(self.run_dir, "train") if self.dist.is_main else contextlib.nullcontext():
            if self.dist.is_main:
                runs.prepare_run_dir(self.run_dir, resume=resume, overwrite=self.overwrite)
                for path in remove_partial_writes(self.run_dir / "checkpoints"):
                    warnings.warn(f"removed {path}, left by a checkpoint write that did not finish", stacklevel=2)
                if self.data_warnings:  # the run's own record of the data it trained without
                    (self.run_dir / runs.DATA_REPORT).write_text("\n".join(self.data_warnings) + "\n")
            distributed.barrier(self.dist)  # the folder is ready before any rank reads it
            return self._run(resume)

    def _run(self, resume: bool) -> EvalResult:
        from torch.utils.tensorboard import SummaryWriter  # tensorboard is slow to load: only once a run starts

        tc = self.cfg.train
        if resume:
            self.resume()
        if self.dist.is_main:
            save_config(self.cfg, self.run_dir / "config.yaml")
            if resume:
                record_resume(self.run_dir, self.batches, self.resume_changed)
            self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=self.batches if resume else None)
            tb_logging.log_config(self.writer, self.cfg)
        bar = BudgetBar(f"{tc.method} {self.cfg.name}", tc.max_network_calls, tc.max_train_seconds, tc.max_batches,
                        "batch", self.progress, initial={"calls": self.network_calls,
                                                         "seconds": self.train_seconds, "steps": self.batches})
        budget = runs.RunBudget(max_network_calls=tc.max_network_calls, max_train_seconds=tc.max_train_seconds,
                                max_seconds=tc.max_seconds)
        last_eval: EvalResult | None = None
        last_eval_batch = -1
        started = time.perf_counter() - self.elapsed
        with runs.stop_signals(enabled=not self.dist.enabled) as stop, contextlib.ExitStack() as closing:
            closing.callback(bar.close)
            while self.batches < tc.max_batches and not stop.signal:
                spent = budget.exhausted(self.network_calls, self.train_seconds, self.elapsed)
                if spent:
                    bar.write(f"{spent} reached after {self.batches} batches")
                    break
                round_start = time.perf_counter()
                calls_before, seconds_before = self.network_calls, self.train_seconds
                stats = self.method.train_round()
                round_s = time.perf_counter() - round_start
                # Over all ranks: losses averaged, counts summed, clocks averaged (so every rank
                # takes the same budget decisions).
                stats.losses, stats.examples, stats.network_calls, (round_s, now) = distributed.reduce_round(
                    stats.losses, stats.examples, stats.network_calls, [round_s, time.perf_counter() - started],
                    self.dist, self.device)
                self.batches += 1
                self.examples += stats.examples
                self.network_calls += stats.network_calls
                self.train_seconds += round_s
                self.elapsed = now
                self._log_round(stats, stats.examples / max(round_s, 1e-9))
                bar.advance(self.network_calls, self.train_seconds, self.batches)
                if self.batches % tc.log_every == 0:
                    bar.set_postfix(loss=f"{sum(stats.losses):.3f}", valid=_pct(last_eval))
                if (
                    (tc.eval_every and self.batches % tc.eval_every == 0)
                    or _reached(calls_before, self.network_calls, tc.eval_at_calls)
                    or _reached(seconds_before, self.train_seconds, tc.eval_at_seconds)
                ):
                    last_eval, last_eval_batch = self._eval_and_log(), self.batches
                    bar.set_postfix(loss=f"{sum(stats.losses):.3f}", valid=_pct(last_eval))
                if tc.checkpoint_every and self.batches % tc.checkpoint_every == 0:
                    self.save()
        if stop.signal:
            raise self._interrupted(stop.signal, resume)
        final = last_eval if last_eval is not None and last_eval_batch == self.batches else self._eval_and_log()
        self.save(metrics=final.summary())
        if self.writer is not None:
            tb_logging.log_hparams(self.writer, self.cfg, final.summary())
            self.writer.close()
        return final

    def _interrupted(self, signal_name: str, resumed: bool) -> TrainingInterrupted:
        """Checkpoint where the loop stopped (a round boundary, so the state is whole) and say how to
        go on; a fresh run stopped before its first batch has nothing worth saving."""
        saved = self.save() if self.batches or resumed else None
        if self.writer is not None:
            self.writer.close()
        done = f"interrupted by {signal_name} after batch {self.batches}" + (f", saved {saved}" if saved else "")
        return TrainingInterrupted(f"{done}; {runs.interrupted_advice(self.run_dir)}", signal_name)

    def _log_round(self, stats: RoundStats, samples_per_s: float) -> None:
        if self.writer is None:  # not rank 0
            return
        w, b = self.writer, self.batches
        record = {"batch": b, "opt_steps": self.opt_steps, "network_calls": self.network_calls,
                  "elapsed_s": round(self.elapsed, 3), "losses": stats.losses}
        runs.append_jsonl(self.run_dir / "train_log.jsonl", record)
        if b % self.cfg.train.log_every == 0:
            for s, loss in enumerate(stats.losses, 1):
                w.add_scalar(f"losses/step_{s}", loss, b)
            w.add_scalar("losses/total", sum(stats.losses), b)
            w.add_scalar("charts/network_calls", self.network_calls, b)
            w.add_scalar("charts/calls_per_example", stats.network_calls / max(stats.examples, 1), b)
            w.add_scalar("charts/learning_rate", self.lr, b)
            w.add_scalar("charts/samples_per_s", samples_per_s, b)
            for name, value in stats.scalars.items():
                w.add_scalar(name, value, b)

    def _eval_and_log(self) -> EvalResult:
        result = self.evaluate()
        if self.writer is None:  # not rank 0
            return result
        w, b = self.writer, self.batches
        record = {"batch": b, "network_calls": self.network_calls, "elapsed_s": round(self.elapsed, 3),
                  "train_s": round(self.train_seconds, 3),
                  "valid": result.valid, "exact": result.exact, "valid_per_step": result.valid_per_step,
                  "hamming_per_step": result.hamming_per_step}
        bands = result.by_answers()
        if bands:  # valid share by the puzzles' number of valid answers
            record["valid_by_answers"] = {name: {"puzzles": n, "valid": v} for name, n, v in bands}
            for name, _, v in bands:
                w.add_scalar(f"eval/valid_answers_{name}", v, b)
        runs.log_evaluation(self.run_dir, record, w, b)
        for s, h in enumerate(result.hamming_per_step, 1):
            w.add_scalar(f"eval/hamming_step_{s}", h, b)
        tb_logging.log_strip(w, self.eval_model(), self.cfg, self.test_set, b, self.device)
        return result


def _reached(before: float, after: float, points: list) -> bool:
    """Did a counter reach one of ``points`` between two readings?"""
    return any(before < p <= after for p in points)


def _pct(result: EvalResult | None) -> str:
    return "-" if result is None else f"{100 * result.valid:.1f}%"

