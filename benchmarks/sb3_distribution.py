"""``PPO.learn`` time with SB3's stock MultiCategorical distribution vs the batched one, 900 cells.

The same policy (`dis_rl.agents.sb3_policy.TRMActorCriticPolicy`: token embeddings, optional backbone
blocks, per-cell heads) on a 900-cell refine env (``MultiDiscrete([12] * 900)``), once with
``batched_distribution=False`` (SB3's stock distribution: one
``Categorical`` per cell, looped in Python) and once with the batched one. Only the distribution
differs, so the ratio is the distribution's cost. The default env is synthetic (ARC-sized
observations ``input``/``answer``/``step``, reward = share of cells matching a hidden target) so
that env time does not blur the comparison; ``--env ARCRefine-v0`` runs the real ARC env
(vector-native, through `SB3VecEnv`; its distance computation and demonstration grids add a fixed
cost to both runs). By default the policy has no backbone blocks
(``--layers 0``), which isolates the distribution; ``--layers 1`` adds one attention block, whose
cost is the same in both runs and so shrinks the ratio.

    PYTHONPATH=. python benchmarks/sb3_distribution.py            # learn(512), threads 1
    PYTHONPATH=. python benchmarks/sb3_distribution.py --steps 256 --layers 1

Ends with the line ``batched distribution: Nx faster`` (ratio of CPU seconds of the process, so that
other jobs on a shared machine do not skew it; the wall-clock ratio is printed above it).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv

from dis_rl import envs  # noqa: F401  (registers the env ids)
from dis_rl.agents.sb3_policy import TRMActorCriticPolicy
from dis_rl.agents.sb3_vecenv import SB3VecEnv


class SyntheticRefineVecEnv(VecEnv):
    """``num_envs`` episodes of 6 steps: write a 900-cell answer (12 tokens); reward = share of cells
    equal to the episode's hidden target. Numpy only, a few microseconds per step."""

    def __init__(self, num_envs: int, cells: int = 900, vocab: int = 12, steps: int = 6, seed: int = 0) -> None:
        tokens = spaces.Box(0, vocab - 1, shape=(cells,), dtype=np.uint8)
        obs_space = spaces.Dict({"input": tokens, "answer": tokens,
                                 "step": spaces.Box(0, steps, shape=(1,), dtype=np.int64)})
        super().__init__(num_envs, obs_space, spaces.MultiDiscrete(np.full(cells, vocab)))
        self.rng = np.random.default_rng(seed)
        self.cells, self.vocab, self.steps = cells, vocab, steps
        self.inputs = self.rng.integers(0, vocab, (num_envs, cells), dtype=np.uint8)
        self.target = self.rng.integers(0, vocab, (num_envs, cells), dtype=np.uint8)
        self.answer = self.inputs.copy()
        self.t = np.zeros(num_envs, dtype=np.int64)

    def _obs(self) -> dict[str, np.ndarray]:
        return {"input": self.inputs.copy(), "answer": self.answer.copy(), "step": self.t[:, None].copy()}

    def reset(self):
        self.t[:] = 0
        self.answer = self.inputs.copy()
        return self._obs()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self):
        self.answer = self._actions.astype(np.uint8)
        self.t += 1
        rewards = (self.answer == self.target).mean(axis=1).astype(np.float32)
        dones = self.t >= self.steps
        infos = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = {k: v[i] for k, v in self._obs().items()}
            infos[i]["TimeLimit.truncated"] = True
            self.t[i] = 0
            self.answer[i] = self.inputs[i]
        return self._obs(), rewards, dones, infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name, indices=None):
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name, value, indices=None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name, *args, indices=None, **kwargs):
        return [getattr(self, method_name)(*args, **kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False for _ in self._get_indices(indices)]


def make_venv(args: argparse.Namespace) -> VecEnv:
    if args.env == "synthetic":
        return SyntheticRefineVecEnv(args.num_envs)
    return SB3VecEnv(gym.make_vec(args.env, num_envs=args.num_envs))


def learn_seconds(batched: bool, args: argparse.Namespace) -> tuple[float, float]:
    """Wall and CPU seconds of ``PPO.learn`` (CPU time is what a shared machine cannot inflate)."""
    venv = make_venv(args)
    extractor = dict(hidden=args.hidden, layers=args.layers, heads=2)
    model = PPO(
        TRMActorCriticPolicy, venv, n_steps=args.steps // args.num_envs, batch_size=64, n_epochs=args.epochs,
        seed=0, device="cpu",
        policy_kwargs=dict(batched_distribution=batched, features_extractor_kwargs=extractor),
    )
    start, cpu = time.perf_counter(), time.process_time()
    model.learn(args.steps)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    venv.close()
    return seconds, cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="synthetic",
                        help="'synthetic' (900 cells, 12 tokens) or a refine-mode env id, e.g. ARCRefine-v0")
    parser.add_argument("--steps", type=int, default=512, help="PPO.learn(total_timesteps)")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=10, help="PPO n_epochs (SB3 default 10)")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--layers", type=int, default=0, help="backbone blocks in the features extractor")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.env}: PPO.learn({args.steps}), {args.num_envs} envs, n_epochs {args.epochs}, batch 64, "
          f"hidden {args.hidden}, {args.layers} backbone block(s), {args.threads} thread(s)")
    batched, batched_cpu = learn_seconds(True, args)
    print(f"batched distribution:   {batched:6.2f} s wall, {batched_cpu:6.2f} s CPU")
    stock, stock_cpu = learn_seconds(False, args)
    print(f"stock MultiCategorical: {stock:6.2f} s wall, {stock_cpu:6.2f} s CPU")
    print(f"wall-clock ratio {stock / batched:.1f}x (inflated or deflated when other processes share the cores)")
    print(f"batched distribution: {stock_cpu / batched_cpu:.1f}x faster")


if __name__ == "__main__":
    main()
