"""Each layer's import pulls in only what its layer may use (imports point down the layers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# `import dis_rl` registers the env ids with gymnasium.register (the plugin convention), so every layer
# may load gymnasium; what a layer must not load is torch and what sits above it.
NUMPY_ONLY = ("torch", "stable_baselines3", "matplotlib", "tensorboard", "dis_rl.envs", "dis_rl.agents")
ENV_LAYER = ("torch", "stable_baselines3", "matplotlib", "tensorboard", "dis_rl.agents")  # numpy + gymnasium
TORCH_LAYER = ("stable_baselines3", "matplotlib", "dis_rl.envs", "dis_rl.agents")

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


def test_import_dis_rl_installs_no_import_hook() -> None:
    """No finder of dis_rl's on sys.meta_path and gymnasium's own loader untouched: the layout is
    what setuptools' package-dir says, visible to static tools."""
    code = (
        "import sys; before = list(sys.meta_path); import gymnasium, dis_rl, dis_rl.envs, dis_rl.agents; "
        "added = [type(f).__module__ for f in sys.meta_path if f not in before]; "
        "print(added, type(gymnasium.__spec__.loader).__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    added, loader = out.stdout.strip().rsplit(" ", 1)
    assert added == "[]", added
    assert not loader.startswith("dis_rl"), loader


def _module_files() -> dict[str, Path]:
    """Every module of the package by import name (envs/ and agents/ are dis_rl.envs / dis_rl.agents)."""
    roots = {"dis_rl": ROOT / "dis_rl", "dis_rl.envs": ROOT / "envs", "dis_rl.agents": ROOT / "agents"}
    files = {}
    for prefix, folder in roots.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join([prefix, *parts])] = path
    return files


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports when it runs, at module level or inside functions. Imports
    under ``if TYPE_CHECKING:`` are left out: they never execute (a method's annotations may name the
    Trainer that runs it without the method depending on the loop's code)."""
    import ast

    tree = ast.parse(path.read_text())
    def type_checking(block: ast.AST) -> bool:
        return isinstance(block, ast.If) and "TYPE_CHECKING" in (getattr(block.test, "id", None),
                                                                  getattr(block.test, "attr", None))

    typing_only = {id(n) for block in ast.walk(tree) if type_checking(block) for stmt in block.body
                   for n in ast.walk(stmt)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name in modules:
                found.add(name)
    return found


def test_no_module_import_cycle() -> None:
    """Imports point down: no module reaches itself through the project's imports (function-local ones
    included). A package's ``__init__`` importing its own submodules is not a cycle of two modules."""
    files = _module_files()
    modules = set(files)
    graph = {name: {m for m in _imports(path, modules) if m != name} for name, path in files.items()}
    # Tarjan's strongly connected components; any component of two or more modules is a cycle.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            packages = {m for m in component if files[m].name == "__init__.py"}
            # a package and the submodules its __init__ re-exports, importing each other by name only
            if len(component) > 1 and not (packages and all(m.startswith(tuple(packages)) for m in component)):
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    assert not cycles, f"import cycles: {cycles}"


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
