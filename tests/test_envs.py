"""The scalar refinement envs: Gymnasium's checker, episode mechanics, errors, properties, SB3."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dis_rl import envs

MODULES = {"NQueensRefine-v0": "dis_rl.envs.nqueens", "SudokuRefine-v0": "dis_rl.envs.sudoku",
           "ARCRefine-v0": "dis_rl.envs.arc"}
# Small puzzle sources so that tests stay fast (the defaults load or generate full sets).
SMALL = {
    "NQueensRefine-v0": {"num_train": 50, "num_test": 10},
    "SudokuRefine-v0": {"num_train": 8, "num_test": 4},
    "ARCRefine-v0": {},
}
ENV_IDS = [
    pytest.param(i, marks=pytest.mark.skipif(importlib.util.find_spec(m) is None, reason=f"{m} not built"))
    for i, m in MODULES.items()
]
MODES = ["refine", "edit"]


def make(env_id: str, **kwargs) -> gym.Env:
    return gym.make(env_id, **{**SMALL[env_id], **kwargs})


def label_of(env, row: int | None = None) -> np.ndarray:
    """The hidden label of the current episode (of sub-env ``row`` of a vector env), for tests. An
    evaluated split's env holds no label: it is read from a twin env made with label feedback."""
    env = env.unwrapped
    state = env.state
    split, index = state.splits[row or 0], int(state.index[row or 0])
    if split not in env.task.scorers:
        return env.task.sets[split].labels[index]
    return labels_by_name(env.spec, split).get(env.task.names[split][index], np.zeros(env.task.seq_len, np.uint8))


def labels_by_name(spec, split: str) -> dict[str, np.ndarray]:
    """Puzzle name -> label of ``split`` for the env of ``spec`` (only tests read labels this way)."""
    kwargs = {k: v for k, v in spec.kwargs.items() if k not in ("num_envs", "vectorization_mode")}
    twin = gym.make(spec.id, **{**kwargs, "protocol": "label_feedback", "allow_test_label_feedback": True}).unwrapped
    return dict(zip(twin.task.names[split], twin.task.sets[split].labels))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_check_env(env_id, mode):
    for render_mode in ("ansi", "rgb_array"):
        env = make(env_id, action_mode=mode, render_mode=render_mode)
        check_env(env.unwrapped, skip_render_check=False)


def test_registered_on_import_and_by_module_prefix():
    assert set(envs.ENV_IDS) <= set(gym.registry)
    code = "import gymnasium as gym; gym.make('dis_rl:NQueensRefine-v0', num_train=20, num_test=5).reset()"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registered_on_import_dis_rl():
    code = "import dis_rl, gymnasium as gym; assert 'ARCRefine-v0' in gym.registry"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_label_solves_in_one_refine_step(env_id):
    env = make(env_id)
    obs, info = env.reset(seed=0)
    task = env.unwrapped.task
    label = label_of(env).astype(np.int64)
    d0, length = info["distance"], task.domain.scored_cells(label[None])[0]
    obs, reward, terminated, truncated, info = env.step(label)
    assert terminated and not truncated and info["solved"] and info["distance"] == 0
    assert reward == pytest.approx(d0 / length + task.success_bonus)
    with pytest.raises(ResetNeeded):
        env.step(label)


def test_nqueens_edit_mode_masks_and_paints():
    env = make("NQueensRefine-v0", action_mode="edit", start="blank", protocol="label_feedback",
               allow_test_label_feedback=True)
    obs, info = env.reset(seed=1, options={"split": "test", "puzzle": 2})
    assert info["split"] == "test" and info["puzzle_index"] == 2
    masks = env.unwrapped.action_masks().reshape(64, 3)
    givens = obs["input"] == 2
    assert (masks[givens] == [False, False, True]).all()  # a given cell may only hold its queen
    assert not masks[:, 0].any() and masks[~givens, 1:].all()
    assert (obs["answer"] == 1).all()  # blank start: an empty board
    cell = int(np.flatnonzero(givens)[0])
    obs, *_ = env.step(cell * 3 + 1)  # masked (erase a given): legal, changes nothing
    assert (obs["answer"] == 1).all()
    label = label_of(env)
    for c in np.flatnonzero(label == 2):
        obs, r, terminated, truncated, info = env.step(int(c) * 3 + 2)
    assert terminated and info["solved"] and info["step"] == 9


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_input_raises_clear_errors(env_id):
    env = make(env_id)
    env.reset(seed=0)
    cells = env.unwrapped.task.seq_len
    for bad in (np.zeros(cells - 1, int), np.zeros(cells, float), np.full(cells, 99), "x"):
        with pytest.raises(ValueError, match="expected"):
            env.unwrapped.step(bad)
    with pytest.raises(ValueError, match="puzzle_names"):
        env.reset(options={"puzzle": "no-such-puzzle"})
    with pytest.raises(ValueError, match="out of range"):
        env.reset(options={"puzzle": 10**9})
    with pytest.raises(ValueError, match="split"):
        env.reset(options={"split": "validation"})
    with pytest.raises(ValueError, match="action_mode"):
        make(env_id, action_mode="paint")
    edit = make(env_id, action_mode="edit")
    edit.reset(seed=0)
    for bad in (-1, cells * env.unwrapped.task.vocab, np.zeros(2, int), 1.5):
        with pytest.raises(ValueError, match="expected"):
            edit.unwrapped.step(bad)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reset_is_deterministic_and_renders(env_id):
    env = make(env_id, render_mode="rgb_array")
    a, info_a = env.reset(seed=7)
    b, info_b = env.reset(seed=7)
    assert info_a == info_b and all((a[k] == b[k]).all() for k in a)
    image = env.render()
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    text = make(env_id, render_mode="ansi")
    text.reset(seed=7)
    assert isinstance(text.render(), str) and "distance" in text.render()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    mode=st.sampled_from(MODES),
    start=st.sampled_from(["input", "blank"]),
    kinds=st.lists(st.sampled_from(["random", "label", "input", "bad"]), min_size=1, max_size=12),
)
def test_random_episodes_keep_their_promises(seed, mode, start, kinds):
    env = make("NQueensRefine-v0", action_mode=mode, start=start, step_penalty=0.01)
    task = env.unwrapped.task
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    d0, total, steps = info["distance"], 0.0, 0
    for kind in kinds:
        if kind == "bad":
            with pytest.raises(ValueError):
                env.step(np.full(3, -1))
            continue
        if kind == "random":
            action = rng.integers(0, task.vocab, size=task.seq_len) if mode == "refine" else rng.integers(
                task.seq_len * task.vocab
            )
        else:
            board = label_of(env) if kind == "label" else obs["input"]
            if mode == "refine":
                action = board.astype(np.int64)
            else:  # paint the first cell where the answer differs from the board
                diff = np.flatnonzero(obs["answer"] != board)
                cell = int(diff[0]) if len(diff) else 0
                action = cell * task.vocab + int(board[cell])
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        assert env.observation_space.contains(obs)
        assert -1 - task.step_penalty <= reward <= 1 + task.success_bonus
        total += reward
        if terminated or truncated:
            break
    expected = (d0 - info["distance"]) / 64 + task.success_bonus * info["solved"] - steps * task.step_penalty
    assert total == pytest.approx(expected)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_ppo_and_maskable_ppo_learn(env_id):
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3 import PPO

    env = make(env_id, action_mode="edit", max_steps=16)
    small = dict(n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    for algo in (PPO, MaskablePPO):
        model = algo("MultiInputPolicy", env, **small)
        before = [p.detach().clone() for p in model.policy.parameters()]
        model.learn(64)
        assert model.num_timesteps == 64, algo.__name__
        # two rollouts of 32 steps, each followed by a gradient step that moves the policy
        assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters())), algo.__name__
        obs, _ = env.reset(seed=1)
        action, _ = model.predict(obs, deterministic=True)
        assert env.action_space.contains(action.astype(env.action_space.dtype)), algo.__name__


def test_sudoku_from_csv_reports_bad_rows(tmp_path):
    pytest.importorskip("dis_rl.envs.sudoku")
    from dis_rl.puzzles import sudoku

    good = sudoku.generate(1, seed=5, keep_fraction=1.0)
    question = "".join("." if t == 1 else str(t - 1) for t in good.inputs[0])
    answer = "".join(str(t - 1) for t in good.labels[0])
    path = tmp_path / "puzzles.csv"
    path.write_text(f"source,question,answer,rating\nx,{question},{answer},3\nx,{question[:-1]},{answer},3\n")
    with pytest.warns(UserWarning, match="line 3"):  # one valid row: it is both splits only when asked
        env = gym.make("SudokuRefine-v0", csv_path=path, test_csv_path=path, num_test=1)
    obs, info = env.reset(seed=0)
    assert info["distance"] > 0 and (obs["input"] == good.inputs[0]).all()
    with pytest.raises(ValueError):
        gym.make("SudokuRefine-v0", csv_path=path, strict=True)
    with pytest.raises(ValueError, match="cannot hold"):  # train and test never share rows by default
        gym.make("SudokuRefine-v0", csv_path=path)


def _arc_folder(root, shapes):
    """An ARC source with ``training/`` and ``evaluation/`` tasks whose answers have the given shapes."""
    import json

    for split in ("training", "evaluation"):
        (root / split).mkdir(parents=True)
        for i, (h, w) in enumerate(shapes):
            pair = {"input": [[1] * 3] * 2, "output": [[(r + c) % 10 for c in range(w)] for r in range(h)]}
            (root / split / f"t{i}.json").write_text(json.dumps({"train": [pair, pair], "test": [pair]}))
    return root


ANSWER_SHAPES = [(1, 1), (2, 3), (7, 2), (30, 30), (30, 1), (1, 30)]


@pytest.mark.parametrize("start", ["input", "blank"])
def test_arc_renders_every_answer_size_in_every_mode(tmp_path, start):
    source = _arc_folder(tmp_path, ANSWER_SHAPES)
    for render_mode in ("ansi", "text", "rgb_array"):
        env = gym.make("ARCRefine-v0", source=source, start=start, render_mode=render_mode)
        check_env(env.unwrapped, skip_render_check=False)
        for i in range(len(ANSWER_SHAPES)):
            env.reset(options={"puzzle": i})
            for answer in (label_of(env), np.zeros(900), np.full(900, 5), np.arange(900) % 12):
                env.unwrapped.state.answers = answer.astype(np.uint8)[None]  # every answer size, well formed or not
                frame = env.render()
                if render_mode == "rgb_array":
                    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
                else:
                    assert isinstance(frame, str) and "answer" in frame


def test_env_without_usable_puzzles_fails_at_construction(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "hidden.json").write_text('{"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]]}]}')
    with pytest.raises(ValueError, match="no usable puzzles"):
        gym.make("ARCRefine-v0", source=tmp_path)
