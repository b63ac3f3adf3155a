"""dis-rl: Deep Improvement Supervision for Tiny Recursive Models.

Importing ``dis_rl`` registers the Gymnasium environments (``NQueensRefine-v0``,
``SudokuRefine-v0``, ``ARCRefine-v0``); the heavy modules (torch) load only when used.
"""

import envs  # noqa: F401  (registers the Gymnasium env ids; numpy only)

__version__ = "0.1.0"
