"""Compare results that cannot go stale: reuse only while config, code and starting checkpoint are
unchanged; a fine-tuned arm carries its checkpoint's pretraining cost; the override the error
message suggests works; every arm is read at the same points; overlapping lines stay visible."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from dis_rl import compare as cmp
from dis_rl.arms import ARM_KINDS, ArmRun


@dataclass
class FakeRun:
    checkpoint: str
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self):
        return {"checkpoint": self.checkpoint, "seed": self.seed}

    def starting_checkpoints(self):
        return [self.checkpoint]


def test_a_result_is_reused_only_while_its_checkpoint_and_commit_are_unchanged(tmp_path, monkeypatch):
    ckpt = tmp_path / "base"
    ckpt.mkdir()
    (ckpt / "meta.json").write_text(json.dumps({"format": "dis-rl-checkpoint", "version": 1}))
    (ckpt / "model.safetensors").write_bytes(b"good weights")
    trained = []

    def runner(run, arm_dir, progress):
        arm_dir.mkdir(parents=True, exist_ok=True)
        trained.append(1)
        return ArmRun([{"network_calls": 1, "train_s": 1.0, "valid": 0.5, "exact": 0.5, "env_steps": 1}], 1, 1)

    monkeypatch.setitem(ARM_KINDS, "fake", runner)
    arm, run, arm_dir, lines = cmp.Arm("PG", "fake", "x"), FakeRun(str(ckpt)), tmp_path / "arm", []
    for _ in range(2):
        cmp.run_or_reuse(arm, run, arm_dir, False, False, lines.append)
    assert len(trained) == 1 and "reusing" in lines[-1]
    (ckpt / "model.safetensors").write_bytes(b"a 5-batch run")  # the base checkpoint was replaced
    cmp.run_or_reuse(arm, run, arm_dir, False, False, lines.append)
    assert len(trained) == 2 and any("not reusing" in line and "checkpoint" in line for line in lines)
    monkeypatch.setattr("dis_rl.checkpoint.git_commit", lambda: "0000000")  # other code
    cmp.run_or_reuse(arm, run, arm_dir, False, False, lines.append)
    assert len(trained) == 3 and any("not reusing" in line and "the code" in line for line in lines)


def test_fine_tuning_carries_the_checkpoints_pretraining_cost(monkeypatch):
    from dis_rl.agents import rl_arm
    from dis_rl.agents.pg_finetune import pretraining_cost
    from dis_rl.checkpoint import read_meta, resolve_checkpoint

    meta = read_meta(resolve_checkpoint("nqueens_dis"))  # exported: its cost is under "training"
    recorded = meta["training"]
    calls, seconds, steps = pretraining_cost(meta, "nqueens_dis")
    assert calls == recorded["network_calls"] > 0 and seconds == recorded["train_s"] > 0 and steps > 0
    cfg = rl_arm.load_rl_config("rl_nqueens_finetune", ["finetune.checkpoint=nqueens_dis"])
    records = [{"network_calls": c, "train_s": c / 1000, "valid": 0.865, "env_steps": c} for c in (0, 9216, 18432)]
    monkeypatch.setattr(rl_arm, "run_rl", lambda cfg, run_dir, progress: records)
    result = rl_arm.run_arm(cfg, None, False)
    assert result.evals[0]["network_calls"] == calls and result.evals[-1]["network_calls"] == calls + 18_432
    assert result.evals[-1]["train_s"] == pytest.approx(seconds + 18.432)
    assert result.start["network_calls"] == calls
    with pytest.raises(ValueError, match="records no training cost"):
        pretraining_cost({"config": meta["config"]}, "bare")


def test_compare_takes_the_suggested_checkpoint_override(tmp_path):
    for overrides in (["finetune.checkpoint=nqueens_dis"],
                      ["overrides=[finetune.checkpoint=nqueens_dis, train.threads=1]"]):
        cfg, base = cmp.load_compare_config("compare_rl_nqueens", [*overrides, f"out_dir={tmp_path}"])
        by_name = {a.name: a for a in cfg.arms}
        pg = cmp.arm_run_config(cfg, by_name["PG-finetune"], 0, base)
        dis = cmp.arm_run_config(cfg, by_name["DIS"], 0, base)  # the train arm does not get finetune.*
        assert pg.finetune.checkpoint == "nqueens_dis" and dis.train.threads == 1
    with pytest.raises(Exception, match="eval_points"):  # a typo still gets the compare file's suggestion
        cmp.load_compare_config("compare_rl_nqueens", ["eval_point=3"])


def test_overlapping_arms_stay_visible_in_the_plot():
    def flat(name):
        return cmp.ArmSummary(name, "x", [0], [10, 20], [1, 2], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0], [0.0],
                              1, 1, 1, env_steps=[1, 2], points=[0, 1])

    import matplotlib.pyplot as plt

    fig = cmp.comparison_figure([flat("DIS"), flat("PPO")])
    first, second = fig.axes[0].lines[:2]
    plt.close(fig)
    assert first.get_linestyle() != second.get_linestyle() and first.get_marker() != second.get_marker()
    assert first.get_linewidth() > second.get_linewidth() and second.get_zorder() > first.get_zorder()
