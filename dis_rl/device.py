"""Device and precision handling in one place (no `.cuda()` calls elsewhere)."""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from dis_rl.config import DEVICE_NAMES, valid_device_name


class DeviceError(ValueError):
    """A device name that is malformed or names hardware this machine does not have."""


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto``: CUDA if present, else CPU. Under torchrun, ``auto`` and a bare ``cuda`` mean this
    rank's GPU (``cuda:LOCAL_RANK``), which also becomes the current CUDA device. A malformed or
    absent device is a `DeviceError` (one line at the command line)."""
    if not valid_device_name(str(name)):
        raise DeviceError(f"device {name!r} is not one of {DEVICE_NAMES}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device 'mps' requested but this machine has no Apple GPU; use device cpu or auto")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available on this machine; "
                              "use device cpu or auto")
        if device.index is None:
            device = torch.device("cuda", local_rank)
        if device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {device} requested but only {torch.cuda.device_count()} GPU(s) are visible")
        torch.cuda.set_device(device)
    return device


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast when asked (fp32 master weights stay untouched), a no-op for fp32."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(arrays: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    """Host arrays to ``device``; on CUDA through pinned memory with asynchronous copies so the
    transfer overlaps the GPU work already queued."""
    if device.type != "cuda":
        return {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
    return {k: torch.from_numpy(v).pin_memory().to(device, non_blocking=True) for k, v in arrays.items()}


def compile_blocks(blocks: nn.ModuleList) -> None:
    """``torch.compile`` each block in place (state-dict keys are unchanged, so checkpoints and
    the EMA copy are unaffected). Pays off on GPUs; on CPUs the warm-up rarely repays itself."""
    for block in blocks:
        block.compile()
