"""A resumable stream of training examples: a fresh seeded permutation every epoch, and a
position ``(epoch, offset)`` that is all a checkpoint needs to continue exactly."""

from __future__ import annotations

import numpy as np

from dis_rl.puzzles.base import ExampleSource


class ExampleStream:
    def __init__(self, source: ExampleSource, seed: int) -> None:
        if len(source) == 0:
            raise ValueError("the training source holds no examples")
        self.source, self.seed = source, seed
        self.epoch, self.offset = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.source))

    def next_indices(self, n: int) -> np.ndarray:
        out = []
        while n > 0:
            take = min(n, len(self._perm) - self.offset)
            out.append(self._perm[self.offset : self.offset + take])
            self.offset += take
            n -= take
            if self.offset == len(self._perm):
                self.epoch, self.offset = self.epoch + 1, 0
                self._perm = self._permutation(self.epoch)
        return np.concatenate(out)

    def next(self, n: int) -> dict[str, np.ndarray]:
        return self.source.get(self.next_indices(n))

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "offset": self.offset}

    def load_state(self, state: dict[str, int]) -> None:
        self.epoch, self.offset = int(state["epoch"]), int(state["offset"])
        self._perm = self._permutation(self.epoch)
