"""Each layer's import pulls in only what its layer may use (imports point down the layers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "gymnasium", "stable_baselines3", "matplotlib", "tensorboard", "dis_rl.envs", "dis_rl.agents")
NUMPY_ONLY = HEAVY  # the puzzle and config layers: numpy (and yaml) only
ENV_LAYER = ("torch", "stable_baselines3", "matplotlib", "tensorboard", "dis_rl.agents")  # numpy + gymnasium
TORCH_LAYER = ("gymnasium", "stable_baselines3", "matplotlib", "dis_rl.envs", "dis_rl.agents")

# layer module -> heavy modules its import must not load (a subprocess each: keep the list short)
FORBIDDEN = {
    "dis_rl.puzzles": NUMPY_ONLY,  # runs dis_rl/__init__ too
    "dis_rl.config": NUMPY_ONLY,
    "dis_rl.data": NUMPY_ONLY,
    "dis_rl.envs.arc": ENV_LAYER,  # envs/__init__, envs.core and the ARC puzzles
    "dis_rl.rollout": (*TORCH_LAYER, "tensorboard"),
    "dis_rl.train": TORCH_LAYER,
}


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_layer_import_loads_nothing_above_it(module: str) -> None:
    loaded = loaded_after_import(module)
    assert not loaded & set(FORBIDDEN[module]), f"import {module} loads {sorted(loaded & set(FORBIDDEN[module]))}"


def test_import_dis_rl_registers_the_env_ids_in_either_import_order() -> None:
    for first, second in (("dis_rl", "gymnasium"), ("gymnasium", "dis_rl")):
        code = (
            f"import {first}, {second}; import gymnasium as gym; "
            "print(all(i in gym.registry for i in ('NQueensRefine-v0', 'SudokuRefine-v0', 'ARCRefine-v0')))"
        )
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "True", (first, second, out.stderr)


def test_model_package_imports_nothing_of_dis_rl_outside_itself() -> None:
    """The backbone stands alone (as nanoGPT's model file does): no config, data or run plumbing."""
    import ast

    outside = []
    for path in sorted((ROOT / "dis_rl" / "model").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            outside += [f"{path.name}: {n}" for n in names
                        if n.split(".")[0] == "dis_rl" and not n.startswith("dis_rl.model")]
    assert not outside, outside
