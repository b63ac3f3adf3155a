"""Who scores a submission under the evaluation protocol, and how often.

An env on an evaluated split holds no label: `RefineTask` moves each evaluated split's labels into a
`Scorer` and keeps only the inputs. The scorer answers "solved" for the first ``attempts``
submissions per test input and never again. Why the count is not the env's: an agent that makes a
fresh env per attempt (``gym.make`` inside its ``predict``) would otherwise get a fresh count, and
with it one more verdict bit per attempt. So the count belongs to the process (to the evaluation
session, see `session`), keyed by the test input's content: every env over the same puzzles shares
it, however it was made.

What this guards against: an agent using ordinary arguments and public attributes. Neither the
labels nor the counts are attributes of any env or scorer (they live in the scorer's closure and in
this module's private session stack), and the scorer copies its attempt limit at construction, so
mutating ``task.attempts`` or any array an env exposes changes no verdict. Code that digs through
closures or the garbage collector is not stopped in-process; `dis_rl.envs.evaluate.evaluate_agent`
with ``isolate=True`` runs ``predict`` in another process that receives observations only, and
nothing is scored there (`_deny_in_this_process`).
"""

from __future__ import annotations

import hashlib
import secrets
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

# Submissions per test input in the current session (the last dict); the first entry is the
# process's own, used outside `evaluate_agent`'s sessions.
_SESSIONS: list[dict[bytes, int]] = [{}]
_STATE = {"running": False, "denied": False}
_LIVE: weakref.WeakValueDictionary[str, Scorer] = weakref.WeakValueDictionary()  # pickles resolve here


def input_keys(domain: str, arrays: Sequence[np.ndarray]) -> list[bytes]:
    """One key per puzzle row from what the agent is shown (``arrays``: the inputs, then e.g. ARC's
    demonstration pairs, each with one row per puzzle): two rows showing the same puzzle share one
    count. No label enters a key, so a key reveals nothing an observation does not."""
    keys = []
    for i in range(len(arrays[0])):
        digest = hashlib.sha1(domain.encode())
        for array in arrays:
            digest.update(np.ascontiguousarray(array[i]).tobytes())
        keys.append(digest.digest())
    return keys


class Scorer:
    """The verdicts on one split's puzzles: ``submit(index, answer) -> (attempt, scored, solved)``.

    ``attempt`` is this submission's number for the test input (1, 2, ...), counted in the
    session; ``scored`` is whether it is among the first ``attempts`` of a scorable input (one
    with a known output); ``solved`` the verifier's verdict when scored (else False).
    ``used(index)``: submissions so far. ``scorable``: a read-only copy of which inputs have an
    output. ``context``: what else identifies a puzzle to the agent (`input_keys`). The labels
    are reachable from no attribute."""

    def __init__(self, domain: Any, inputs: np.ndarray, labels: np.ndarray, attempts: int,
                 context: Sequence[np.ndarray] = ()) -> None:
        inputs, labels = np.array(inputs, copy=True), np.array(labels, copy=True)
        scorable = domain.scored_cells(labels) > 0
        keys = input_keys(str(domain.name), [inputs, *context])
        limit = int(attempts)
        self.attempts = limit  # informational: the closures below keep their own copy
        self.scorable = scorable.copy()
        self.scorable.flags.writeable = False

        def used(index: int) -> int:
            return _SESSIONS[-1].get(keys[index], 0)

        def submit(index: int, answer: np.ndarray) -> tuple[int, bool, bool]:
            counts = _SESSIONS[-1]
            number = counts.get(keys[index], 0) + 1
            counts[keys[index]] = number
            scored = bool(scorable[index]) and number <= limit and not _STATE["denied"]
            solved = scored and bool(domain.verify(inputs[index][None], np.asarray(answer)[None],
                                                   labels[index][None])[0])
            return number, scored, solved

        self.used = used
        self.submit = submit
        self._token = secrets.token_hex(16)
        _LIVE[self._token] = self

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A pickle carries no label: in this process (deepcopy, a pickle round trip) it resolves to
        # this scorer; in another it is a scorer that scores nothing (make the env there instead).
        return _resolve, (self._token, self.attempts, self.scorable.copy())


class _Unscored:
    """A scorer copied into another process: it counts submissions and scores none."""

    def __init__(self, attempts: int, scorable: np.ndarray) -> None:
        self.attempts, self.scorable = attempts, scorable
        self._counts: dict[int, int] = {}

    def used(self, index: int) -> int:
        return self._counts.get(index, 0)

    def submit(self, index: int, answer: np.ndarray) -> tuple[int, bool, bool]:
        self._counts[index] = self.used(index) + 1
        return self._counts[index], False, False


def _resolve(token: str, attempts: int, scorable: np.ndarray) -> Scorer | _Unscored:
    live = _LIVE.get(token)
    return live if live is not None else _Unscored(attempts, scorable)


@contextmanager
def session(fresh: bool) -> Iterator[None]:
    """One evaluation (`evaluate_agent`): ``fresh`` counts submissions from zero (every env made
    or used inside shares them, an agent's own ``gym.make`` included) and restores the process's
    counts afterwards; otherwise the current counts go on. Sessions do not nest: an evaluation
    started from inside ``predict`` is refused."""
    if _STATE["running"]:
        raise RuntimeError("an evaluation is already running in this process: evaluate_agent cannot be "
                           "called from inside the predict it scores")
    _STATE["running"] = True
    if fresh:
        _SESSIONS.append({})
    try:
        yield
    finally:
        if fresh:
            _SESSIONS.pop()
        _STATE["running"] = False


def _deny_in_this_process() -> None:
    """Score nothing in this process from now on (the isolated harness's agent process)."""
    _STATE["denied"] = True
