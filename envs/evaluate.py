"""Score any agent through an env under the evaluation protocol: pass@1, pass@2 and an ARC Prize
``submission.json``.

    from dis_rl.envs.evaluate import evaluate_agent
    score = evaluate_agent(predict, "ARCRefine-v0", source="arc1")   # predict(obs) -> action
    print(score.summary()); score.write_submission("submission.json")

Each test input gets ``attempts`` episodes (ARC: 2, the official rule); ``predict`` is called once
per step of each (a stateful agent may count attempts: ``info["attempt"]`` is 1, 2, ... in that
order). Nothing derived from a label reaches ``predict``: the env holds no test label, and its
scorer (`dis_rl.envs.scoring`) answers for the first ``attempts`` submissions per test input in
the whole evaluation, whichever env they come through. ``isolate=True`` runs ``predict`` in a
separate process that receives observations only; ``timeout=`` bounds each call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dis_rl.envs import scoring


@dataclass
class AgentScore:
    """Results of `evaluate_agent`. ``solved[name]``: the verdict of each attempt at a test input
    (None where its output is hidden); ``answers[name]``: the submitted answers (tokens);
    ``timeouts``: ``predict`` calls that ran past the timeout."""

    env_id: str
    split: str
    attempts: int
    solved: dict[str, list[bool | None]] = field(default_factory=dict)
    answers: dict[str, list[np.ndarray]] = field(default_factory=dict)
    domain: str = "arc"
    timeouts: int = 0

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
        if self.timeouts:
            parts.append(f"{self.timeouts} predict call(s) timed out")
        return "; ".join(parts)

    def submission(self) -> dict[str, list[dict[str, list[list[int]]]]]:
        """The ARC Prize format: task id -> one ``{"attempt_1": grid, "attempt_2": grid}`` per test
        input, in test-input order (an answer without a decodable grid is submitted as ``[[0]]``)."""
        from dis_rl.puzzles.arc import decode_grid

        if self.domain != "arc":
            raise ValueError(f"submission.json is the ARC Prize format; a {self.domain} evaluation has none "
                             f"(its answers, as tokens, are in score.answers)")
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
        if path.is_dir():
            raise ValueError(f"{path} is a folder: give the submission a file name, e.g. {path / 'submission.json'}")
        if not path.parent.is_dir():
            raise ValueError(f"cannot write {path}: the folder {path.parent} does not exist (create it first)")
        text = json.dumps(self.submission())
        path.write_text(text)
        return path


def evaluate_agent(
    predict: Callable[[dict[str, np.ndarray]], Any],
    env_id: str | gym.Env = "ARCRefine-v0",
    split: str = "test",
    attempts: int | None = None,
    puzzles: list[str | int] | None = None,
    progress: bool = True,
    timeout: float | None = None,
    isolate: bool = False,
    **env_kwargs: Any,
) -> AgentScore:
    """Run ``predict(obs) -> action`` over every test input of ``split`` (or ``puzzles``, by name or
    index, each once), ``attempts`` episodes each (default and most: the domain's rule), under the
    evaluation protocol.

    ``env_id``: an id (made with ``env_kwargs``: e.g. ``source=``, ``action_mode=``, ``max_steps=``;
    the evaluation then counts submissions afresh, shared by every env made while it runs) or an env
    already made on an evaluated split (its test inputs must not have been submitted yet).
    ``max_steps=1`` (the default here for a refine-mode env made from an id) makes each episode one
    answer. ``timeout``: seconds per ``predict`` call; a call that runs over ends its episode with
    the answer as it stands (counted in ``AgentScore.timeouts``). ``isolate=True``: ``predict`` runs
    in a spawned process that gets observations only and in which nothing is scored (``predict``
    must pickle: a module-level function or an instance of a module-level class)."""
    for key in ("protocol", "allow_test_label_feedback"):
        if key in env_kwargs and env_kwargs[key] not in (None, "evaluation", False):
            raise ValueError(f"evaluate_agent always scores under the evaluation protocol; {key}="
                             f"{env_kwargs[key]!r} is not an option here (label feedback would be an oracle)")
        env_kwargs.pop(key, None)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout < float("inf")):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    fresh = isinstance(env_id, str)
    with scoring.session(fresh):
        if fresh:
            env_kwargs.setdefault("max_steps", 1 if env_kwargs.get("action_mode", "refine") == "refine" else None)
            env = gym.make(env_id, split=split, protocol="evaluation", attempts=attempts, **env_kwargs)
            name = env_id
        else:
            env, name = env_id, getattr(env_id.spec, "id", type(env_id.unwrapped).__name__)
        task = env.unwrapped.task
        if not task.evaluated(split):
            raise ValueError("evaluate_agent needs an env whose split follows the evaluation protocol "
                             "(label feedback would leak)")
        indices = _chosen(task, split, puzzles)
        scorer = task.scorers[split]
        used = [task.names[split][i] for i in indices if scorer.used(i)]
        if used:
            raise ValueError(f"{len(used)} of these test inputs were already submitted through this env's session "
                             f"(e.g. {used[0]!r}): a second evaluation would score only the attempts left. Pass "
                             f"the env id instead (evaluate_agent(predict, {str(name)!r}, ...)) to evaluate afresh")
        score = AgentScore(str(name), split, int(scorer.attempts), domain=str(task.domain.name))
        call = _Isolated(predict, timeout) if isolate else _InProcess(predict, timeout)
        bar = _progress(len(indices) * scorer.attempts, progress, f"evaluating {name} {split}")
        try:
            for index in indices:
                verdicts, answers = [], []
                for _ in range(scorer.attempts):
                    obs, info = env.reset(options={"split": split, "puzzle": index})
                    done = False
                    while not done:
                        try:
                            action = call(obs)
                        except _TimedOut:
                            score.timeouts += 1
                            obs, _, terminated, truncated, info = env.unwrapped.submit()
                        else:
                            obs, _, terminated, truncated, info = env.step(action)
                        done = terminated or truncated
                    if not scorer.scorable[index]:
                        verdicts.append(None)  # a hidden output: answered, never scored
                    else:
                        verdicts.append(bool(info.get("solved", False)))
                    answers.append(np.asarray(obs["answer"]).copy())
                    bar.update(1)
                puzzle = str(task.names[split][index])
                score.solved[puzzle] = verdicts
                score.answers[puzzle] = answers
        finally:
            call.close()
            bar.close()
    return score


def _chosen(task: Any, split: str, puzzles: list[str | int] | None) -> list[int]:
    """Row indices of ``puzzles`` (all of ``split`` when None); the same test input twice, by name,
    index or content, is refused: its second run would find its attempts used up."""
    if puzzles is None:
        indices = list(range(len(task.sets[split])))
    else:
        if isinstance(puzzles, (str, int)):
            raise ValueError(f"puzzles must be a list of names or indices, got {puzzles!r}")
        indices = [task.resolve(split, p) for p in puzzles]
    view = task.view[split]
    keys = scoring.input_keys(str(task.domain.name), [view["input"], *(view[k] for k in task.extra_keys)])
    seen: dict[bytes, int] = {}
    for index in indices:
        first = seen.setdefault(keys[index], index)
        if first != index or indices.count(index) > 1:
            a, b = task.names[split][first], task.names[split][index]
            same = f"{a!r} twice" if a == b else f"{a!r} and {b!r} (the same input)"
            raise ValueError(f"puzzles lists {same}: give each test input once (its attempts are counted per input)")
    return indices


class _TimedOut(Exception):
    """A ``predict`` call ran past the timeout."""


class _InProcess:
    """``predict`` in this process; with a timeout, each call runs in a worker thread that is left
    behind (Python cannot stop a thread) when it runs over."""

    def __init__(self, predict: Callable[[dict[str, np.ndarray]], Any], timeout: float | None) -> None:
        self.predict, self.timeout = predict, timeout

    def __call__(self, obs: dict[str, np.ndarray]) -> Any:
        if self.timeout is None:
            return self.predict(obs)
        from concurrent.futures import ThreadPoolExecutor
        from concurrent.futures import TimeoutError as FutureTimeout

        pool = ThreadPoolExecutor(max_workers=1)
        try:
            return pool.submit(self.predict, obs).result(timeout=self.timeout)
        except FutureTimeout:
            raise _TimedOut from None
        finally:
            pool.shutdown(wait=False)

    def close(self) -> None:
        pass


def _agent_process(predict: Callable[[dict[str, np.ndarray]], Any], conn: Any) -> None:
    """The isolated agent: observations in, actions out; nothing is scored in this process."""
    import traceback

    scoring._deny_in_this_process()
    conn.send(("ready", None))
    while True:
        obs = conn.recv()
        if obs is None:
            return
        try:
            conn.send(("action", np.asarray(predict(obs))))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class _Isolated:
    """``predict`` in a spawned process (the ARC Prize's way: the agent never shares memory with
    the scorer). A call past the timeout ends that process; the next call starts a new one."""

    START_S = 120.0  # spawning re-imports the agent's modules: not counted against the timeout

    def __init__(self, predict: Callable[[dict[str, np.ndarray]], Any], timeout: float | None) -> None:
        import multiprocessing
        import pickle

        try:
            pickle.dumps(predict)
        except Exception as err:
            raise ValueError(f"isolate=True runs predict in another process, so it must pickle (a module-level "
                             f"function or an instance of a module-level class): {err}") from None
        self.predict, self.timeout = predict, timeout
        self.context = multiprocessing.get_context("spawn")
        self.process = None
        self._start()

    def _start(self) -> None:
        self.conn, child = self.context.Pipe()
        self.process = self.context.Process(target=_agent_process, args=(self.predict, child), daemon=True)
        self.process.start()
        child.close()
        if not self.conn.poll(self.START_S):
            self.close()
            raise RuntimeError(f"the agent process did not start within {self.START_S:.0f} s")
        self._receive()

    def _receive(self) -> Any:
        try:
            kind, value = self.conn.recv()
        except EOFError:
            raise RuntimeError("the agent process died (see its output above)") from None
        if kind == "error":
            raise RuntimeError(f"predict raised in the agent process:\n{value}")
        return value

    def __call__(self, obs: dict[str, np.ndarray]) -> Any:
        if self.process is None:
            self._start()
        self.conn.send({k: np.asarray(v) for k, v in obs.items()})
        if not self.conn.poll(self.timeout):
            self.close()
            raise _TimedOut
        return self._receive()

    def close(self) -> None:
        if self.process is None:
            return
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.conn.close()
        self.process = None


def _progress(total: int, enabled: bool, label: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="attempt", disable=not enabled, leave=False)
