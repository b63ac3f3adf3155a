"""The TRM backbone (torch) and its architecture config (`ModelConfig`, pure Python).

`dis_rl.config` imports `dis_rl.model.config` for its ``model:`` section and must stay torch-free,
and importing that submodule runs this file first. So this file imports only the config eagerly;
the torch classes (`TRM`, `Carry`, `StepOutput`) load from `dis_rl.model.trm` on first access
(``from dis_rl.model import TRM`` works as before).
"""

from dis_rl.model.config import PRESETS, ModelConfig

_TORCH_NAMES = ("TRM", "Carry", "StepOutput")


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        from dis_rl.model import trm  # torch: loaded only when the model itself is asked for

        return getattr(trm, name)
    raise AttributeError(f"module 'dis_rl.model' has no attribute {name!r}")


__all__ = ["PRESETS", "TRM", "Carry", "ModelConfig", "StepOutput"]
