"""Counter-based random numbers: a value is a pure function of (seed, counters), vectorised.

On-the-fly augmentation needs each example's randomness to follow from its index alone (any
order, any worker, resumable), which a sequential generator cannot give cheaply. This mixes the
seed and counters with the splitmix64 finaliser and maps the result to [0, 1).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def counter_hash(seed: int, *counters: np.ndarray | int) -> np.ndarray:
    """64-bit hash of (seed, counters...), broadcast over the counter arrays."""
    with np.errstate(over="ignore"):
        h = _mix(np.uint64(seed & 0xFFFFFFFFFFFFFFFF) + _GOLDEN)
        for c in counters:
            h = _mix(h ^ (np.asarray(c).astype(np.uint64) + _GOLDEN))
    return np.asarray(h)


def counter_uniform(seed: int, *counters: np.ndarray | int) -> np.ndarray:
    """Uniform floats in [0, 1) from (seed, counters...): the top 53 bits of `counter_hash`."""
    return (counter_hash(seed, *counters) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def counter_integers(seed: int, high: np.ndarray | int, *counters: np.ndarray | int) -> np.ndarray:
    """Integers in ``[0, high)`` (`high` broadcast, >= 1) from (seed, counters...)."""
    u = counter_uniform(seed, *counters)
    return np.minimum((u * np.asarray(high)).astype(np.int64), np.asarray(high) - 1)
