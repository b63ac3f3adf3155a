"""Rendering an episode: a header line, the input and the current answer (as text or an image)."""

from __future__ import annotations

import numpy as np

from dis_rl.puzzles.render import side_by_side
from envs.core import RefineTask


def render_episode(task: RefineTask, mode: str, split: str, index: int, inputs: np.ndarray, answer: np.ndarray,
                   steps: int, status: str) -> str | np.ndarray:
    """``"ansi"``: a string with the domain's text boards; ``"rgb_array"``: ``[H, W, 3]`` uint8,
    input | answer (each padded to the taller, so answers of any size render)."""
    domain = task.domain
    if mode == "rgb_array":
        return side_by_side([domain.render_rgb(inputs), domain.render_rgb(answer)])
    head = f"{split} puzzle {task.names[split][index]}  step {steps}/{task.max_steps}  {status}"
    return "\n".join([head, "input:", domain.render_text(inputs), "answer:", domain.render_text(answer)])
