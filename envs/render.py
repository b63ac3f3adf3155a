"""Rendering an episode: a header line, the input and the current answer (and, for ARC images, the
demonstration pairs above them), as coloured text, plain text or an image."""

from __future__ import annotations

from typing import Any

import numpy as np

from dis_rl.envs.core import RefineTask
from dis_rl.puzzles.render import side_by_side


def _rgb(task: RefineTask, tokens: np.ndarray) -> np.ndarray:
    if task.render_cell:
        return task.domain.render_rgb(tokens, cell=task.render_cell)
    return task.domain.render_rgb(tokens)


def _stack(rows: list[np.ndarray], gap: int = 8) -> np.ndarray:
    """Images top to bottom, each padded on the right to the widest, ``gap`` rows between."""
    width = max(r.shape[1] for r in rows)
    parts = []
    for i, row in enumerate(rows):
        if i:
            parts.append(np.full((gap, width, 3), 255, dtype=np.uint8))
        parts.append(np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255))
    return np.concatenate(parts, axis=0)


def render_episode(task: RefineTask, mode: str, split: str, index: int, inputs: np.ndarray, answer: np.ndarray,
                   steps: int, status: str, extras: dict[str, Any] | None = None) -> str | np.ndarray:
    """``"ansi"``: a string with the domain's (coloured) text boards; ``"text"``: the same without
    colour codes (ARC: digit grids), for logs and LLM prompts; ``"rgb_array"``: ``[H, W, 3]`` uint8,
    input | answer (each padded to the taller, so answers of any size render), below the task's
    demonstration pairs when it has them."""
    domain = task.domain
    if mode == "rgb_array":
        rows = []
        if extras is not None and "demo_inputs" in extras:
            count = int(np.asarray(extras["demo_count"]).reshape(-1)[0])
            for x, y in zip(extras["demo_inputs"][:count], extras["demo_outputs"][:count]):
                rows.append(side_by_side([_rgb(task, x), _rgb(task, y)]))
        rows.append(side_by_side([_rgb(task, inputs), _rgb(task, answer)]))
        return _stack(rows) if len(rows) > 1 else rows[0]
    text = getattr(domain, "render_plain", domain.render_text) if mode == "text" else domain.render_text
    head = f"{split} puzzle {task.names[split][index]}  step {steps}/{task.max_steps}  {status}"
    return "\n".join([head, "input:", text(inputs), "answer:", text(answer)])
