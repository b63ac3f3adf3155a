"""What a tolerant load found: how many items were read and loaded, and each bad one's problem."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field


class SkippedItemsWarning(UserWarning):
    """A tolerant load skipped bad items (task files, CSV rows); the message names each and why."""


@dataclass
class LoadReport:
    """Counts and messages of a load that skips bad items (files of a directory, rows of a CSV)."""

    unit: str = "items"
    read: int = 0
    loaded: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def num_bad(self) -> int:
        return len(self.errors)

    def __str__(self) -> str:
        head = f"{self.loaded} of {self.read} {self.unit} loaded, {self.num_bad} bad {self.unit} skipped"
        shown = [f"  {e}" for e in self.errors[:20]]
        if self.num_bad > 20:
            shown.append(f"  ... and {self.num_bad - 20} more")
        return "\n".join([head] + shown)

    def warn(self, where: str) -> None:
        """Say what was skipped (a `SkippedItemsWarning` naming each bad item); nothing if none was.
        Every tolerant loader calls this, so no path skips data in silence."""
        if self.num_bad:
            warnings.warn(f"{where}: {self}", SkippedItemsWarning, stacklevel=3)
