"""Slim checkpoints for sharing: the evaluation weights and their story, without optimiser state.

An exported folder holds ``model.safetensors`` and ``meta.json`` (config, data shape, seed, commit,
training time, accuracy, the source checkpoint) in the regular checkpoint format, so
`dis_rl.evaluate.load_model`, ``dis-rl eval`` and `dis_rl.agents.cfg_agent.CFGAgent` read it unchanged.
When the run kept an EMA of the weights, the EMA (what evaluation used) is exported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from dis_rl.checkpoint import FORMAT, VERSION, _json_default, atomic_folder, evaluation_state, load_checkpoint

MAX_BYTES = 5 * 1024 * 1024


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, evaluate_split: str | None = "test",
                      max_bytes: int = MAX_BYTES) -> Path:
    """Write ``out_dir/{model.safetensors, meta.json}``; re-measure accuracy on ``evaluate_split``
    (None keeps the metrics stored in the checkpoint). Refuses folders over ``max_bytes``."""
    ckpt = load_checkpoint(checkpoint, with_optim=True)
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
    out_dir = Path(out_dir)
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
