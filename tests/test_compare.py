"""`dis-rl compare`: budgets, matched evaluation points, outputs and the verdict line."""

import json

import pytest
import torch
import yaml

from dis_rl.cli import main
from dis_rl.compare import ArmSummary, Budget, compare, load_compare_config, verdict
from dis_rl.config import ConfigError
from dis_rl.runs import LOCK_NAME

torch.set_num_threads(1)

TINY_MODEL = {"hidden": 16, "layers": 1, "heads": 1, "puzzle_emb_len": 1}
TINY_DATA = {"domain": "nqueens", "num_train": 20, "num_test": 8}


def write_arms(tmp_path, budget=600, seeds=1):
    dis = {"name": "d", "data": TINY_DATA, "model": {**TINY_MODEL, "cycles": 1, "latent_steps": 2},
           "train": {"method": "dis", "supervision_steps": 3, "batch_size": 8, "eval_batch_size": 8, "warmup_steps": 2}}
    trm = {"name": "t", "data": TINY_DATA,
           "model": {**TINY_MODEL, "cycles": 2, "latent_steps": 1, "step_embedding": 0, "halting_head": True},
           "train": {"method": "trm", "supervision_steps": 4, "batch_size": 8, "eval_batch_size": 8, "warmup_steps": 2}}
    (tmp_path / "dis.yaml").write_text(yaml.safe_dump(dis))
    (tmp_path / "trm.yaml").write_text(yaml.safe_dump(trm))
    spec = {"name": "cmp", "out_dir": str(tmp_path / "runs"), "seeds": seeds, "budget": {"network_calls": budget},
            "eval_points": 2, "overrides": ["train.threads=1"],
            "arms": [{"name": "DIS", "kind": "dis", "config": "dis.yaml"},
                     {"name": "TRM", "kind": "trm", "config": "trm.yaml"}]}
    path = tmp_path / "compare.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_tiny_compare_writes_plot_table_tensorboard_and_last_line(tmp_path, capsys):
    path = write_arms(tmp_path)
    lines = []
    result = compare(path, progress=False, log=lines.append)
    run = result.run_dir
    assert (run / "compare.png").stat().st_size > 0
    assert "| DIS | dis |" in (run / "compare.md").read_text()
    assert list((run / "tb").glob("events.out.tfevents.*"))
    dis, trm = result.summaries
    assert lines[-1] == verdict(trm, dis).line  # the verdict of these two arms' curves, not just any verdict
    for s in result.summaries:  # matched points: both arms evaluated twice, the last at the budget
        assert len(s.calls) == 2 and s.calls[0] >= 300 and s.calls[-1] >= 600
    assert dis.calls_per_example == 3 * 1 * 3 and trm.calls_per_example == 4 * 2 * 2
    assert trm.realised_calls_per_example <= trm.calls_per_example
    saved = json.loads((run / "results.json").read_text())
    assert [a["name"] for a in saved["arms"]] == ["DIS", "TRM"]
    # the CLI reuses the finished runs and ends with the verdict line
    capsys.readouterr()
    assert main(["compare", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "reusing" in out[0] and out[-1] == lines[-1]


def test_compare_file_errors_name_the_problem(tmp_path):
    path = write_arms(tmp_path)
    with pytest.raises(ConfigError, match="exactly one"):
        load_compare_config(path, ["budget.seconds=10"])
    with pytest.raises(ConfigError, match="kind"):
        load_compare_config(path, ["arms=[{name: X, kind: ppo, config: dis.yaml}]"])
    with pytest.raises(ConfigError, match="did you mean 'eval_points'"):
        load_compare_config(path, ["eval_point=3"])
    with pytest.raises(ConfigError, match="kind 'trm' but"):
        from dis_rl.compare import arm_run_config
        cfg, base = load_compare_config(path, ["arms=[{name: X, kind: trm, config: dis.yaml}]"])
        arm_run_config(cfg, cfg.arms[0], 0, base)


def summary(name, calls, valid, per_example):
    return ArmSummary(name, "x", [0], calls, [c / 100 for c in calls], valid, valid, valid, [valid[-1]], [valid[-1]],
                      per_example, per_example, 1)


def test_verdict_reads_both_ratios():
    trm = summary("TRM", [100, 200, 300, 400], [0.0, 0.05, 0.08, 0.10], 336)
    dis = summary("DIS", [10, 20, 30, 40], [0.02, 0.11, 0.2, 0.3], 18)
    v = verdict(trm, dis)
    assert v.reached_at == 1 and v.calls_ratio == 20.0 and v.final_not_lower
    assert v.line == "DIS reached TRM's final accuracy (10.0%) with 20.0x fewer network calls"
    assert round(v.schedule_ratio, 1) == 18.7
    slow = summary("DIS", [10, 20], [0.01, 0.05], 18)
    assert verdict(trm, slow).line.startswith("DIS did not reach TRM's final accuracy (10.0%)")
    early = summary("DIS", [10, 20], [0.5, 0.6], 18)
    assert "at least 40.0x" in verdict(trm, early).line


def test_log_spaced_points_and_alignment_of_merged_evaluations(tmp_path):
    from dis_rl.compare import Arm, ArmRun, summarise

    cfg, _ = load_compare_config(write_arms(tmp_path), ["eval_points=3", "eval_spacing=log"])
    assert cfg.points() == [6.0, 60.0, 600.0]  # budget/100 .. budget, geometric
    cfg, _ = load_compare_config(write_arms(tmp_path), ["eval_points=4"])
    assert cfg.points() == [150.0, 300.0, 450.0, 600.0]
    points = [75.0, 150.0, 300.0, 600.0]

    def run(calls, valid):
        return ArmRun([{"network_calls": c, "train_s": c / 10, "valid": v, "exact": v} for c, v in zip(calls, valid)],
                      18, 18)

    # seed 0 passed points 1 and 2 within one round, so it has one evaluation for both
    s = summarise(Arm("DIS", "dis", "x"), {0: run([160, 310, 610], [0.1, 0.2, 0.4]),
                                           1: run([80, 150, 300, 600], [0.0, 0.1, 0.3, 0.5])}, points)
    assert s.calls == [155, 305, 605] and s.valid_mean == [0.1, 0.25, 0.45] and s.final_valid == [0.4, 0.5]


def test_one_seed_is_read_at_the_same_points_as_several_and_ratio_words():
    from dis_rl.compare import Arm, ArmRun, format_tables, ratio_words, summarise

    # An arm that looks at its start (PPO's evaluation at 0 calls) gets no extra point: one seed is
    # aligned on the comparison's points like several.
    evals = [{"network_calls": c, "train_s": c / 10, "valid": v, "exact": v, "env_steps": c}
             for c, v in zip([0, 50, 100], [0.0, 0.1, 0.2])]
    s = summarise(Arm("PPO", "ppo_scratch"), {0: ArmRun(evals, 13, 13)}, points=[50.0, 100.0], unit="network_calls")
    assert s.calls == [50, 100] and s.points == [0, 1]
    other = summarise(Arm("DIS", "dis"), {0: ArmRun(evals[1:], 18, 18)}, points=[50.0, 100.0])
    rows = [line for line in format_tables([s, other], None, Budget(network_calls=100)).splitlines()
            if line[2:3].isdigit()]
    assert [r.split(" |")[0] for r in rows] == ["| 1", "| 2"] and not any("- |" in r for r in rows)
    # Two seeds of such an arm are aligned on their own budget (counted from `start`), not collapsed
    # into the last point: evaluations at 0, 50 and 100 own calls after 500 of pretraining.
    def tuned(valid):
        ev = [{"network_calls": 500 + c, "train_s": 50.0 + c / 10, "valid": v, "exact": v, "env_steps": c}
              for c, v in zip([0, 50, 100], valid)]
        return ArmRun(ev, 13, 13, start={"network_calls": 500, "train_s": 50.0, "env_steps": 0})

    s = summarise(Arm("FT", "rl"), {0: tuned([0.8, 0.82, 0.84]), 1: tuned([0.8, 0.8, 0.86])},
                  points=[50.0, 100.0], unit="network_calls")
    assert s.calls == [550, 600] and s.valid_mean == [0.81, 0.85]
    assert ratio_words(4.0, "fewer", "more") == "4.0x fewer"
    assert ratio_words(0.25, "fewer", "more") == "4.0x more"


def test_a_second_compare_on_a_busy_folder_is_refused(tmp_path, capsys):
    import os

    path = write_arms(tmp_path)
    cfg, _ = load_compare_config(path)
    run_dir = tmp_path / "runs" / cfg.name  # write_arms puts out_dir there
    run_dir.mkdir(parents=True)
    lock = run_dir / LOCK_NAME  # the one lock `dis-rl train` takes too
    lock.write_text(f"{os.getppid()} compare\n")  # a live process that is not us
    assert main(["compare", str(path), "--no-progress"]) == 2
    assert "another dis-rl compare" in capsys.readouterr().err
    lock.write_text("999999999 compare\n")  # stale: taken over
    compare(path, progress=False, log=lambda _: None)
    assert not lock.exists()


def test_reach_table_reads_each_seed_and_counts_misses(tmp_path):
    from dis_rl.compare import Arm, ArmRun, Budget, CompareConfig, reach_table, write_report

    def run(valids):
        return ArmRun([{"network_calls": 1000 * (i + 1), "train_s": 1.0, "valid": v, "exact": v}
                       for i, v in enumerate(valids)], 18.0, 18.0)

    arms = [Arm("fast", "dis", "x.yaml", note="paper: fast"), Arm("slow", "dis", "x.yaml")]
    results = {"fast": {0: run([0.5, 0.8, 0.9]), 1: run([0.85, 0.9, 0.95])},
               "slow": {0: run([0.1, 0.5, 0.7]), 1: run([0.2, 0.6, 0.81])}}
    table = reach_table(arms, results, 0.8)
    fast, slow = table.splitlines()[2:]
    assert "| fast | 0, 1 | 92.5 [90.0-95.0] | 1,500 [1,000-2,000] | 2/2 | 1 | paper: fast |" == fast
    assert "| slow | 0, 1 | 75.5 [70.0-81.0] | 3,000 | 1/2 | 1 |" in slow
    cfg = CompareConfig(name="abl", budget=Budget(network_calls=3000), reach=0.8, arms=arms)
    text = write_report(tmp_path / "r" / "abl.md", cfg, tmp_path / "abl.yaml", ["seeds=2"], table, 120.0).read_text()
    assert "dis-rl compare" in text and "seeds=2" in text and "seeds [0, 1, 2]" in text and table in text
    with pytest.raises(ConfigError, match="report needs reach"):
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump({"budget": {"network_calls": 10}, "report": "x.md",
                                        "arms": [{"name": "a", "kind": "dis", "config": "x.yaml"}]}))
        load_compare_config(path)


def test_finished_reports_what_has_finished_and_trains_nothing(tmp_path, capsys):
    path = write_arms(tmp_path, seeds=2)
    spec = yaml.safe_load(path.read_text())
    with pytest.raises(ConfigError, match="no arm x seed of cmp has finished"):
        compare(path, progress=False, log=lambda _: None, finished=True)
    # finish DIS seed 0 only (a one-seed, one-arm compare of the same arm into the same folder)
    only = {**spec, "seeds": [0], "arms": spec["arms"][:1]}
    (tmp_path / "only.yaml").write_text(yaml.safe_dump(only))
    compare(tmp_path / "only.yaml", progress=False, log=lambda _: None)
    arms = tmp_path / "runs" / "cmp" / "arms"
    before = sorted(p.relative_to(arms) for p in arms.rglob("*"))
    lines = []
    result = compare(path, progress=False, log=lines.append, finished=True)
    assert [s.name for s in result.summaries] == ["DIS"] and result.summaries[0].seeds == [0]
    assert any("not finished, left out: DIS seed 1, TRM seed 0, TRM seed 1" in line for line in lines)
    assert sorted(p.relative_to(arms) for p in arms.rglob("*")) == before  # nothing trained or removed
    assert main(["compare", str(path), "--finished", "--fresh"]) == 2
    assert "pass one of the two" in capsys.readouterr().err


def test_jobs_train_arms_in_parallel_with_the_same_results(tmp_path):
    """Two worker processes give the arm x seeds one process gives (training is deterministic), and a
    second run reuses them."""
    path = write_arms(tmp_path, seeds=2)
    serial = compare(path, progress=False, log=lambda _: None)
    spec = yaml.safe_load(path.read_text())
    (tmp_path / "par.yaml").write_text(yaml.safe_dump({**spec, "out_dir": str(tmp_path / "par")}))
    lines = []
    parallel = compare(tmp_path / "par.yaml", progress=False, log=lines.append, jobs=2)
    assert "training 4 arm x seed(s), 2 at a time" in lines
    for a, b in zip(serial.summaries, parallel.summaries):
        assert (a.name, a.seeds, a.calls, a.valid_mean) == (b.name, b.seeds, b.calls, b.valid_mean)
    lines.clear()
    compare(tmp_path / "par.yaml", progress=False, log=lines.append, jobs=2)
    assert sum("reusing" in line for line in lines) == 4
    with pytest.raises(ConfigError, match="jobs must be >= 1"):
        compare(path, progress=False, log=lambda _: None, jobs=0)
