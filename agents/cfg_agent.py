"""The classifier-free-guidance policy: a trained TRM acting in the refinement envs.

Each env step is one model refinement step decoded from the guided logits
``l_w = l_u + w (l_c - l_u)`` (``l_u``/``l_c``: readouts before/after the step's reasoning update).
``w = 1`` is the model's plain decoding, ``w = 0`` the readout before the update, ``w > 1``
extrapolates along the step's improvement. The step logic lives in `dis_rl.rollout`; this class
only keeps the recurrent carry between env steps and converts numpy observations to tensors
(the envs stay numpy-only).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dis_rl.model.trm import TRM, Carry
from dis_rl.rollout import Rollout, refine_step, rollout
from dis_rl.rollout import w_schedule as per_step_w

DEFAULT_STEPS = 6


class CFGAgent:
    """Guided refinement policy.

    Args:
        model_or_checkpoint: a `TRM`, or a checkpoint path (run folder, checkpoints folder, step
            folder or exported folder) loaded with `dis_rl.loading.load_model`.
        w: guidance scale for every step (ignored when ``w_schedule`` is given).
        temperature: 0 decodes by argmax; above 0 each cell is drawn from ``softmax(l_w / T)``
            with the agent's own generator (seeded by ``seed``).
        steps: refinement steps per episode (default: the checkpoint's ``supervision_steps``, else 6).
        w_schedule: one ``w`` per step.
        step_input: what each step embeds, ``"input"`` or ``"prediction"`` (default: the checkpoint's).
    """

    def __init__(
        self,
        model_or_checkpoint: TRM | str | Path,
        w: float = 1.0,
        temperature: float = 0.0,
        steps: int | None = None,
        w_schedule: Sequence[float] | None = None,
        step_input: str | None = None,
        device: str | torch.device = "cpu",
        seed: int | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.config = None
        if isinstance(model_or_checkpoint, TRM):
            self.model = model_or_checkpoint.to(self.device).eval()
        elif isinstance(model_or_checkpoint, (str, Path)):
            from dis_rl.loading import load_model

            self.model, self.config, _ = load_model(str(model_or_checkpoint), self.device)
        else:
            raise TypeError(f"CFGAgent needs a TRM or a checkpoint path, got {type(model_or_checkpoint).__name__}")
        trained = self.config.train if self.config is not None else None
        self.steps = int(steps or (len(w_schedule) if w_schedule else 0)
                         or (trained.supervision_steps if trained else DEFAULT_STEPS))
        self.step_input = step_input or (trained.step_input if trained else "input")
        if self.step_input not in ("input", "prediction"):
            raise ValueError(f"step_input must be 'input' or 'prediction', got {self.step_input!r}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        self.temperature = float(temperature)
        self.ws = per_step_w(list(w_schedule) if w_schedule is not None else float(w), self.steps)
        self.w = None if w_schedule is not None else float(w)
        self.generator = torch.Generator(device=self.device)
        self.seed = seed
        self.reset(seed)

    # -- batched tensor API --------------------------------------------------------------------
    def refine(self, inputs: np.ndarray | torch.Tensor, puzzle_ids: np.ndarray | torch.Tensor | None = None) -> Rollout:
        """All steps on a batch ``inputs [B, L]``: per-step logits (before, after, guided) and predictions."""
        x = self._tensor(inputs, "inputs", 2)
        pids = None if puzzle_ids is None else self._tensor(puzzle_ids, "puzzle_ids", 1)
        return rollout(self.model, x, pids, self.steps, self.step_input, self.ws, None, self.temperature,
                       self._sampler())

    # -- Gymnasium API -------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Forget the episode (the carry); with ``seed``, restart the sampling generator."""
        if seed is not None:
            self.seed = seed
        if self.seed is not None:
            self.generator.manual_seed(int(self.seed))
        else:
            self.generator.seed()
        self._carry: Carry | None = None
        self._steps = np.zeros(0, dtype=np.int64)

    def predict(self, obs: dict[str, np.ndarray], puzzle_ids: np.ndarray | int | None = None) -> np.ndarray:
        """The next whole answer for a refine-mode observation (one env: ``input [L]``; a vector env:
        ``input [N, L]``). Rows with ``step == 0`` start a new episode (fresh carry); other rows
        continue theirs, and must arrive in order. Rows past the agent's schedule keep their answer."""
        for key in ("input", "answer", "step"):
            if key not in obs:
                raise ValueError(f"observation lacks {key!r}: CFGAgent acts in the refine mode of the envs")
        single = np.asarray(obs["input"]).ndim == 1
        inputs = np.atleast_2d(np.asarray(obs["input"])).astype(np.int64)
        answers = np.atleast_2d(np.asarray(obs["answer"])).astype(np.int64)
        steps = np.asarray(obs["step"], dtype=np.int64).reshape(-1)
        if len(steps) != len(inputs) or answers.shape != inputs.shape:
            raise ValueError(f"observation shapes disagree: input {inputs.shape}, answer {answers.shape}, "
                             f"step {np.asarray(obs['step']).shape}")
        if inputs.shape[1] != self.model.seq_len:
            raise ValueError(f"observation has {inputs.shape[1]} cells; the model reads {self.model.seq_len}")
        self._sync(steps)
        pids = None if puzzle_ids is None else np.broadcast_to(np.asarray(puzzle_ids, dtype=np.int64), steps.shape)
        actions = answers.copy()
        for s in np.unique(steps[steps < self.steps]):
            rows = np.flatnonzero(steps == s)
            previous = None if s == 0 else torch.from_numpy(answers[rows]).to(self.device)
            carry = Carry(self._carry.y[rows], self._carry.z[rows])
            with torch.no_grad():
                out = refine_step(
                    self.model, carry, torch.from_numpy(inputs[rows]).to(self.device),
                    None if pids is None else torch.from_numpy(pids[rows].copy()).to(self.device),
                    int(s) + 1, previous, self.step_input, self.ws[int(s)], self.temperature, self._sampler(),
                )
            self._carry.y[rows], self._carry.z[rows] = out.output.carry
            actions[rows] = out.prediction.cpu().numpy()
        self._steps = steps + 1
        return actions[0] if single else actions

    def run_episode(self, env: Any, seed: int | None = None, options: dict[str, Any] | None = None,
                    render: bool = False) -> dict[str, Any]:
        """Play one episode of a refine-mode env; returns ``solved``, ``steps``, ``rewards``, ``answers``
        (the board after each step), ``frames`` (the env's renders, when ``render`` and the env has a
        render mode) and the last ``info``."""
        self.reset(seed)
        obs, info = env.reset(seed=seed, options=options)
        pid = self._env_puzzle_id(env, info)
        frames = [env.render()] if render and getattr(env, "render_mode", None) else []
        rewards: list[float] = []
        answers: list[np.ndarray] = []
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(self.predict(obs, pid))
            rewards.append(float(reward))
            answers.append(np.asarray(obs["answer"]).copy())
            if frames:
                frames.append(env.render())
            done = terminated or truncated
        return {"solved": bool(info.get("solved", False)), "steps": len(rewards), "rewards": rewards,
                "answers": answers, "frames": frames, "info": info}

    # -- helpers -------------------------------------------------------------------------------
    def _sampler(self) -> torch.Generator | None:
        return self.generator if self.temperature > 0 else None

    def _tensor(self, value: np.ndarray | torch.Tensor, name: str, ndim: int) -> torch.Tensor:
        tensor = torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value).long()
        if tensor.dim() != ndim:
            raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(tensor.shape)}")
        return tensor.to(self.device)

    def _sync(self, steps: np.ndarray) -> None:
        """Fresh carry rows for new episodes; an error for rows whose step skipped or repeated."""
        if self._carry is None or len(self._steps) != len(steps):
            if (steps != 0).any():
                raise ValueError("CFGAgent.predict: the first observation of an episode must have step 0 "
                                 "(call agent.reset() and env.reset() together)")
            self._carry = self.model.initial_carry(len(steps))
            self._steps = np.zeros(len(steps), dtype=np.int64)
            return
        new = steps == 0
        if new.any():
            fresh = self.model.initial_carry(int(new.sum()))
            rows = np.flatnonzero(new)
            self._carry.y[rows], self._carry.z[rows] = fresh.y, fresh.z
        stale = ~new & (steps != self._steps)
        if stale.any():
            raise ValueError(f"CFGAgent.predict: observation step {steps[stale][0]} but the agent expected "
                             f"{self._steps[stale][0]}; observations of an episode must arrive in order")

    def _env_puzzle_id(self, env: Any, info: dict[str, Any]) -> int | None:
        """The puzzle-embedding id of the env's current puzzle, when the model learned one per puzzle."""
        if self.model.puzzle_emb is None or "puzzle_id" not in info:
            return None
        pid = int(info["puzzle_id"])
        return pid if pid < self.model.puzzle_emb.num_embeddings else None
