"""Checkpoints: tensors in safetensors, everything else in JSON; written atomically, never unpickled.

Layout: ``<run>/checkpoints/step_<N>/{model,optim}.safetensors + meta.json`` and a ``latest``
pointer file. A step folder is written under a temporary name and renamed when complete; the
pointer is replaced atomically, so a crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

FORMAT = "dis-rl-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt or does not fit the model."""


@dataclass
class Checkpoint:
    path: Path
    meta: dict[str, Any]
    model_state: dict[str, torch.Tensor]
    optim_tensors: dict[str, torch.Tensor]


def git_commit() -> str:
    """The short commit of the dis-rl checkout, or "unknown" for an installed package (whose folder
    may sit inside some other repository)."""
    from dis_rl.resources import source_checkout

    root = source_checkout()
    if root is None:
        return "unknown"
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, cwd=root,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _flatten_optimizers(optimizers: dict[str, torch.optim.Optimizer]) -> tuple[dict[str, torch.Tensor], dict]:
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for pid, state in sd["state"].items():
            for key, value in state.items():
                if torch.is_tensor(value):
                    tensors[f"{name}/{pid}/{key}"] = value.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(pid), {})[key] = value
        meta[name] = {"param_groups": sd["param_groups"], "scalars": scalars}
    return tensors, meta


def optimizer_state(ckpt: Checkpoint, name: str) -> dict[str, Any]:
    """Rebuild a ``torch.optim`` state dict saved under ``name``."""
    try:
        info = ckpt.meta["optim"][name]
    except KeyError:
        raise CheckpointError(f"{ckpt.path}: no optimiser state named {name!r}") from None
    state: dict[int, dict[str, Any]] = {}
    prefix = f"{name}/"
    for key, tensor in ckpt.optim_tensors.items():
        if key.startswith(prefix):
            pid, field = key[len(prefix) :].split("/", 1)
            state.setdefault(int(pid), {})[field] = tensor
    for pid, scalars in info["scalars"].items():
        state.setdefault(int(pid), {}).update(scalars)
    return {"state": state, "param_groups": info["param_groups"]}


@contextmanager
def atomic_folder(final: Path) -> Iterator[Path]:
    """A temporary sibling folder to fill; on success it replaces ``final`` in one rename, on any
    error it is removed (so readers see the old folder or the complete new one, never half)."""
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_checkpoint(
    ckpt_dir: str | Path,
    step: int,
    model_state: dict[str, torch.Tensor],
    meta: dict[str, Any],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    keep: int = 2,
) -> Path:
    """Write ``step_<step>`` atomically, point ``latest`` at it, prune to ``keep`` folders."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    optim_tensors, optim_meta = _flatten_optimizers(optimizers or {})
    optim_tensors.update({k: v.detach().cpu().contiguous() for k, v in (extra_tensors or {}).items()})
    full_meta = {"format": FORMAT, "version": VERSION, **meta, "optim": optim_meta, "step": step}
    final = ckpt_dir / f"step_{step:08d}"
    with atomic_folder(final) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model_state.items()}, str(tmp / "model.safetensors"))
        save_file(optim_tensors, str(tmp / "optim.safetensors"))
        (tmp / "meta.json").write_text(json.dumps(full_meta, indent=1, default=_json_default))
    pointer = ckpt_dir / ".latest.tmp"
    pointer.write_text(final.name + "\n")
    os.replace(pointer, ckpt_dir / "latest")
    steps = sorted(p for p in ckpt_dir.glob("step_*") if p.is_dir())
    for old in steps[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in checkpoint metadata")


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a step folder, a checkpoints folder (uses ``latest``), a run folder or the name of a
    shipped checkpoint (``nqueens_dis``; a folder of that name in the working directory wins)."""
    from dis_rl.resources import checkpoint_names, shipped_checkpoint

    path = Path(path)
    shipped = None if path.exists() else shipped_checkpoint(str(path))
    if shipped is not None:
        return shipped
    for candidate in (path, path / "checkpoints"):
        if (candidate / "meta.json").is_file():
            return candidate
        pointer = candidate / "latest"
        if pointer.is_file():
            target = candidate / pointer.read_text().strip()
            if (target / "meta.json").is_file():
                return target
            raise CheckpointError(f"{pointer} points at {target}, which holds no checkpoint")
    raise CheckpointError(
        f"no checkpoint at {path}: expected a folder with meta.json + model.safetensors, "
        "a checkpoints/ folder with a 'latest' file, a run folder, or a shipped checkpoint name "
        f"({', '.join(checkpoint_names()) or 'none shipped'})"
    )


def load_checkpoint(path: str | Path, with_optim: bool = True) -> Checkpoint:
    folder = resolve_checkpoint(path)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{folder / 'meta.json'} is unreadable or corrupt: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{folder / 'meta.json'} is not a dis-rl checkpoint (format={meta.get('format')!r})")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{folder} was written by a newer dis-rl (format version {meta['version']})")
    try:
        model_state = load_file(str(folder / "model.safetensors"))
        optim = load_file(str(folder / "optim.safetensors")) if with_optim else {}
    except (SafetensorError, OSError, RuntimeError) as err:
        raise CheckpointError(f"{folder}: tensor file is missing or corrupt: {err}") from None
    return Checkpoint(folder, meta, model_state, optim)


def evaluation_state(ckpt: Checkpoint) -> tuple[dict[str, torch.Tensor], str]:
    """The weights every evaluation uses, and which they are: the EMA of the weights (``ema/*`` in
    ``optim.safetensors``) when the run kept one, else the raw weights. Training-time evaluation,
    ``eval``, ``export``, the agents and the sweeps all read a run through this one rule."""
    ema = {k[len("ema/"):]: v for k, v in ckpt.optim_tensors.items() if k.startswith("ema/")}
    optim_file = ckpt.path / "optim.safetensors"
    if not ema and not ckpt.optim_tensors and optim_file.is_file():
        try:
            with safe_open(str(optim_file), framework="pt") as f:
                ema = {k[len("ema/"):]: f.get_tensor(k) for k in f.keys() if k.startswith("ema/")}
        except (SafetensorError, OSError, RuntimeError) as err:
            raise CheckpointError(f"{optim_file}: tensor file is corrupt: {err}") from None
    return (ema, "ema") if ema else (ckpt.model_state, "raw")

