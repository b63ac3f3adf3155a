"""dis-rl: Deep Improvement Supervision for Tiny Recursive Models.

Importing ``dis_rl`` registers the Gymnasium environments (``NQueensRefine-v0``,
``SudokuRefine-v0``, ``ARCRefine-v0``) by entry-point strings, as soon as gymnasium is loaded; it
imports neither gymnasium nor torch itself, so the numpy-only layers stay light.

The environments and agents are the subpackages ``dis_rl.envs`` and ``dis_rl.agents`` (the
repository's top-level ``envs/`` and ``agents/`` folders, installed inside the package).
"""

from dis_rl.registration import register_when_gymnasium_loads
from dis_rl.resources import install_checkout_finder

install_checkout_finder()  # a checkout's envs/ and agents/ are dis_rl.envs and dis_rl.agents
register_when_gymnasium_loads()

__version__ = "0.1.0"
