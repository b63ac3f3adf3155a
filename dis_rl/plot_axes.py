"""Axis conventions every figure shares, so that each reads at a glance: accuracy in percent from 0
(an all-zero run shows 0..10 %, not -0.04..0.04), counts as 10k / 1.2M, log axes with labelled
1-2-5 ticks and no overlapping minor labels, and a lone outlier (the w = 0 readout before any
reasoning) marked at the top edge instead of flattening every other curve."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter


def compact(value: float, _pos: int | None = None) -> str:
    """``950``, ``12k``, ``1.5M``: tick labels that fit beside each other."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def percent_axis(ax, values: Sequence[float]) -> None:
    """A y-axis of percentages from 0: to 100 once a value passes 60, else to a round ceiling
    (at least 10) above the largest value."""
    peak = max([v for v in values if math.isfinite(v)], default=0.0)
    top = 100.0 if peak > 60 else max(10.0, math.ceil(peak * 1.15 / 10) * 10)
    ax.set_ylim(-0.02 * top, 1.02 * top)  # markers at 0 % and 100 % stay whole


def count_axis(ax, log: bool = False, axis: str = "x") -> None:
    """Compact labels for a count axis (call after plotting); on a log scale majors at 1-2-5 (more
    within a short span) and no minor labels."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    if log:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
        decades = math.log10(high / low) if low > 0 else 3.0
        subs = (1.0, 2.0, 5.0) if decades > 1.5 else (1.0, 2.0, 3.0, 5.0, 7.0)  # a few labels, never crowded
        target.set_major_locator(LogLocator(base=10, subs=subs))
        target.set_minor_formatter(NullFormatter())
    target.set_major_formatter(FuncFormatter(compact))


def clip_outliers(ax, x: Sequence[float], series: dict[str, Sequence[float]], colors: dict[str, str]) -> None:
    """If a few points lie far above the rest, cap the y-axis above the rest and mark each capped
    point at the top edge with its value (the curves keep their shape)."""
    values = np.array([v for ys in series.values() for v in ys if math.isfinite(v)], dtype=float)
    if len(values) < 4:
        return
    low, q90 = float(values.min()), float(np.percentile(values, 90))
    spread = max(q90 - low, 1e-12)
    if values.max() <= q90 + 3 * spread:
        return
    top = q90 + 0.6 * spread
    ax.set_ylim(low - 0.1 * spread, top)
    for label, ys in series.items():
        for xi, yi in zip(x, ys):
            if math.isfinite(yi) and yi > top:
                ax.plot([xi], [top], marker="^", color=colors.get(label, "black"), ms=8, clip_on=False)
                ax.annotate(f"{label}: {yi:.3g} (off scale)", (xi, top), xytext=(6, -12), textcoords="offset points",
                            fontsize=7, color=colors.get(label, "black"))
