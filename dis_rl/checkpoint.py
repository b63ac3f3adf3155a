"""Checkpoints: tensors in safetensors, everything else in JSON; written atomically, never unpickled.

Layout: ``<run>/checkpoints/step_<N>/{model,optim}.safetensors + meta.json`` and a ``latest``
pointer file. A step folder is written under a temporary name and renamed when complete; the
pointer is replaced atomically, so a crash mid-write leaves the previous checkpoint intact (its
``.tmp-*`` folder is removed by `remove_partial_writes` when the next run starts there). A folder
that already exists (the final save of a step that was just checkpointed) is replaced by renames
only: the old one is moved aside, the new one in, the old one deleted last, so some complete copy
always sits at a known name; a copy left aside by a kill is put back by `remove_partial_writes`,
and readers fall back to the newest intact step when ``latest`` points at nothing.

Only finite weights are ever written (`NonFiniteWeights`) or read, and every reader of ``meta.json``
goes through `read_meta`, which checks its shape and raises one `CheckpointError` naming the file.
The writer and the readers share one module (past 400 lines) on purpose: the crash safety rests on
the write order and the readers' fallbacks together.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from dis_rl.runs import CHECKPOINT_FORMAT

FORMAT = CHECKPOINT_FORMAT
VERSION = 1
ASIDE = ".old-"  # prefix of a folder moved aside while its replacement is renamed in


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt or does not fit the model."""


class NonFiniteWeights(CheckpointError):
    """Tensors holding NaN or infinity: never written, never loaded."""


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
    final = Path(os.path.abspath(final))
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_folder(new: Path, final: Path) -> None:
    """Put the complete folder ``new`` at ``final`` by renames only. Deleting the old folder first
    (as a plain rmtree would) leaves nothing at ``final`` if the process dies in between; moved
    aside as ``.old-<name>-*`` it stays complete until the new one is in place."""
    if not final.exists():
        os.replace(new, final)
        return
    aside = Path(tempfile.mkdtemp(prefix=f"{ASIDE}{final.name}-", dir=final.parent))
    os.replace(final, aside)  # onto the empty placeholder: one rename
    os.replace(new, final)
    shutil.rmtree(aside, ignore_errors=True)


def non_finite(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding NaN or infinity."""
    return [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def _refuse_non_finite(tensors: dict[str, torch.Tensor], where: str) -> None:
    bad = non_finite(tensors)
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise NonFiniteWeights(f"{where}: {len(bad)} tensor(s) hold NaN or infinite values ({shown})")


def _refuse_non_float(weights: dict[str, torch.Tensor], where: str) -> None:
    """Weights are floating point (fp32, or a user's fp16/bf16 copy): a bool or integer tensor is a
    conversion that loading would silently cast back, evaluating to ~0% without a word."""
    bad = [f"{k} ({str(v.dtype).replace('torch.', '')})" for k, v in weights.items() if not v.is_floating_point()]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise CheckpointError(f"{where}: {len(bad)} weight tensor(s) are not floating point ({shown}); a model "
                              f"saved by dis-rl holds float32 weights: the file was converted or damaged")


TENSOR_FILES = ("model.safetensors", "optim.safetensors")


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(folder: Path, meta: dict[str, Any]) -> None:
    """Both tensor files against the digests ``meta.json`` recorded when they were written (absent
    in older and exported checkpoints): an EMA run evaluates the EMA in ``optim.safetensors``, so
    a damaged ``model.safetensors`` would otherwise go unnoticed, and the other way round."""
    recorded = meta.get("files")
    if not isinstance(recorded, dict):
        return
    for name in TENSOR_FILES:
        if name in recorded and (folder / name).is_file() and file_digest(folder / name) != recorded[name]:
            raise CheckpointError(f"{folder / name} does not match the SHA-256 recorded in meta.json when it was "
                                  f"written: the file was changed or damaged since")


def remove_partial_writes(ckpt_dir: str | Path) -> list[Path]:
    """Delete what a killed writer left in ``ckpt_dir`` (``.tmp-*`` folders, the pointer's temp
    file); call it only while holding the run folder's lock. Returns what was removed."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    for aside in sorted(ckpt_dir.glob(f"{ASIDE}step_*")):
        final = ckpt_dir / _aside_name(aside)
        if not final.exists() and (aside / "meta.json").is_file():  # killed mid-swap: the old copy is complete
            os.replace(aside, final)
            warnings.warn(f"restored {final} from {aside.name}, left by a checkpoint replace that did not finish",
                          stacklevel=2)
    removed = (sorted(ckpt_dir.glob(".tmp-*")) + sorted(ckpt_dir.glob(f"{ASIDE}*"))
               + sorted(ckpt_dir.glob(".latest.tmp")))
    for path in removed:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return removed


def _aside_name(aside: Path) -> str:
    """``step_00000004`` of ``.old-step_00000004-k2j3``."""
    return aside.name[len(ASIDE):].rsplit("-", 1)[0]


def _intact(folder: Path) -> bool:
    return (folder / "meta.json").is_file() and (folder / "model.safetensors").is_file()


def newest_intact_step(ckpt_dir: Path) -> Path | None:
    """The step folder (or a complete copy moved aside mid-replace) of the highest step holding
    ``meta.json`` and ``model.safetensors``: what readers use when ``latest`` points at nothing."""
    found = []
    for folder in [*ckpt_dir.glob("step_*"), *ckpt_dir.glob(f"{ASIDE}step_*")]:
        name = _aside_name(folder) if folder.name.startswith(ASIDE) else folder.name
        match = re.fullmatch(r"step_(\d+)", name)
        if match and folder.is_dir() and _intact(folder):
            found.append((int(match.group(1)), not folder.name.startswith(ASIDE), folder))
    return max(found)[2] if found else None


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The step folder ``latest`` points at, or None when there is none (or it is unreadable)."""
    try:
        return resolve_checkpoint(ckpt_dir)
    except CheckpointError:
        return None


def save_checkpoint(
    ckpt_dir: str | Path,
    step: int,
    model_state: dict[str, torch.Tensor],
    meta: dict[str, Any],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    keep: int = 2,
) -> Path:
    """Write ``step_<step>`` atomically, point ``latest`` at it, prune to ``keep`` folders.

    Refuses (`NonFiniteWeights`) weights, EMA or optimiser state holding NaN/inf, so ``latest``
    always points at usable weights; a failed write (disk full) is a `CheckpointError` saying
    which checkpoint is still intact."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    optim_tensors, optim_meta = _flatten_optimizers(optimizers or {})
    optim_tensors.update({k: v.detach().cpu().contiguous() for k, v in (extra_tensors or {}).items()})
    model_tensors = {k: v.detach().cpu().contiguous() for k, v in model_state.items()}
    final = ckpt_dir / f"step_{step:08d}"
    _refuse_non_finite({**model_tensors, **optim_tensors}, f"checkpoint {final} not written")
    full_meta = {"format": FORMAT, "version": VERSION, **meta, "optim": optim_meta, "step": step}
    try:
        with atomic_folder(final) as tmp:
            save_file(model_tensors, str(tmp / "model.safetensors"))
            save_file(optim_tensors, str(tmp / "optim.safetensors"))
            full_meta["files"] = {name: file_digest(tmp / name) for name in TENSOR_FILES}  # verify_files
            (tmp / "meta.json").write_text(json.dumps(full_meta, indent=1, default=_json_default))
        pointer = ckpt_dir / ".latest.tmp"
        pointer.write_text(final.name + "\n")
        os.replace(pointer, ckpt_dir / "latest")
    except (OSError, SafetensorError) as err:
        kept = latest_checkpoint(ckpt_dir)
        if kept:
            still = f"the previous checkpoint {kept} is intact. Free disk space in {ckpt_dir} and resume with --resume"
        else:
            still = (f"no earlier checkpoint exists. Free disk space in {ckpt_dir} and start again with "
                     "--overwrite")
        raise CheckpointError(f"could not write checkpoint {final} ({err}); {still}") from None
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
            try:
                name = pointer.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as err:
                raise CheckpointError(f"{pointer} is unreadable ({err}); it should name a step_<N> folder") from None
            target = candidate / name
            if name and "/" not in name and (target / "meta.json").is_file():
                return target
            fallback = newest_intact_step(candidate)
            if fallback is None:
                raise CheckpointError(f"{pointer} points at {target}, which holds no checkpoint, and no "
                                      f"intact step_* folder is left in {candidate}")
            warnings.warn(f"{pointer} points at {target}, which holds no checkpoint; using the newest intact "
                          f"one, {fallback}", stacklevel=2)
            return fallback
    raise CheckpointError(
        f"no checkpoint at {path}: expected a folder with meta.json + model.safetensors, "
        "a checkpoints/ folder with a 'latest' file, a run folder, or a shipped checkpoint name "
        f"({', '.join(checkpoint_names()) or 'none shipped'})"
    )


# The sections every reader uses, with the type each must have.
_META_SECTIONS = {"config": dict, "data": dict}
_DATA_FIELDS = {"vocab_size": int, "seq_len": int, "num_puzzle_ids": int}
# What resuming a training run reads from ``trainer`` (RL and exported checkpoints hold others).
_TRAINER_FIELDS = {"batches": int, "opt_steps": int, "examples": int, "network_calls": int, "elapsed_s": (int, float),
                   "stream": dict}


def read_meta(folder: str | Path) -> dict[str, Any]:
    """The checked ``meta.json`` of a step or exported folder: the one reader of checkpoint metadata.

    Anything that is not the metadata of a dis-rl checkpoint (bad bytes or JSON, the wrong shape,
    a newer format) raises `CheckpointError` naming the file and what was expected."""
    path = Path(folder) / "meta.json"

    def bad(problem: str) -> CheckpointError:
        return CheckpointError(f"{path} is corrupt or not dis-rl checkpoint metadata: {problem}")

    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as err:
        raise CheckpointError(f"{path} is unreadable: {err}") from None
    except UnicodeDecodeError as err:
        raise bad(f"not UTF-8 text ({err})") from None
    except (ValueError, RecursionError) as err:  # JSONDecodeError, too deeply nested, huge numbers
        raise bad(f"not valid JSON ({str(err)[:200]})") from None
    if not isinstance(meta, dict):
        raise bad(f"expected a JSON object, got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise bad(f"format is {_short(meta.get('format'))}, expected {FORMAT!r}")
    version = meta.get("version")
    if type(version) is not int:
        raise bad(f"version is {_short(version)}, expected an integer")
    if version > VERSION:
        raise CheckpointError(f"{path.parent} was written by a newer dis-rl (format version {version}; "
                              f"this one reads up to {VERSION})")
    for section, kind in _META_SECTIONS.items():
        if not isinstance(meta.get(section), kind):
            raise bad(f"'{section}' is {_short(meta.get(section))}, expected a JSON object")
    if "trainer" in meta and not isinstance(meta["trainer"], dict):
        raise bad(f"'trainer' is {_short(meta['trainer'])}, expected a JSON object")
    _check_fields(meta["data"], _DATA_FIELDS, "data", bad)
    return meta


def _check_fields(values: dict, spec: dict, section: str, bad) -> None:
    for key, kind in spec.items():
        value = values.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise bad(f"'{section}.{key}' is {_short(value)}, expected {getattr(kind, '__name__', 'a number')}")


def trainer_state(ckpt: Checkpoint) -> dict[str, Any]:
    """The ``trainer`` section a training run resumes from, checked like `read_meta` checks the rest."""

    def bad(problem: str) -> CheckpointError:
        return CheckpointError(f"{ckpt.path / 'meta.json'} cannot be resumed: {problem}")

    state = ckpt.meta.get("trainer")
    if not isinstance(state, dict):
        raise bad("it has no 'trainer' section (an exported or RL checkpoint is not a training run)")
    _check_fields(state, _TRAINER_FIELDS, "trainer", bad)
    return state


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def load_checkpoint(path: str | Path, with_optim: bool = True) -> Checkpoint:
    """Read a checkpoint (see `resolve_checkpoint` for ``path``); refuses corrupt files and
    non-finite weights with a `CheckpointError`."""
    folder = resolve_checkpoint(path)
    meta = read_meta(folder)
    try:
        model_state = load_file(str(folder / "model.safetensors"))
        optim = load_file(str(folder / "optim.safetensors")) if with_optim else {}
    except (SafetensorError, OSError, RuntimeError) as err:
        raise CheckpointError(f"{folder}: tensor file is missing or corrupt: {err}") from None
    weights = {**model_state, **{k: v for k, v in optim.items() if k.startswith("ema/")}}
    _refuse_non_finite(weights, f"{folder} is unusable")
    _refuse_non_float(weights, f"{folder} is unusable")
    verify_files(folder, meta)
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
    if ema:  # the raw weights are not evaluated: check that they still describe the same model
        _refuse_non_finite(ema, f"{optim_file} is unusable")
        _refuse_non_float(ema, f"{optim_file} is unusable")
        raw = {k: (tuple(v.shape)) for k, v in ckpt.model_state.items()}
        if raw != {k: tuple(v.shape) for k, v in ema.items()}:
            raise CheckpointError(f"{ckpt.path}: model.safetensors and the EMA in optim.safetensors hold different "
                                  f"tensors (names or shapes): one of the files is damaged or from another run")
    return (ema, "ema") if ema else (ckpt.model_state, "raw")
