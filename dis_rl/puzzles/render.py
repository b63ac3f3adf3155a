"""Shared rendering helpers: the standard ARC palette, cell images and ANSI colour blocks."""

from __future__ import annotations

import numpy as np

# The ten ARC colours (0 black .. 9 maroon), as used by the ARC-AGI testing interface.
ARC_PALETTE = np.array(
    [
        (0, 0, 0),
        (0, 116, 217),
        (255, 65, 54),
        (46, 204, 64),
        (255, 220, 0),
        (170, 170, 170),
        (240, 18, 190),
        (255, 133, 27),
        (127, 219, 255),
        (135, 12, 37),
    ],
    dtype=np.uint8,
)
# Colour of padding / outside-the-grid cells in images.
PAD_RGB = np.array((40, 40, 40), dtype=np.uint8)


def colours_to_rgb(colours: np.ndarray, cell: int = 8, grid_line: bool = True) -> np.ndarray:
    """Paint an ``[H, W]`` array of ARC colours (-1 = padding) as an ``[H*cell, W*cell, 3]`` image."""
    colours = np.asarray(colours)
    rgb = np.where(colours[..., None] >= 0, ARC_PALETTE[np.clip(colours, 0, 9)], PAD_RGB)
    image = np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1)
    if grid_line and cell >= 4:
        image[::cell, :, :] = 64
        image[:, ::cell, :] = 64
    return image.astype(np.uint8)


def ansi_block(colour: int) -> str:
    """Two spaces on an ANSI 24-bit background of the given ARC colour (-1 = padding)."""
    if colour < 0:
        return "  "
    r, g, b = (int(v) for v in ARC_PALETTE[colour])
    return f"\x1b[48;2;{r};{g};{b}m  \x1b[0m"


def side_by_side(images: list[np.ndarray], gap: int = 8, background: int = 255) -> np.ndarray:
    """``[H, W, 3]`` images left to right with ``gap`` columns between them, each padded at the
    bottom to the tallest (a grid and its answer may differ in height)."""
    height = max(image.shape[0] for image in images)
    parts = []
    for i, image in enumerate(images):
        if i:
            parts.append(np.full((height, gap, 3), background, dtype=np.uint8))
        pad = np.full((height - image.shape[0], image.shape[1], 3), background, dtype=np.uint8)
        parts.append(np.concatenate([image.astype(np.uint8), pad], axis=0))
    return np.concatenate(parts, axis=1)


# 3x5 bitmaps of the digits 0-9 (1 = ink), so boards of numbers draw as numbers without a font.
_DIGITS = (
    "111101101101111", "010110010010111", "111001111100111", "111001111001111", "101101111001001",
    "111100111001111", "111100111101111", "111001010010010", "111101111101111", "111101111001111",
)
DIGIT_GLYPHS = np.array([[int(c) for c in d] for d in _DIGITS], dtype=bool).reshape(10, 5, 3)


def draw_digits(image: np.ndarray, digits: np.ndarray, cell: int, ink=(20, 20, 120)) -> np.ndarray:
    """Stamp ``digits [H, W]`` (0-9; -1 = none) into the cells of ``image [H*cell, W*cell, 3]``,
    each glyph scaled to about 60% of the cell height and centred. Returns ``image``."""
    scale = max(1, round(cell * 0.6 / 5))
    glyph_h, glyph_w = 5 * scale, 3 * scale
    top, left = (cell - glyph_h) // 2, (cell - glyph_w) // 2
    for (r, c), d in np.ndenumerate(np.asarray(digits)):
        if 0 <= d <= 9:
            mask = np.kron(DIGIT_GLYPHS[d], np.ones((scale, scale), dtype=bool))
            block = image[r * cell + top : r * cell + top + glyph_h, c * cell + left : c * cell + left + glyph_w]
            block[mask[: block.shape[0], : block.shape[1]]] = ink
    return image
