"""Gymnasium environments over the project's puzzles: iterative refinement episodes.

Importing this package registers ``NQueensRefine-v0``, ``SudokuRefine-v0`` and ``ARCRefine-v0``,
each with a vector-native ``vector_entry_point``; ``gym.make("dis_rl:ARCRefine-v0")`` works with no
prior import. Registration is cheap: the env modules load only when an env is made.
"""

from __future__ import annotations

if __name__ != "dis_rl.envs":  # one module, one name (a checkout's folder on sys.path must not shadow others)
    raise ImportError(f"dis-rl's environments are the package dis_rl.envs (import dis_rl.envs); this folder was "
                      f"imported as {__name__!r}")

from dis_rl.registration import ENV_IDS, register_envs  # noqa: E402

register_envs()

__all__ = ["ENV_IDS", "register_envs"]
