"""What a training method is to the shared loop: one round at a time, returning what it measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch


@dataclass
class RoundStats:
    """One round's measurements; the loop counts, logs and reduces them over ranks."""

    losses: list[float]  # one per optimiser step (DIS: per supervision step)
    examples: int  # new examples consumed
    network_calls: int  # network calls made in this round, summed over examples
    optimizer_steps: int
    # Method-specific scalars for TensorBoard (this rank's values, e.g. "trm/halt_bce"); the loop writes
    # them every ``train.log_every`` batches next to its own ``losses/`` and ``charts/``.
    scalars: dict[str, float] = field(default_factory=dict)


class Method(Protocol):
    name: str

    def train_round(self) -> RoundStats: ...
    def calls_per_example(self) -> int: ...
    def state_tensors(self) -> dict[str, torch.Tensor]: ...
    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None: ...
