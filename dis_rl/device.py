"""Device and precision handling in one place (no `.cuda()` calls elsewhere)."""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

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


def memory_limit(device: torch.device) -> int | None:
    """Bytes a process may use on ``device``: the GPU's memory, or on the CPU the least of the
    machine's RAM, the address-space / data limit (``ulimit -v``) and the cgroup limit (containers,
    schedulers). None when nothing can be read."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    limits = []
    with contextlib.suppress(ValueError, OSError, AttributeError):
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        for kind in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            soft = resource.getrlimit(kind)[0]
            if soft != resource.RLIM_INFINITY and soft > 0:
                limits.append(soft)
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):
            limits.append(int(Path(path).read_text().strip()))  # "max" (no limit) is a ValueError
    return min(limits) if limits else None


def bounded_threads(threads: int) -> int:
    """``train.threads`` bounded by the machine's cores: torch crashes (a segmentation fault) on
    absurd counts, and more threads than cores only slow a run down. Says so when it lowers it."""
    cores = os.cpu_count() or 1
    if threads > cores:
        warnings.warn(f"train.threads={threads} is more than this machine's {cores} CPU cores; using {cores}",
                      stacklevel=2)
        return cores
    return threads


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
