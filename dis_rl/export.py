"""Slim checkpoints for sharing: the evaluation weights and their story, without optimiser state.

An exported folder holds ``model.safetensors`` and ``meta.json`` (config, data shape, seed, commit,
training time, accuracy, the source checkpoint) in the regular checkpoint format, so
`dis_rl.loading.load_model`, ``dis-rl eval`` and `dis_rl.agents.cfg_agent.CFGAgent` read it unchanged.
When the run kept an EMA of the weights, the EMA (what evaluation used) is exported.

Export deletes only what it made: the target must be new or an earlier export (nothing but
``model.safetensors`` and ``meta.json``), and never the working directory, a folder above it, or a
folder inside or above the checkpoint being exported (`check_export_target`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

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
