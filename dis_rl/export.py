"""Slim checkpoints for sharing: the evaluation weights and their story, without optimiser state.

An exported folder holds ``model.safetensors`` and ``meta.json`` (config, data shape, seed, commit,
training time, accuracy, the source checkpoint) in the regular checkpoint format, so
`dis_rl.evaluate.load_model`, ``dis-rl eval`` and `dis_rl.agents.cfg_agent.CFGAgent` read it unchanged.
When the run kept an EMA of the weights, the EMA (what evaluation used) is exported.

Export deletes only what it made: the target must be new or an earlier export (nothing but
``model.safetensors`` and ``meta.json``), and never the working directory, a folder above it, or a
folder inside or above the checkpoint being exported (`check_export_target`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from dis_rl.checkpoint import FORMAT, VERSION, _json_default, atomic_folder, evaluation_state, load_checkpoint
from dis_rl.runs import RunFolderError, inside_checkpoint, is_checkpoint_meta, run_folder_of

MAX_BYTES = 5 * 1024 * 1024
EXPORT_FILES = {"model.safetensors", "meta.json"}


def is_export(folder: Path) -> bool:
    """An earlier ``dis-rl export``: its two files and nothing else, ``meta.json`` naming its source."""
    try:
        names = {p.name for p in folder.iterdir()}
        meta = json.loads((folder / "meta.json").read_bytes()) if is_checkpoint_meta(folder / "meta.json") else {}
    except (OSError, ValueError):
        return False
    return names <= EXPORT_FILES and isinstance(meta, dict) and "exported_from" in meta


def check_export_target(source: str | Path, checkpoint: Path, out_dir: str | Path) -> Path:
    """Refuse a target export would have to delete something it did not make; changes nothing."""
    if not str(out_dir).strip():
        raise RunFolderError("OUT_DIR is empty: name a new folder to export into")
    target = Path(os.path.abspath(out_dir))
    cwd = Path(os.path.abspath(os.getcwd()))
    if target == cwd or target in cwd.parents:
        raise RunFolderError(f"OUT_DIR {out_dir} is the working directory or a folder above it; export replaces "
                             "its target, so name a new folder (e.g. exports/<name>)")
    sources = {Path(os.path.abspath(p)) for p in (checkpoint, run_folder_of(checkpoint))}
    if Path(source).exists():
        sources.add(Path(os.path.abspath(source)))
    for src in sources:
        if target == src or src in target.parents or target in src.parents:
            raise RunFolderError(f"OUT_DIR {out_dir} is inside or above the checkpoint being exported ({src}); "
                                 "name a folder outside it")
    holder = inside_checkpoint(target.parent)
    if holder is not None:
        raise RunFolderError(f"OUT_DIR {out_dir} lies inside the checkpoint {holder}; name a folder outside it")
    if target.exists() and not (target.is_dir() and is_export(target)):
        raise RunFolderError(f"OUT_DIR {out_dir} exists and is not an earlier export (only model.safetensors and "
                             "meta.json); export never deletes what it did not make: name a new folder")
    return target


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, evaluate_split: str | None = "test",
                      max_bytes: int = MAX_BYTES) -> Path:
    """Write ``out_dir/{model.safetensors, meta.json}``; re-measure accuracy on ``evaluate_split``
    (None keeps the metrics stored in the checkpoint). Refuses folders over ``max_bytes``."""
    ckpt = load_checkpoint(checkpoint, with_optim=True)
    out_dir = check_export_target(checkpoint, ckpt.path, out_dir)
    weights, which = evaluation_state(ckpt)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "config": ckpt.meta["config"],
        "data": ckpt.meta["data"],
        "seed": ckpt.meta.get("seed"),
        "commit": ckpt.meta.get("commit", "unknown"),
        "parameters": ckpt.meta.get("parameters"),
        "training": {
            **{k: v for k, v in ckpt.meta.get("trainer", {}).items() if k != "stream"},
            "weights": which,
        },
        "metrics": ckpt.meta.get("metrics", {}),
        "exported_from": str(ckpt.path),
        "optim": {},
        "step": ckpt.meta.get("step"),
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with atomic_folder(out_dir) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, str(tmp / "model.safetensors"))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        if evaluate_split is not None:
            from dis_rl.evaluate import evaluate_checkpoint

            result = evaluate_checkpoint(str(tmp), split=evaluate_split, device="cpu")
            meta["metrics"] = {**result.summary(), "split": evaluate_split, "num_puzzles": result.num_puzzles,
                               "valid_per_step": result.valid_per_step}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        size = sum(p.stat().st_size for p in tmp.iterdir())
        if size > max_bytes:
            raise ValueError(f"exported checkpoint is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB "
                             "limit: export a smaller model")
    return out_dir
