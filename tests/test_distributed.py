"""Data-parallel training: two gloo processes on the CPU reproduce one process, and checkpoints
move between world sizes (both directions) without bending the loss curve; for DIS and for the TRM
baseline (whose halting slots are global state: halt flags gathered, carry gathered at checkpoints)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from dis_rl.checkpoint import load_checkpoint
from dis_rl.config import config_from_dict
from dis_rl.data import build_data
from dis_rl.distributed import DistContext, context_from_env, eval_indices, shard_slice
from dis_rl.loading import load_model
from dis_rl.runs import read_jsonl
from dis_rl.train import Trainer

torch.set_num_threads(1)

BATCHES = 4  # x 6 supervision steps = 24 optimiser steps
CONFIG = {
    "name": "dist",
    "data": {"domain": "nqueens", "num_train": 40, "num_test": 11},  # 11: ranks evaluate 6 + 5 puzzles
    "model": {"hidden": 16, "layers": 1, "heads": 2, "puzzle_emb_len": 1},
    "train": {"batch_size": 8, "max_batches": BATCHES, "eval_every": 0, "checkpoint_every": 2,
              "keep_checkpoints": 3, "warmup_steps": 5, "eval_batch_size": 4, "threads": 1,
              "p_uncond": 0.25},  # the dropped-step mask is drawn globally too
}


TRM_BATCHES = 8  # one optimiser step each; N_sup 3, so slots halt and are refilled on the way
TRM_CONFIG = {
    "name": "dist-trm",
    "data": CONFIG["data"],
    "model": {**CONFIG["model"], "halting_head": True, "step_embedding": 0, "cycles": 2, "latent_steps": 1},
    "train": {**{k: v for k, v in CONFIG["train"].items() if k != "p_uncond"}, "method": "trm",
              "supervision_steps": 3, "max_batches": TRM_BATCHES, "checkpoint_every": 4,
              "halt_exploration_prob": 0.5},
}


def _cfg(method: str = "dis"):
    return config_from_dict(TRM_CONFIG if method == "trm" else CONFIG)


def _data():
    """N-Queens with 5 puzzle ids, so the sparse puzzle-embedding path is exercised too."""
    train, test = build_data(_cfg().data)
    return tuple(dataclasses.replace(s, puzzle_ids=np.arange(len(s)) % 5 + 1, num_puzzle_ids=6) for s in (train, test))


def _trainer(run_dir, resume: bool = False, method: str = "dis") -> Trainer:
    trainer = Trainer(_cfg(method), run_dir, progress=False, data=_data(), resume=resume)
    if method == "trm" and not resume:
        with torch.no_grad():  # q > 0: slots halt once their exploration minimum (1..3 steps) allows
            trainer.model.halt_head.bias.fill_(5.0)
    return trainer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, jobs: list[tuple[str, bool]], method: str = "dis") -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from dis_rl.distributed import shutdown_distributed

    try:
        for run_dir, resume in jobs:
            _trainer(run_dir, resume, method).run()
    finally:
        shutdown_distributed()


def _branch_at(src, dst, batch: int):
    """Copy a run folder and point its checkpoint at ``batch``, as if it had been stopped there."""
    shutil.copytree(src, dst)
    (dst / "checkpoints" / "latest").write_text(f"step_{batch:08d}\n")
    return dst


def _losses(run_dir) -> np.ndarray:
    return np.array([r["losses"] for r in read_jsonl(run_dir / "train_log.jsonl")])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    one, two = root / "one", root / "two"
    _trainer(one).run()
    from_one = _branch_at(one, root / "one_then_two", 2)
    mp.spawn(_worker, args=(2, _free_port(), [(str(two), False), (str(from_one), True)]), nprocs=2, join=True)
    from_two = _branch_at(two, root / "two_then_one", 2)
    _trainer(from_two, resume=True).run()
    return {"one": one, "two": two, "one_then_two": from_one, "two_then_one": from_two}


@pytest.fixture(scope="module")
def trm_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist_trm")
    one, two = root / "one", root / "two"
    _trainer(one, method="trm").run()
    from_one = _branch_at(one, root / "one_then_two", 4)
    mp.spawn(_worker, args=(2, _free_port(), [(str(two), False), (str(from_one), True)], "trm"), nprocs=2, join=True)
    from_two = _branch_at(two, root / "two_then_one", 4)
    _trainer(from_two, resume=True, method="trm").run()
    return {"one": one, "two": two, "one_then_two": from_one, "two_then_one": from_two}


def test_trm_two_processes_reproduce_one_and_resume_across_world_sizes(trm_runs):
    one = _losses(trm_runs["one"])
    assert one.shape == (TRM_BATCHES, 1)
    for run in ("two", "two_then_one", "one_then_two"):
        np.testing.assert_allclose(_losses(trm_runs[run]), one, rtol=0, atol=1e-5, err_msg=run)
    a = load_checkpoint(trm_runs["one"])
    finished_examples, finished_steps, _ = a.optim_tensors["method/finished"].tolist()
    assert 0 < finished_examples and finished_steps < 3 * finished_examples  # some halted before N_sup
    clocks = ("elapsed_s", "train_s")
    for run in ("two", "two_then_one", "one_then_two"):
        b = load_checkpoint(trm_runs[run])
        assert {k: v for k, v in b.meta["trainer"].items() if k not in clocks} == {
            k: v for k, v in a.meta["trainer"].items() if k not in clocks}, run
        for key, tensor in a.optim_tensors.items():
            if key.startswith("method/"):  # slot data, counters, halt flags and the gathered carry
                torch.testing.assert_close(b.optim_tensors[key], tensor, rtol=0, atol=1e-5, msg=f"{run} {key}")


def test_two_processes_reproduce_one(runs):
    one, two = _losses(runs["one"]), _losses(runs["two"])
    assert one.shape == two.shape == (BATCHES, 6)
    np.testing.assert_allclose(two, one, rtol=0, atol=1e-5)
    log_one, log_two = read_jsonl(runs["one"] / "train_log.jsonl"), read_jsonl(runs["two"] / "train_log.jsonl")
    assert [r["network_calls"] for r in log_two] == [r["network_calls"] for r in log_one]
    assert log_two[-1]["opt_steps"] == log_one[-1]["opt_steps"] == BATCHES * 6


def test_sharded_evaluation_equals_whole(runs):
    ev_one, ev_two = read_jsonl(runs["one"] / "eval_log.jsonl")[-1], read_jsonl(runs["two"] / "eval_log.jsonl")[-1]
    np.testing.assert_allclose(ev_two["hamming_per_step"], ev_one["hamming_per_step"], atol=1e-6)
    np.testing.assert_allclose(ev_two["valid_per_step"], ev_one["valid_per_step"], atol=1e-9)


def test_checkpoints_agree_and_load_anywhere(runs):
    a, b = load_checkpoint(runs["one"]), load_checkpoint(runs["two"])
    clocks = ("elapsed_s", "train_s")
    assert {k: v for k, v in a.meta["trainer"].items() if k not in clocks} == {
        k: v for k, v in b.meta["trainer"].items() if k not in clocks}
    for key, tensor in a.model_state.items():
        torch.testing.assert_close(b.model_state[key], tensor, rtol=0, atol=1e-5)
    for run in ("one", "two"):
        model, _, _ = load_model(str(runs[run]))
        assert model.puzzle_emb is not None and model.puzzle_emb.weight[1:].abs().sum() > 0  # trained sparse rows


def test_resume_across_world_sizes_continues_the_curve(runs):
    one = _losses(runs["one"])
    for branch in ("two_then_one", "one_then_two"):
        np.testing.assert_allclose(_losses(runs[branch]), one, rtol=0, atol=1e-5, err_msg=branch)


def test_context_from_env():
    assert context_from_env({}) == DistContext(0, 1, 0)
    assert context_from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == DistContext(3, 4, 1)
    with pytest.raises(ValueError, match="RANK=4 WORLD_SIZE=4"):
        context_from_env({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="WORLD_SIZE='two'"):
        context_from_env({"WORLD_SIZE": "two"})


def test_shards_cover_the_batch_and_uneven_batches_fail():
    assert [shard_slice(12, DistContext(r, 3)) for r in range(3)] == [slice(0, 4), slice(4, 8), slice(8, 12)]
    with pytest.raises(ValueError, match=r"train.batch_size \(10\).*\(4\)"):
        shard_slice(10, DistContext(0, 4))
    blocks = [eval_indices(11, DistContext(r, 2)) for r in range(2)]
    assert np.array_equal(np.concatenate(blocks), np.arange(11))
