"""The backbone's architecture as a plain dataclass (`ModelConfig`) and the paper's sizes (`PRESETS`).

Pure Python, no torch: `dis_rl.config` reads it for a run config's ``model:`` section without
loading the model, and the model package needs nothing of dis-rl outside itself (as nanoGPT's
model file stands alone).
"""

from __future__ import annotations

from dataclasses import dataclass

# Block variants of the backbone; dis_rl/model/layers.py says what each one is.
VARIANTS = ("attention", "mlp", "mlp_hidden_norm")
# How the step index enters the input (docs/TARGETS.md).
STEP_INDEX = ("integer", "continuous")


@dataclass
class ModelConfig:
    """Architecture of the TRM backbone (`dis_rl.model.TRM`); `PRESETS` holds the paper's sizes."""

    hidden: int = 128
    layers: int = 2
    heads: int = 2
    expansion: float = 4.0
    variant: str = "attention"  # "attention", "mlp" (TRM's SwiGLU across tokens) or "mlp_hidden_norm"
    cycles: int = 1  # T: cycles per refinement step, the first T-1 without gradients
    latent_steps: int = 2  # n: latent updates per cycle
    puzzle_emb_len: int = 16  # P: prefix positions before the grid (slot 0 holds the puzzle vector)
    puzzle_emb_width: int = 0  # 0: hidden size; smaller saves memory on large id tables
    puzzle_emb: bool = True  # learn one vector per puzzle id (needs num_puzzle_ids > 1)
    step_embedding: int = 8  # step range 0..step_embedding-1 (integer: rows of the table); 0: no step index
    step_index: str = "integer"  # integer: a learned row per step (paper) | continuous: t = s / (step_embedding - 1)
    halting_head: bool = False
    rope_base: float = 10000.0

    def validate(self) -> None:
        for name in ("hidden", "layers", "heads", "cycles", "latent_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if self.variant not in VARIANTS:
            raise ValueError(f"model.variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.variant == "attention" and self.hidden % self.heads:
            raise ValueError(f"model.hidden ({self.hidden}) must be divisible by model.heads ({self.heads})")
        if self.puzzle_emb_len < 1:
            raise ValueError("model.puzzle_emb_len must be >= 1 (slot 0 carries the puzzle vector)")
        if not 0 <= self.puzzle_emb_width <= self.hidden:
            raise ValueError(f"model.puzzle_emb_width must be in [0, hidden={self.hidden}]")
        if self.step_embedding < 0:
            raise ValueError("model.step_embedding must be >= 0")
        if self.step_index not in STEP_INDEX:
            raise ValueError(f"model.step_index must be one of {STEP_INDEX}, got {self.step_index!r}")
        if self.step_index == "continuous" and self.step_embedding < 2:
            raise ValueError("model.step_index continuous needs model.step_embedding >= 2 (t = s / (rows - 1))")
        for name in ("expansion", "rope_base"):
            if not getattr(self, name) > 0:
                raise ValueError(f"model.{name} must be > 0, got {getattr(self, name)}")

    @property
    def calls_per_step(self) -> int:
        """Network calls per example per refinement step: ``T * (n + 1)``."""
        return self.cycles * (self.latent_steps + 1)


PRESETS: dict[str, dict] = {
    "compact": {"hidden": 256, "layers": 1, "heads": 8},
    "medium": {"hidden": 512, "layers": 2, "heads": 8},
}
