"""dis-rl: Deep Improvement Supervision for Tiny Recursive Models.

Importing ``dis_rl`` registers the Gymnasium environments (``NQueensRefine-v0``,
``SudokuRefine-v0``, ``ARCRefine-v0``) the way Gymnasium plugins do (MiniGrid, ale-py): a plain
``gymnasium.register`` call per id, by entry-point strings, so no env module loads until an env is
made. The price is that ``import dis_rl`` (and so every ``dis_rl.*`` import) loads gymnasium, about
0.2 s on top of numpy; torch is still loaded only by the layers that compute with it.

The environments and agents are the subpackages ``dis_rl.envs`` and ``dis_rl.agents``: the
repository's top-level ``envs/`` and ``agents/`` folders, which the wheel and the editable install
(``pip install -e .``, what ``make`` runs) place under ``dis_rl`` through setuptools' ``package-dir``.
"""

from dis_rl.registration import register_envs

register_envs()

__version__ = "0.1.0"
