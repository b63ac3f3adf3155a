"""Progress bars that count what ends a run: network calls or training seconds when a budget is
set (``dis-rl compare``), else the run's own steps (batches, iterations, env steps). A bar over
``max_batches = 10**9`` would show a meaningless total and an ETA of centuries."""

from __future__ import annotations

from tqdm.auto import tqdm


class BudgetBar:
    """A tqdm bar over the binding budget. ``advance`` takes the absolute counters."""

    def __init__(self, desc: str, network_calls: int = 0, seconds: float = 0.0, steps: int = 0,
                 step_unit: str = "batch", enabled: bool = True, initial: dict[str, float] | None = None) -> None:
        if network_calls:
            self.key, total, unit = "calls", network_calls, "call"
        elif seconds:
            self.key, total, unit = "seconds", seconds, "s"
        else:
            self.key, total, unit = "steps", steps, step_unit
        scale = self.key == "calls" and total >= 10_000  # 1.2M/6.0M calls, not 1234567/6000000
        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=not enabled, dynamic_ncols=True,
                        unit_scale=scale, bar_format=None if self.key != "seconds" else
                        "{l_bar}{bar}| {n:.0f}/{total:.0f} training s [{elapsed}<{remaining}{postfix}]")
        if initial:
            self.advance(**initial)

    def advance(self, calls: float = 0, seconds: float = 0.0, steps: float = 0) -> None:
        value = {"calls": calls, "seconds": seconds, "steps": steps}[self.key]
        self.bar.update(min(value, self.bar.total or value) - self.bar.n)

    def set_postfix(self, **values: str) -> None:
        self.bar.set_postfix(**values)

    def write(self, text: str) -> None:
        self.bar.write(text)

    def close(self) -> None:
        self.bar.close()
