"""arc1_eval_small (issue 25): which ARC-AGI-1 tasks it trains and scores, that no evaluation test
output is trained on, and (slow) a tiny end-to-end run of benchmarks/arc1_eval_small.py."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.arc_common import leaked_pairs, method_overrides
from dis_rl.config import ConfigError, load_config
from dis_rl.data import arc_task_split, build_arc
from dis_rl.puzzles.arc import load_tasks

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "arc1_eval_small.yaml"
CONCEPTARC = REPO.parent / "shared" / "data" / "conceptarc"


def _side(task) -> int:
    return max(max(g.shape) for g in task.grids())


def test_the_77_small_evaluation_tasks_and_the_178_training_tasks():
    cfg = load_config(CONFIG)
    train, evaluation = arc_task_split(cfg.data)
    expected = sorted(t.task_id for t in load_tasks("arc1", "test") if _side(t) <= 10)
    assert len(expected) == 77
    assert sorted(t.task_id for t in evaluation) == expected
    assert len(train) == 178 and all(_side(t) <= 10 for t in train)
    assert not {t.task_id for t in train} & set(expected)


def test_no_evaluation_test_output_is_trained_on():
    splits = build_arc(load_config(CONFIG).data)
    assert leaked_pairs(splits) == []
    # the evaluation tasks contribute their demonstrations only; their test pairs are the test set
    trained = {(splits.tasks[t].task_id, int(j)) for t, j in zip(splits.train.example_task, splits.train.example_pair)}
    for p, task in enumerate(splits.tasks):
        if splits.is_eval[p]:
            assert {j for tid, j in trained if tid == task.task_id} == set(range(len(task.train)))
    assert splits.test.num_examples == sum(len(t.test) for t, e in zip(splits.tasks, splits.is_eval) if e) == 88


@pytest.mark.skipif(not CONCEPTARC.is_dir(), reason="ConceptARC is not in ../shared/data")
def test_conceptarc_joins_training_only():
    cfg = load_config(CONFIG, [f"data.arc_dirs=[{CONCEPTARC}]"])
    splits = build_arc(cfg.data)
    assert int(splits.is_eval.sum()) == 77 and len(splits.tasks) - 77 == 178 + 39
    assert leaked_pairs(splits) == []


def test_leaked_pairs_sees_content_under_another_id():
    splits = build_arc(load_config(CONFIG).data)
    e = int(next(i for i, is_eval in enumerate(splits.is_eval) if is_eval))
    task = splits.tasks[e]
    from dataclasses import replace

    from dis_rl.puzzles.arc_augment import make_arc_splits

    copy = replace(task, task_id="copy", train=task.train + (task.test[0],))
    leaky = make_arc_splits([copy], [task], num_aug=0)
    assert leaked_pairs(leaky) == [f"{task.task_id}/0"]


def test_max_grid_side_is_checked():
    with pytest.raises(ConfigError, match="max_grid_side"):
        load_config(CONFIG, ["data.max_grid_side=31"])


def test_trm_baseline_gets_the_dis_calls_in_batches():
    for config in (CONFIG, REPO / "configs" / "arc_small.yaml"):
        dis = load_config(config)
        trm = load_config(config, method_overrides(config, "trm", []))
        d, t = dis.train, trm.train
        dis_calls = d.max_batches * d.batch_size * d.supervision_steps * dis.model.calls_per_step
        per_batch = t.batch_size * trm.model.calls_per_step
        assert t.method == "trm" and 0 <= t.max_batches * per_batch - dis_calls < per_batch


@pytest.mark.slow
def test_arc1_eval_small_end_to_end(tmp_path):
    """Two batches on the evaluation tasks of at most 6x6: the vote and the env agree, the line is printed."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "arc1_eval_small.py"), "--conceptarc", "", "--out", str(tmp_path),
         "--figures", str(tmp_path), "--run-dir", str(tmp_path / "run"), "data.max_grid_side=6",
         "train.max_batches=2", "train.eval_batch_size=64"],
        capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert re.fullmatch(r"arc1_eval_small: pass@2 \d+\.\d% \(copy-input \d+\.\d%, most-common \d+\.\d%\), "
                        r"training exact \d+\.\d%", lines[-1])
    assert "agrees with the vote on every task and answer" in lines[-2]
    assert (tmp_path / "arc1_eval_small_dis_s0.json").is_file()
