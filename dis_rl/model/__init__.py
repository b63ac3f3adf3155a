"""The TRM backbone: `dis_rl.model.trm` (torch: `TRM`, `Carry`, `StepOutput`), `dis_rl.model.layers`
and its architecture config `dis_rl.model.config` (pure Python: `ModelConfig`, `PRESETS`).

This file imports nothing: `dis_rl.config` reads `dis_rl.model.config` for its ``model:`` section
and must stay torch-free, and importing a submodule runs this file first. Import the classes from
their modules (``from dis_rl.model.trm import TRM``).
"""
