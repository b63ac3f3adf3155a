"""The CFG policy agent: guidance extremes, sampling, and env episodes equal to the batched API."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from dis_rl import envs  # noqa: F401  (registers the env ids)
from dis_rl.agents.cfg_agent import CFGAgent
from dis_rl.model.trm import TRM, ModelConfig

torch.set_num_threads(1)


def tiny_model(vocab: int = 3, seq_len: int = 64, seed: int = 0, puzzle_ids: int = 1) -> TRM:
    torch.manual_seed(seed)
    cfg = ModelConfig(hidden=16, layers=1, heads=2, puzzle_emb_len=1, step_embedding=8)
    model = TRM(cfg, vocab, seq_len, puzzle_ids).eval()
    # Untrained heads are nearly flat; larger weights give decisive, step-dependent predictions.
    with torch.no_grad():
        model.head.weight.mul_(8.0)
    return model


def plain_decoding(model: TRM, inputs: torch.Tensor, steps: int) -> tuple[list, list, list]:
    """An independent reference: the model's steps decoded from logits_after (no guidance code)."""
    carry = model.initial_carry(inputs.shape[0])
    before, after, preds = [], [], []
    with torch.no_grad():
        for s in range(1, steps + 1):
            out = model.step(carry, model.embed(inputs, None, s))
            carry = out.carry
            before.append(out.logits_before)
            after.append(out.logits_after)
            preds.append(out.logits_after.argmax(-1))
    return before, after, preds


@pytest.fixture(scope="module")
def model() -> TRM:
    return tiny_model()


@pytest.fixture(scope="module")
def inputs() -> torch.Tensor:
    return torch.randint(1, 3, (5, 64), generator=torch.Generator().manual_seed(1))


def test_w1_is_plain_decoding_bit_for_bit(model, inputs):
    before, after, preds = plain_decoding(model, inputs, 6)
    out = CFGAgent(model, w=1.0, steps=6).refine(inputs)
    for s in range(6):
        assert torch.equal(out.guided[s], after[s])
        assert torch.equal(out.logits_before[s], before[s])
        assert torch.equal(out.predictions[s], preds[s])


def test_w0_decodes_the_pre_step_readout(model, inputs):
    before, _, _ = plain_decoding(model, inputs, 6)
    out = CFGAgent(model, w=0.0, steps=6).refine(inputs)
    for s in range(6):
        assert torch.equal(out.guided[s], before[s])
        assert torch.equal(out.predictions[s], before[s].argmax(-1))


def test_w_mixes_and_schedule_applies_per_step(model, inputs):
    before, after, _ = plain_decoding(model, inputs, 3)
    out = CFGAgent(model, w_schedule=[1.0, 0.0, 2.5]).refine(inputs)
    assert torch.equal(out.guided[0], after[0])
    assert torch.equal(out.guided[1], before[1])
    torch.testing.assert_close(out.guided[2], before[2] + 2.5 * (after[2] - before[2]))
    with pytest.raises(ValueError, match="schedule"):
        CFGAgent(model, steps=4, w_schedule=[1.0, 2.0])


def test_sampling_is_seeded_per_cell(model, inputs):
    a = CFGAgent(model, temperature=50.0, steps=3, seed=5).refine(inputs).predictions
    b = CFGAgent(model, temperature=50.0, steps=3, seed=5).refine(inputs).predictions
    c = CFGAgent(model, temperature=50.0, steps=3, seed=6).refine(inputs).predictions
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert any(not torch.equal(x, y) for x, y in zip(a, c))
    assert all(int(p.min()) >= 0 and int(p.max()) < 3 for p in a)
    with pytest.raises(ValueError, match="temperature"):
        CFGAgent(model, temperature=-1.0)


def episode_matches_batch(agent: CFGAgent, env: gym.Env, puzzles: list[int]) -> None:
    task = env.unwrapped.task
    batch = agent.refine(task.test.inputs[puzzles].astype(np.int64))
    for row, puzzle in enumerate(puzzles):
        episode = agent.run_episode(env, seed=0, options={"split": "test", "puzzle": puzzle})
        assert 1 <= episode["steps"] <= env.unwrapped.max_steps
        for s, answer in enumerate(episode["answers"]):  # past the agent's schedule the answer stays
            np.testing.assert_array_equal(answer, batch.predictions[min(s, agent.steps - 1)][row].numpy())
        inputs, labels = task.test.inputs[[puzzle]], task.test.labels[[puzzle]]
        solved = task.domain.verify(inputs, episode["answers"][-1][None], labels)
        assert episode["solved"] == bool(solved[0])


@pytest.mark.parametrize("step_input", ["input", "prediction"])
@pytest.mark.parametrize("w", [1.0, 2.0])
def test_agent_drives_nqueens_env_like_the_batched_api(model, step_input, w):
    env = gym.make("NQueensRefine-v0", num_train=20, num_test=6)
    episode_matches_batch(CFGAgent(model, w=w, steps=6, step_input=step_input), env, [0, 3, 5])


def test_agent_drives_sudoku_env():
    env = gym.make("SudokuRefine-v0", num_train=4, num_test=3)
    episode_matches_batch(CFGAgent(tiny_model(vocab=11, seq_len=81), w=1.5, steps=6), env, [0, 2])


def test_agent_drives_arc_env():
    env = gym.make("ARCRefine-v0")
    episode_matches_batch(CFGAgent(tiny_model(vocab=12, seq_len=900), w=1.0, steps=2), env, [0])


def test_vector_env_rows_follow_their_own_episodes(model):
    vec = gym.make_vec("NQueensRefine-v0", num_envs=3, vectorization_mode="vector_entry_point",
                       num_train=20, num_test=6, split="test")
    agent = CFGAgent(model, w=1.0, steps=6)
    obs, _ = vec.reset(seed=0, options={"puzzle": [1, 2, 4]})
    batch = agent.refine(obs["input"].astype(np.int64))
    alive = np.ones(3, dtype=bool)
    for s in range(6):
        obs, _, term, trunc, _ = vec.step(agent.predict(obs))
        for i in np.flatnonzero(alive):
            np.testing.assert_array_equal(obs["answer"][i], batch.predictions[s][i].numpy())
        alive &= ~(term | trunc)
    obs, *_ = vec.step(agent.predict(obs))  # autoreset: every row starts a new episode at step 0
    assert (obs["step"] == 0).all()
    vec.close()


def test_carry_resets_on_new_episode_and_rejects_out_of_order_steps(model):
    env = gym.make("NQueensRefine-v0", num_train=20, num_test=6)
    agent = CFGAgent(model, steps=6)
    first = agent.run_episode(env, seed=0, options={"split": "test", "puzzle": 2})
    agent.run_episode(env, seed=0, options={"split": "test", "puzzle": 4})
    again = agent.run_episode(env, seed=0, options={"split": "test", "puzzle": 2})
    assert all(np.array_equal(a, b) for a, b in zip(first["answers"], again["answers"]))
    obs, _ = env.reset(seed=0)
    agent.reset()
    with pytest.raises(ValueError, match="step 0"):
        agent.predict({**obs, "step": np.array([3])})
    with pytest.raises(ValueError, match="refine mode"):
        agent.predict({"input": obs["input"]})
    with pytest.raises(ValueError, match="cells"):
        agent.predict({"input": np.ones(10, np.uint8), "answer": np.ones(10, np.uint8), "step": np.array([0])})
    with pytest.raises(TypeError, match="TRM or a checkpoint"):
        CFGAgent(42)
