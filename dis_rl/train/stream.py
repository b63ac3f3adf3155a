"""A resumable stream of training examples: a fresh seeded permutation every epoch, and a
position ``(epoch, offset)`` that is all a checkpoint needs to continue exactly.

Sources whose examples come in several shapes (cropped ARC canvases: `bucket_keys()` gives each
index its shape key) are streamed per shape, so that every batch has one shape: each shape has its
own queue (its own seeded permutation per epoch and position), a batch is drawn from one queue,
chosen by a seeded draw weighted by the queue's size (so over an epoch every example is seen about
equally often), and `next(n, bucket)` continues a given queue (TRM refills its slots of one shape).
The position is then the draw count plus every queue's ``(epoch, offset)``.
"""

from __future__ import annotations

import numpy as np

from dis_rl.puzzles.base import ExampleSource

_BUCKET_DRAW = 0x5EED  # keeps the bucket draws' generator apart from the permutations' ones


class _Queue:
    """Indices ``members`` (all of the source when None) in a seeded order per epoch."""

    def __init__(self, members: np.ndarray | None, size: int, seed: list[int]) -> None:
        self.members, self.size, self.seed = members, size, seed
        self.epoch, self.offset = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        perm = np.random.default_rng([*self.seed[:1], epoch, *self.seed[1:]]).permutation(self.size)
        return perm if self.members is None else self.members[perm]

    def take(self, n: int) -> np.ndarray:
        out = []
        while n > 0:
            take = min(n, len(self._perm) - self.offset)
            out.append(self._perm[self.offset : self.offset + take])
            self.offset += take
            n -= take
            if self.offset == len(self._perm):
                self.epoch, self.offset = self.epoch + 1, 0
                self._perm = self._permutation(self.epoch)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def seek(self, epoch: int, offset: int) -> None:
        self.epoch, self.offset = int(epoch), int(offset)
        self._perm = self._permutation(self.epoch)


class ExampleStream:
    def __init__(self, source: ExampleSource, seed: int) -> None:
        if len(source) == 0:
            raise ValueError("the training source holds no examples")
        self.source, self.seed = source, seed
        keys = source.bucket_keys() if hasattr(source, "bucket_keys") else None
        if keys is None:
            self.buckets: list[int | None] = [None]
            self._queues = [_Queue(None, len(source), [seed])]
        else:
            keys = np.asarray(keys)
            self.buckets = [int(k) for k in np.unique(keys)]
            members = [np.flatnonzero(keys == k) for k in self.buckets]
            self._queues = [_Queue(m, len(m), [seed, b]) for b, m in enumerate(members)]
        sizes = np.array([q.size for q in self._queues], dtype=np.float64)
        self._weights = sizes / sizes.sum()
        self.draws = 0

    # One-queue streams keep the plain (epoch, offset) view and state of earlier versions.
    @property
    def epoch(self) -> int:
        return self._queues[0].epoch

    @property
    def offset(self) -> int:
        return self._queues[0].offset

    def next_bucket(self) -> int:
        """The queue the next batch comes from (always 0 for a one-shape source)."""
        if len(self._queues) == 1:
            return 0
        rng = np.random.default_rng([self.seed, _BUCKET_DRAW, self.draws])
        self.draws += 1
        return int(rng.choice(len(self._queues), p=self._weights))

    def next_indices(self, n: int, bucket: int | None = None) -> np.ndarray:
        """The next ``n`` indices of queue ``bucket`` (None: a freshly drawn queue)."""
        return self._queues[self.next_bucket() if bucket is None else bucket].take(n)

    def next(self, n: int, bucket: int | None = None) -> dict[str, np.ndarray]:
        return self.source.get(self.next_indices(n, bucket))

    def state(self) -> dict:
        if len(self._queues) == 1:
            return {"epoch": self.epoch, "offset": self.offset}
        return {"draws": self.draws, "queues": [[q.epoch, q.offset] for q in self._queues]}

    def load_state(self, state: dict) -> None:
        queues = state.get("queues", [[state.get("epoch", 0), state.get("offset", 0)]])
        if len(queues) != len(self._queues):
            raise ValueError(f"the stream position has {len(queues)} shape queues but this data has "
                             f"{len(self._queues)}: the data config changed since the checkpoint")
        for q, (epoch, offset) in zip(self._queues, queues):
            q.seek(epoch, offset)
        self.draws = int(state.get("draws", 0))
