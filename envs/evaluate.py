"""Score any agent through an env under the evaluation protocol: pass@1, pass@2 and an ARC Prize
``submission.json``.

    from dis_rl.envs.evaluate import evaluate_agent
    score = evaluate_agent(predict, "ARCRefine-v0", source="arc1")   # predict(obs) -> action
    print(score.summary()); score.write_submission("submission.json")

Each test input gets ``attempts`` episodes (ARC: 2, the official rule); ``predict`` is called once
per step of each (a stateful agent may count attempts: ``info["attempt"]`` is 1, 2, ... in that
order). Nothing derived from a label reaches ``predict``: only the submission is scored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np


@dataclass
class AgentScore:
    """Results of `evaluate_agent`. ``solved[name]``: the verdict of each attempt at a test input
    (None where its output is hidden); ``answers[name]``: the submitted answers (tokens)."""

    env_id: str
    split: str
    attempts: int
    solved: dict[str, list[bool | None]] = field(default_factory=dict)
    answers: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def _task(self, name: str) -> str:
        return name.rsplit("/", 1)[0] if "/" in name else name

    def pass_at(self, k: int) -> float | None:
        """Mean over tasks of the share of their scorable test inputs solved within ``k`` attempts
        (the ARC Prize score for k = 2; one test input per task elsewhere); None if none is scorable."""
        per_task: dict[str, list[bool]] = {}
        for name, verdicts in self.solved.items():
            if verdicts and verdicts[0] is not None:
                per_task.setdefault(self._task(name), []).append(any(bool(v) for v in verdicts[:k]))
        if not per_task:
            return None
        return float(np.mean([np.mean(v) for v in per_task.values()]))

    def per_task(self, k: int | None = None) -> dict[str, float]:
        """Each task's share of scorable test inputs solved within ``k`` attempts (default: all)."""
        k = k or self.attempts
        out: dict[str, list[bool]] = {}
        for name, verdicts in self.solved.items():
            if verdicts and verdicts[0] is not None:
                out.setdefault(self._task(name), []).append(any(bool(v) for v in verdicts[:k]))
        return {task: float(np.mean(v)) for task, v in out.items()}

    def summary(self) -> str:
        scorable = sum(1 for v in self.solved.values() if v and v[0] is not None)
        parts = [f"{self.env_id} {self.split}: {len(self.solved)} test inputs ({scorable} scorable), "
                 f"evaluation protocol, {self.attempts} attempt(s) each"]
        for k in sorted({1, self.attempts}):
            value = self.pass_at(k)
            parts.append(f"pass@{k} {'n/a' if value is None else f'{100 * value:.1f}%'}")
        return "; ".join(parts)

    def submission(self) -> dict[str, list[dict[str, list[list[int]]]]]:
        """The ARC Prize format: task id -> one ``{"attempt_1": grid, "attempt_2": grid}`` per test
        input, in test-input order (an answer without a decodable grid is submitted as ``[[0]]``)."""
        from dis_rl.puzzles.arc import decode_grid

        out: dict[str, list[tuple[int, dict[str, list[list[int]]]]]] = {}
        for name, answers in self.answers.items():
            task, _, index = name.rpartition("/")
            entry = {}
            for i in range(max(self.attempts, 2)):
                grid = decode_grid(answers[min(i, len(answers) - 1)])
                entry[f"attempt_{i + 1}"] = [[0]] if grid is None else grid.astype(int).tolist()
            out.setdefault(task, []).append((int(index) if index.isdigit() else 0, entry))
        return {task: [e for _, e in sorted(entries, key=lambda t: t[0])] for task, entries in sorted(out.items())}

    def write_submission(self, path: str | Path) -> Path:
        """Write `submission` as JSON (ARC only: names must be ``"<task id>/<test index>"``)."""
        path = Path(path)
        path.write_text(json.dumps(self.submission()))
        return path


def evaluate_agent(
    predict: Callable[[dict[str, np.ndarray]], Any],
    env_id: str | gym.Env = "ARCRefine-v0",
    split: str = "test",
    attempts: int | None = None,
    puzzles: list[str] | None = None,
    progress: bool = True,
    **env_kwargs: Any,
) -> AgentScore:
    """Run ``predict(obs) -> action`` over every test input of ``split`` (or ``puzzles``, by name),
    ``attempts`` episodes each (default: the domain's rule), under the evaluation protocol.

    ``env_id``: an id (made with ``env_kwargs``: e.g. ``source=``, ``action_mode=``, ``max_steps=``)
    or an env already made with ``protocol="evaluation"``. ``max_steps=1`` (the default here for a
    refine-mode env made from an id) makes each episode one answer."""
    if isinstance(env_id, str):
        env_kwargs.setdefault("max_steps", 1 if env_kwargs.get("action_mode", "refine") == "refine" else None)
        env = gym.make(env_id, split=split, protocol="evaluation", attempts=attempts, **env_kwargs)
        name = env_id
    else:
        env, name = env_id, getattr(env_id.spec, "id", type(env_id.unwrapped).__name__)
    task = env.unwrapped.task
    if task.protocol != "evaluation":
        raise ValueError("evaluate_agent needs an env made with protocol='evaluation' (label feedback would leak)")
    names = list(puzzles) if puzzles is not None else task.puzzle_names(split)
    score = AgentScore(str(name), split, int(task.attempts))
    bar = _progress(len(names) * task.attempts, progress, f"evaluating {name} {split}")
    for puzzle in names:
        verdicts, answers = [], []
        for _ in range(task.attempts):
            obs, info = env.reset(options={"split": split, "puzzle": puzzle})
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(predict(obs))
                done = terminated or truncated
            if not task.scorable[split][info["puzzle_index"]]:
                verdicts.append(None)  # a hidden output: answered, never scored
            else:
                verdicts.append(bool(info.get("solved", False)))
            answers.append(np.asarray(obs["answer"]).copy())
            bar.update(1)
        score.solved[str(puzzle)] = verdicts
        score.answers[str(puzzle)] = answers
    bar.close()
    return score


def _progress(total: int, enabled: bool, label: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="attempt", disable=not enabled, leave=False)
