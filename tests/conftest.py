"""Shared test settings: one torch thread (the CI machine has 2 cores and tests run tiny models)."""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def tiny_overrides(tmp_path):
    """Overrides that make any N-Queens config train in seconds."""
    return [
        "model.hidden=32", "model.layers=1", "model.heads=2", "model.puzzle_emb_len=1",
        "data.num_train=40", "data.num_test=20", "train.batch_size=16", "train.max_batches=4",
        "train.eval_every=0", "train.checkpoint_every=2", "train.log_every=1", "train.threads=1",
        f"out_dir={tmp_path}",
    ]


@pytest.fixture(autouse=True)
def fresh_submission_counts():
    """Each test starts with no test input submitted: the scorer counts per process, and tests
    reuse the same small puzzles (what a user's process would count as one evaluation)."""
    from dis_rl.envs import scoring

    scoring._SESSIONS.append({})
    yield
    scoring._SESSIONS.pop()
