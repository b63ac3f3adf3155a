"""The TRM backbone (torch)."""

from dis_rl.model.trm import PRESETS, TRM, Carry, ModelConfig, StepOutput

__all__ = ["PRESETS", "TRM", "Carry", "ModelConfig", "StepOutput"]
