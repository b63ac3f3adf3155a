"""Guidance diagnostics (Prop. 4.1), w sweeps (incl. the ARC voting path), the sweep-w / show /
export commands, the demo showcase and classifier-free dropout in DIS training."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from dis_rl.config import ConfigError, config_from_dict
from dis_rl.evaluate import evaluate
from dis_rl.guidance import advantage_margin, margin_stats, parse_ws, sweep_w
from dis_rl.loading import load_model
from dis_rl.model.trm import TRM, ModelConfig
from dis_rl.puzzles import nqueens
from dis_rl.sweep_report import sweep_csv, sweep_markdown

torch.set_num_threads(1)

TINY = [
    "model.hidden=16", "model.layers=1", "model.heads=2", "data.num_train=20", "data.num_test=8",
    "train.batch_size=8", "train.max_batches=2", "train.eval_every=0", "train.checkpoint_every=0",
    "train.warmup_steps=1", "train.threads=1", "train.supervision_steps=3", "train.eval_batch_size=8",
]


def loss_at(lu: torch.Tensor, lc: torch.Tensor, y: torch.Tensor, w: float) -> torch.Tensor:
    logits = lu + w * (lc - lu)
    return -torch.log_softmax(logits, -1).gather(-1, y.unsqueeze(-1)).squeeze(-1)


@pytest.mark.parametrize("w", [0.0, 0.7, 1.0, 2.5])
def test_margin_is_minus_the_loss_slope_in_w(w):
    """Prop. 4.1: dL/dw = E_{pi_w}[dl] - dl[y], i.e. minus the advantage margin."""
    g = torch.Generator().manual_seed(int(10 * w))
    lu = torch.randn(4, 9, 5, generator=g, dtype=torch.float64) * 2
    lc = torch.randn(4, 9, 5, generator=g, dtype=torch.float64) * 2
    y = torch.randint(0, 5, (4, 9), generator=g)
    h = 1e-5
    slope = (loss_at(lu, lc, y, w + h) - loss_at(lu, lc, y, w - h)) / (2 * h)
    torch.testing.assert_close(advantage_margin(lu, lc, y, w), -slope, rtol=1e-6, atol=1e-8)


def test_margin_stats_skip_pad_cells():
    margin = torch.tensor([[1.0, -2.0, 5.0, 3.0]])
    labels = torch.tensor([[1, 2, 0, 1]])
    mean, positive = margin_stats(margin, labels)
    assert mean == pytest.approx(2.0 / 3)
    assert positive == pytest.approx(2.0 / 3)
    assert margin_stats(margin, torch.zeros_like(labels)) == (0.0, 0.0)


def test_parse_ws():
    assert parse_ws("0, 0.5,1") == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match="comma-separated"):
        parse_ws("0,a")


@pytest.fixture(scope="module")
def nqueens_small():
    return nqueens.generate(num_train=10, num_test=12, seed=0, augment=False)[1]


def test_sweep_at_w1_matches_evaluate(nqueens_small):
    torch.manual_seed(0)
    model = TRM(ModelConfig(hidden=16, layers=1, heads=2, puzzle_emb_len=1), 3, 64).eval()
    result = sweep_w(model, nqueens_small, [0.0, 1.0, 2.0], steps=3, batch_size=5)
    reference = evaluate(model, nqueens_small, 3, batch_size=5)
    row = result.row(1.0)
    assert row.valid_per_step == reference.valid_per_step
    assert row.hamming_per_step == pytest.approx(reference.hamming_per_step)
    assert [r.w for r in result.rows] == [0.0, 1.0, 2.0]
    assert all(0 <= p <= 1 for r in result.rows for p in r.positive_per_step)
    text = sweep_markdown(result)
    assert "best w" in text and "| 2 |" in text
    assert len(sweep_csv(result).strip().splitlines()) == 1 + 3 * 3


def test_sweep_votes_on_an_arc_test_source():
    """The ARC path: per-step numbers on the augmented copies plus pass@k from voting."""
    from dis_rl.puzzles.arc import ARCTask
    from dis_rl.puzzles.arc_augment import ARCAugmentedSource, plan_augmentations

    rng = np.random.default_rng(0)

    def grid(h, w):
        return rng.integers(0, 10, (h, w)).astype(np.uint8)

    tasks = [ARCTask(f"t{i}", ((grid(2, 3), grid(2, 3)),), ((grid(3, 2), grid(3, 2)),)) for i in range(2)]
    plan = plan_augmentations(tasks, num_aug=2, seed=0)
    source = ARCAugmentedSource(tasks, plan, [list(t.test) for t in tasks])
    torch.manual_seed(0)
    model = TRM(ModelConfig(hidden=16, layers=1, heads=2, puzzle_emb_len=1), 12, 900, plan.num_puzzle_ids).eval()
    result = sweep_w(model, source, [1.0, 2.0], steps=2, batch_size=4, max_aug=2)
    assert result.num_puzzles == 2 * 2 and result.domain == "arc"  # 2 pairs x the first 2 augmentations
    for row in result.rows:
        assert set(row.votes) == {1, 2}
        assert all(0 <= v <= 1 for v in row.votes.values())
    assert "pass@1" in sweep_markdown(result) and "pass@1" in sweep_csv(result)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from dis_rl.train import Trainer

    run = tmp_path_factory.mktemp("run")
    cfg = config_from_dict({}, TINY + ["train.p_uncond=0.5"])
    Trainer(cfg, run_dir=run, progress=False).run()
    return run


def test_sweep_show_and_export_commands(tiny_run, tmp_path, capsys, monkeypatch):
    from dis_rl.agents.cfg_agent import CFGAgent
    from dis_rl.cli import main

    monkeypatch.chdir(tmp_path)  # default outputs go under the working directory, never beside the checkpoint
    assert main(["sweep-w", str(tiny_run), "--w", "0,1,2", "--device", "cpu"]) == 0
    assert "best w" in capsys.readouterr().out
    folder = tmp_path / "runs" / "sweep_w" / tiny_run.name
    for name in ("sweep_w.md", "sweep_w.csv", "sweep_w.png"):
        assert (folder / name).stat().st_size > 0
    assert any((folder / "tb").iterdir())
    assert not (tiny_run / "sweep_w").exists()
    with pytest.raises(SystemExit) as info:  # argparse rejects a bad --w
        main(["sweep-w", str(tiny_run), "--w", "x"])
    assert info.value.code == 2

    png = tmp_path / "strip.png"
    assert main(["show", str(tiny_run), "--puzzle", "2", "--w", "1.5", "--out", str(png), "--device", "cpu"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any((tmp_path / "tb").iterdir())
    assert main(["show", str(tiny_run), "--puzzle", "99"]) == 2
    assert "0..7" in capsys.readouterr().err

    out = tmp_path / "slim"
    assert main(["export", str(tiny_run), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["meta.json", "model.safetensors"]
    assert sum(p.stat().st_size for p in out.iterdir()) <= 5 * 2**20
    meta = json.loads((out / "meta.json").read_text())
    for key in ("config", "seed", "commit", "training", "metrics"):
        assert key in meta
    assert meta["metrics"]["num_puzzles"] == 8 and "elapsed_s" in meta["training"]
    original, _, _ = load_model(str(tiny_run))
    slim, _, _ = load_model(str(out))
    for (name, a), b in zip(original.state_dict().items(), slim.state_dict().values()):
        assert torch.equal(a, b), name
    agent = CFGAgent(out, w=2.0)
    assert agent.steps == 3 and len(agent.refine(np.ones((2, 64), dtype=np.int64)).predictions) == 3


def test_demo_showcase(tiny_run, tmp_path):
    from dis_rl.commands import demo_showcase, export_checkpoint

    missing = demo_showcase(tmp_path / "nothing-here")
    assert "no reference checkpoint" in missing
    slim = export_checkpoint(tiny_run, tmp_path / "slim", evaluate_split=None)
    text = demo_showcase(slim, ws=(1.0, 2.0), max_tries=2)
    assert "best w" in text
    # The outcome the text reports is the agent's: the tiny model solves neither of the first two boards.
    import gymnasium as gym

    from dis_rl.agents.cfg_agent import CFGAgent

    best_w = float(re.search(r"best w: ([0-9.]+)", text).group(1))
    agent = CFGAgent(slim, w=best_w)
    env = gym.make("NQueensRefine-v0", data=agent.config.data, split="test")
    assert not any(agent.run_episode(env, seed=0, options={"puzzle": p})["solved"] for p in (0, 1))
    assert text.endswith(f"CFGAgent (w={best_w:g}) solved none of the first 2 test boards.")


def test_demo_showcase_shows_the_first_solved_board(tiny_run, tmp_path, monkeypatch):
    from dis_rl.agents.cfg_agent import CFGAgent
    from dis_rl.commands import demo_showcase, export_checkpoint

    run_episode = CFGAgent.run_episode

    def solves_board_one(self, env, seed=None, options=None, render=False):  # the real episode, judged solved on 1
        episode = run_episode(self, env, seed=seed, options=options, render=render)
        return {**episode, "solved": options["puzzle"] == 1}

    monkeypatch.setattr(CFGAgent, "run_episode", solves_board_one)
    slim = export_checkpoint(tiny_run, tmp_path / "slim", evaluate_split=None)
    text = demo_showcase(slim, ws=(1.0,), max_tries=3)
    head, board = text.split("CFGAgent (w=1) solving test board 1 in ")[1].split(":\n\n")
    steps, rewards = re.fullmatch(r"(\d+) step\(s\) \(rewards (.*)\)", head).groups()
    assert len(rewards.split(", ")) == int(steps)  # the episode's own rewards, one per step
    assert len(board.splitlines()) >= 8  # the rendered 8x8 board of the last frame


def test_p_uncond_changes_training_and_is_validated(tmp_path):
    from dis_rl.train import Trainer

    def weights(p: float) -> dict[str, torch.Tensor]:
        cfg = config_from_dict({}, TINY + ["train.max_batches=1", f"train.p_uncond={p}"])
        trainer = Trainer(cfg, run_dir=tmp_path / str(p), progress=False)
        trainer.method.train_round()
        return {k: v.clone() for k, v in trainer.model.state_dict().items()}

    plain, again, dropped = weights(0.0), weights(0.0), weights(1.0)
    assert all(torch.equal(plain[k], again[k]) for k in plain)
    assert any(not torch.equal(plain[k], dropped[k]) for k in plain)
    with pytest.raises(ConfigError, match="p_uncond"):
        config_from_dict({}, ["train.p_uncond=1.5"])


def test_load_run_is_the_one_checkpoint_path(tiny_run):
    from dis_rl.data import build_data
    from dis_rl.loading import load_run

    run = load_run(tiny_run, "test", "cpu")
    _, test = build_data(run.cfg.data)
    assert run.split == "test" and not run.model.training and run.device.type == "cpu"
    assert (run.puzzles.inputs == test.inputs).all() and (run.puzzles.labels == test.labels).all()
    with pytest.raises(ValueError, match="split must be one of"):  # eval, sweep-w, show and vote all refuse it
        load_run(tiny_run, "validation", "cpu")
