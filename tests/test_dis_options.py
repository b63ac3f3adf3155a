"""The DIS ablation options train end to end and do what their keys say."""

import pytest
import torch

from dis_rl.config import ConfigError, config_from_dict
from dis_rl.model.trm import TRM, ModelConfig
from dis_rl.train import Trainer


@pytest.mark.parametrize("options", [
    ["train.targets=solver"],
    ["train.path_cells=canvas"],
    ["train.step_weights=uniform", "train.dis_loss=dual"],
    ["model.step_index=continuous", "model.step_embedding=7"],
    ["train.supervision_steps=8", "model.step_embedding=9"],
])
def test_option_trains(options, tiny_overrides):
    cfg = config_from_dict({}, tiny_overrides + ["train.max_batches=2", "train.checkpoint_every=0", *options])
    trainer = Trainer(cfg, progress=False)
    result = trainer.run()
    assert len(result.hamming_per_step) == cfg.train.supervision_steps
    schedule = 2 * 16 * cfg.train.supervision_steps * 3
    # answer_target nearest (the default) adds one counted no-grad rollout of the multi-answer boards
    rollouts = trainer.network_calls - schedule
    assert 0 <= rollouts <= schedule and rollouts % (cfg.train.supervision_steps * 3) == 0


def test_uniform_weights_and_dual_loss_change_the_loss(tiny_overrides):
    def first_losses(*options):
        cfg = config_from_dict({}, tiny_overrides + ["train.max_batches=1", "train.checkpoint_every=0", *options])
        trainer = Trainer(cfg, progress=False)
        return trainer.method.train_round().losses

    linear, uniform, dual = first_losses(), first_losses("train.step_weights=uniform"), first_losses(
        "train.dis_loss=dual")
    assert uniform[0] == pytest.approx(6 * linear[0], rel=1e-5)  # w_1 = 1 instead of 1/6, same first step
    assert dual[0] > linear[0]  # the anchor term adds CE(l_u^1, y_0)


def test_continuous_step_index_embeds_t():
    model = TRM(ModelConfig(hidden=16, layers=1, heads=2, step_embedding=7, step_index="continuous"), 3, 4)
    assert model.step_emb is None and model.step_time is not None
    x = torch.ones(1, 4, dtype=torch.long)
    assert not torch.allclose(model.embed(x, None, 1), model.embed(x, None, 6))
    with pytest.raises(ValueError, match="outside the continuous step range"):
        model.embed(x, None, 7)


@pytest.mark.parametrize("options, message", [
    (["model.step_index=continuous"], "supervision_steps \\+ 1"),
    (["train.supervision_steps=8"], "must exceed train.supervision_steps"),
    (["train.targets=mask", "train.path_cells=canvas"], "needs train.targets path"),
    (["train.step_weights=cosine"], "train.step_weights must be one of"),
    (["train.dis_loss=triple"], "train.dis_loss must be one of"),
])
def test_bad_option_combinations_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({}, options)
