"""What the RL arms share about their hyper-parameters: fields with help text, and their TensorBoard table."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import field
from typing import Any


def arg(default: Any, help: str) -> Any:
    """A dataclass field with its help text (CleanRL's one-place hyper-parameters); lists, dicts and config
    sections are copied per instance."""
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


def hparams_markdown(args: Any) -> str:
    """The hyper-parameters of a dataclass as the markdown table TensorBoard's text tab shows."""
    return "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in dataclasses.asdict(args).items())
