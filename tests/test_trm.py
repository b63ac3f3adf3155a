"""TRM baseline: halting targets, exploration, slot refilling, call counting and exact resume."""

import numpy as np
import pytest
import torch

from dis_rl.config import ConfigError, config_from_dict
from dis_rl.train import Trainer
from dis_rl.train.stream import ExampleStream
from dis_rl.train.trm import draw_min_steps, exact_answers, halt_decision

torch.set_num_threads(1)


def tiny(method="trm", **train):
    model = {"hidden": 16, "layers": 1, "heads": 1, "cycles": 2, "latent_steps": 1, "puzzle_emb_len": 1,
             "step_embedding": 0 if method == "trm" else 8, "halting_head": method == "trm"}
    tr = {"method": method, "supervision_steps": 4 if method == "trm" else 3, "batch_size": 8, "max_batches": 4,
          "eval_every": 0, "checkpoint_every": 0, "eval_batch_size": 16, "threads": 1, "warmup_steps": 2,
          "log_every": 1, **train}
    data = {"domain": "nqueens", "num_train": 20, "num_test": 8}
    return config_from_dict({"name": "tiny", "data": data, "model": model, "train": tr})


def test_halting_target_is_exact_answer_on_non_pad_cells():
    labels = torch.tensor([[1, 2, 0], [1, 2, 0], [2, 2, 1]])
    pred = torch.tensor([[1, 2, 2], [1, 1, 0], [2, 2, 1]])  # row 0 wrong only on a PAD cell
    logits = torch.nn.functional.one_hot(pred, 3).float()
    assert exact_answers(logits, labels).tolist() == [True, False, True]


def test_halt_decision_positive_logit_after_minimum_or_at_max():
    q = torch.tensor([1.0, 1.0, -1.0, -1.0, 0.0])
    steps = torch.tensor([1, 2, 3, 4, 2])
    min_steps = torch.tensor([1, 3, 1, 1, 1])
    # slot 1 is held by exploration (min 3), slot 3 halts at N_sup, slot 4: q must be > 0
    assert halt_decision(q, steps, min_steps, max_steps=4).tolist() == [True, False, False, True, False]


def test_exploration_draws_minimum_2_to_nsup_with_its_probability():
    g = torch.Generator().manual_seed(0)
    assert (draw_min_steps(100, 0.0, 16, g) == 1).all()
    always = draw_min_steps(2000, 1.0, 16, g)
    assert always.min() == 2 and always.max() == 16
    mixed = draw_min_steps(20000, 0.1, 16, g)
    assert 0.08 < (mixed > 1).float().mean() < 0.12
    assert (draw_min_steps(10, 1.0, 1, g) == 1).all()  # N_sup 1: nothing to explore


def test_trm_needs_halting_head_and_no_step_embedding():
    with pytest.raises(ConfigError, match="halting_head"):
        config_from_dict({"model": {"halting_head": False, "step_embedding": 0}, "train": {"method": "trm"}})
    with pytest.raises(ConfigError, match="step_embedding"):
        config_from_dict({"model": {"halting_head": True, "step_embedding": 20}, "train": {"method": "trm"}})


@pytest.mark.parametrize("key, value", [("p_uncond", 0.2), ("targets", "mask")])
def test_trm_refuses_dis_only_keys_it_would_ignore(key, value):
    with pytest.raises(ConfigError, match=f"train.{key} is read only by train.method dis"):
        tiny(**{key: value})


def test_dis_refuses_trm_only_keys_it_would_ignore():
    with pytest.raises(ConfigError, match="train.halt_loss_weight is read only by train.method trm"):
        tiny("dis", halt_loss_weight=1.0)


def test_trm_returns_its_scalars_and_the_loop_logs_them(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer = Trainer(tiny(max_batches=2), tmp_path, progress=False)
    stats = trainer.method.train_round()
    assert set(stats.scalars) == {"trm/ce", "trm/halt_bce", "trm/train_exact", "trm/halt_accuracy",
                                  "trm/halted_slots", "trm/realised_calls_per_example"}
    assert stats.losses[0] == pytest.approx(stats.scalars["trm/ce"] + 0.5 * stats.scalars["trm/halt_bce"], rel=1e-5)
    trainer = Trainer(tiny(max_batches=2), tmp_path / "run", progress=False)
    trainer.run()
    events = EventAccumulator(str(tmp_path / "run" / "tb")).Reload()
    assert [e.step for e in events.Scalars("trm/halt_bce")] == [1, 2]  # log_every 1: batches 1 and 2


def test_refill_keeps_batch_full_with_new_examples_and_fresh_carry(tmp_path):
    trainer = Trainer(tiny(halt_exploration_prob=0.5), tmp_path, progress=False)
    m = trainer.method
    with torch.no_grad():  # q > 0 everywhere: slots halt as soon as their exploration minimum allows
        trainer.model.halt_head.bias.fill_(5.0)
    stats = m.train_round()
    assert stats.examples == 8 and m.data["inputs"].shape[0] == 8
    seen = 8
    init = trainer.model.initial_carry(1)
    for _ in range(6):
        halted = m.halted.clone()
        assert 0 < int(halted.sum()) < 8 or m.min_steps.max() == 1  # a mix thanks to exploration
        before = {k: v.clone() for k, v in m.data.items()}
        y_before = m.carry.y.clone()
        expected = ExampleStream(trainer.train_source, trainer.cfg.train.seed)
        expected.load_state(trainer.stream.state())
        new = expected.next(int(halted.sum()))
        stats = m.train_round()  # refills first, then trains one step
        assert stats.examples == int(halted.sum())
        seen += stats.examples
        for key in before:
            assert m.data[key].shape[0] == 8
            assert torch.equal(m.data[key][halted].cpu(), torch.from_numpy(new[key]))
            assert torch.equal(m.data[key][~halted], before[key][~halted])
        # refilled slots have had exactly one step since a fresh carry; the others kept counting
        assert (m.steps[halted] == 1).all()
        assert not torch.equal(y_before[halted], m.carry.y[halted])
    assert seen == trainer.stream.epoch * len(trainer.train_source) + trainer.stream.offset
    # a fresh carry is the model's initial state, never a halted example's old carry
    m.halted[:] = False
    m.halted[0] = True
    m.refill()
    assert torch.equal(m.carry.y[0], init.y[0]) and torch.equal(m.carry.z[0], init.z[0])
    assert m.steps[0] == 0


def test_network_calls_dis_schedule_and_trm_realised(tmp_path):
    # The schedule alone (answer_target nearest adds counted rollouts: tests/test_answers.py).
    dis = Trainer(tiny("dis", max_batches=2, answer_target="label"), tmp_path / "dis", progress=False)
    dis.run()
    cfg = dis.cfg
    n_sup, t, n = cfg.train.supervision_steps, cfg.model.cycles, cfg.model.latent_steps
    assert dis.network_calls == dis.examples * n_sup * t * (n + 1)

    trm = Trainer(tiny(max_batches=7, halt_exploration_prob=0.5), tmp_path / "trm", progress=False)
    with torch.no_grad():
        trm.model.halt_head.bias.fill_(5.0)  # make halting happen at varied steps
    trm.run()
    m, mc = trm.method, trm.cfg.model
    per_step = mc.cycles * (mc.latent_steps + 1)
    assert m.finished_examples > 0
    assert trm.network_calls == m.total_steps() * per_step == 7 * 8 * per_step
    assert m.realised_calls_per_example() < m.calls_per_example()
    assert (m.steps <= trm.cfg.train.supervision_steps).all()


def test_trm_resume_is_exact(tmp_path):
    straight = Trainer(tiny(max_batches=6, halt_exploration_prob=0.5), tmp_path / "a", progress=False)
    straight.run()
    first = Trainer(tiny(max_batches=3, halt_exploration_prob=0.5), tmp_path / "b", progress=False)
    first.run()
    resumed = Trainer(tiny(max_batches=6, halt_exploration_prob=0.5), tmp_path / "b", progress=False, resume=True,
                      resume_named=("train.max_batches",))
    resumed.run()
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    for key, value in straight.method.state_tensors().items():
        assert torch.equal(value, resumed.method.state_tensors()[key]), key
    assert straight.network_calls == resumed.network_calls and straight.examples == resumed.examples


def test_evaluation_runs_all_steps_without_step_embedding(tmp_path):
    trainer = Trainer(tiny(), tmp_path, progress=False)
    result = trainer.evaluate()
    assert len(result.valid_per_step) == 4 and np.isfinite(result.hamming_per_step).all()
