"""The puzzle layer: the one home of domain knowledge (numpy only, no torch).

``get_domain(name)`` returns the domain object (verifier, distance, rendering) of a family; turning a
data config into puzzle sets is `dis_rl.data`'s job.
"""

from __future__ import annotations

from dis_rl.puzzles.arc import DOMAIN as ARC
from dis_rl.puzzles.base import PAD, Domain, ExampleSource, PuzzleSet
from dis_rl.puzzles.nqueens import DOMAIN as NQUEENS
from dis_rl.puzzles.sudoku import DOMAIN as SUDOKU

_DOMAINS: dict[str, Domain] = {"nqueens": NQUEENS, "arc": ARC, "sudoku": SUDOKU}


def get_domain(name: str) -> Domain:
    try:
        return _DOMAINS[name]
    except KeyError:
        raise ValueError(f"unknown puzzle domain {name!r}; known: {sorted(_DOMAINS)}") from None


__all__ = ["PAD", "Domain", "ExampleSource", "PuzzleSet", "get_domain"]
