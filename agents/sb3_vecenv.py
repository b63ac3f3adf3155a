"""Present a Gymnasium vector env (e.g. the vector-native refinement envs) as a stable-baselines3 VecEnv.

This lives in `agents/` rather than `envs/`: importing stable-baselines3 imports torch, and `envs`
stays numpy-only. SB3 expects same-step autoreset (the returned observation of a finished sub-env
is already the next episode's first; the last one is in ``info["terminal_observation"]``), so
after each step the finished sub-envs are reset at once through Gymnasium's ``reset_mask``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn


class SB3VecEnv(VecEnv):
    """``SB3VecEnv(gym.make_vec("NQueensRefine-v0", num_envs=64, action_mode="edit"))``.

    The wrapped env must support ``reset(options={"reset_mask": mask})`` (every vector-native env
    of `envs` does). ``env_method("action_masks")`` serves sb3-contrib's MaskablePPO.
    """

    def __init__(self, venv: gym.vector.VectorEnv) -> None:
        self.venv = venv
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    def reset(self) -> VecEnvObs:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        options = self._options[0] if self._options and self._options[0] else None
        obs, _ = self.venv.reset(seed=seeds, options=options)
        self._reset_seeds()
        self._reset_options()
        return _writable(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, terminated, truncated, infos = self.venv.step(self._actions)
        dones = terminated | truncated
        info_list: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for key, values in infos.items():
            if key.startswith("_"):
                continue
            present = infos.get("_" + key, np.ones(self.num_envs, dtype=bool))
            for i in np.flatnonzero(present):
                info_list[i][key] = values[i]
        if dones.any():
            for i in np.flatnonzero(dones):
                info_list[i]["terminal_observation"] = _row(obs, i)
                info_list[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            obs, _ = self.venv.reset(options={"reset_mask": dones})
        return _writable(obs), rewards.astype(np.float32), dones, info_list

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs
    ) -> list[Any]:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        rows = list(self._get_indices(indices))
        if isinstance(result, np.ndarray) and result.shape[:1] == (self.num_envs,):
            return [result[i] for i in rows]
        return [result for _ in rows]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.venv.render()
        return list(frames) if frames is not None else [None] * self.num_envs


def _writable(obs: VecEnvObs) -> VecEnvObs:
    """Writable arrays: the vector env returns read-only ones, which torch.as_tensor warns about."""
    if isinstance(obs, dict):
        return {k: v if v.flags.writeable else v.copy() for k, v in obs.items()}
    return obs if obs.flags.writeable else obs.copy()


def _row(obs: VecEnvObs, i: int) -> Any:
    if isinstance(obs, dict):
        return {k: v[i].copy() for k, v in obs.items()}
    return obs[i].copy()
