"""dis-rl: Deep Improvement Supervision for Tiny Recursive Models.

Importing ``dis_rl`` registers the Gymnasium environments (``NQueensRefine-v0``,
``SudokuRefine-v0``, ``ARCRefine-v0``) by entry-point strings, as soon as gymnasium is loaded; it
imports neither gymnasium nor torch itself, so the numpy-only layers stay light.
"""

from dis_rl.registration import register_when_gymnasium_loads

register_when_gymnasium_loads()

__version__ = "0.1.0"
