"""dis-rl as an installed library: shipped configs and checkpoints by name, ``--version``, outputs
in the working directory, the package list of pyproject.toml, and (slow) a real wheel installed
into a fresh venv and used from a folder outside the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from dis_rl.checkpoint import CheckpointError, resolve_checkpoint
from dis_rl.cli import main
from dis_rl.config import ConfigError, load_config
from dis_rl.resources import CHECKPOINTS_DIR, PACKAGE_DIR, checkpoint_names, config_names, configs_dir

REPO = Path(__file__).resolve().parent.parent


def test_every_shipped_config_loads_by_name(capsys):
    assert config_names() == sorted(p.stem for p in (REPO / "configs").glob("*.yaml"))
    cfg = load_config("nqueens_dis", ["train.max_batches=3"])
    assert cfg.name == "nqueens_dis" and cfg.train.max_batches == 3
    assert load_config("nqueens_dis.yaml").name == "nqueens_dis"
    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    for name in config_names() + checkpoint_names():
        assert f"  {name}  " in out or out.rstrip().endswith(name)


def test_a_path_wins_over_a_name_and_a_bad_name_lists_the_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nqueens_dis.yaml").write_text("name: mine\n")
    assert load_config("nqueens_dis.yaml").name == "mine"  # the file in the working directory
    with pytest.raises(ConfigError, match="nqueens_dsi is neither a file nor a shipped config.*nqueens_dis"):
        load_config("nqueens_dsi")
    assert resolve_checkpoint("nqueens_dis") == CHECKPOINTS_DIR / "nqueens_dis"
    (tmp_path / "nqueens_dis").mkdir()  # a folder of that name that is no checkpoint: an error, not the shipped one
    with pytest.raises(CheckpointError, match="shipped checkpoint name"):
        resolve_checkpoint("nqueens_dis")


def test_version(capsys):
    import dis_rl

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dis-rl {dis_rl.__version__}"


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts}


def test_outputs_of_the_shipped_checkpoint_go_to_the_working_directory(tmp_path, monkeypatch):
    from dis_rl.commands import show_checkpoint

    monkeypatch.chdir(tmp_path)
    before = _tree(PACKAGE_DIR)
    path = show_checkpoint("nqueens_dis", puzzle=1, device="cpu")
    assert path.resolve() == (tmp_path / "runs" / "show" / "nqueens_dis" / "puzzle_1_w1.png").resolve()
    assert _tree(PACKAGE_DIR) == before


def test_pyproject_lists_every_package_folder():
    tomllib = pytest.importorskip("tomllib")
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = tool.get("package-dir", {})
    listed = set(tool["packages"])
    on_disk = set()
    for top, package in (("dis_rl", "dis_rl"), ("envs", "dis_rl.envs"), ("agents", "dis_rl.agents")):
        for folder in [REPO / top, *(REPO / top).rglob("*")]:
            if folder.is_dir() and folder.name != "__pycache__":
                on_disk.add(".".join((package, *folder.relative_to(REPO / top).parts)))
    on_disk |= set(mapped)
    assert listed == on_disk, f"pyproject.toml packages: add {on_disk - listed}, drop {listed - on_disk}"
    assert mapped == {"dis_rl.configs": "configs", "dis_rl.envs": "envs", "dis_rl.agents": "agents",
                      "dis_rl.docs": "docs"}
    assert configs_dir() == REPO / "configs"


IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import gymnasium as gym
import dis_rl
for package in ("dis_rl", "dis_rl.envs", "dis_rl.agents"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
for env_id in ("NQueensRefine-v0", "SudokuRefine-v0", "ARCRefine-v0"):
    gym.spec(env_id)
files = {}
for name, module in list(sys.modules.items()):
    path = getattr(module, "__file__", None)
    # The project's own files only: a checkout's .venv (as on CI) sits inside REPO too, and
    # extension modules such as torch._C legitimately register several names for one file.
    if path and ("dis_rl" in name or path.startswith(REPO)) and "site-packages" not in path:
        files.setdefault(path, []).append(name)
twice = {path: names for path, names in files.items() if len(names) > 1}
assert not twice, twice
print("modules", len(files))
"""


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_one_module_one_name(tmp_path):
    done = _python(f"REPO = {str(REPO)!r}\n" + IMPORT_EVERYTHING, tmp_path)
    assert done.returncode == 0 and "modules" in done.stdout, done.stderr
    # The checkout's folders are the packages dis_rl.envs / dis_rl.agents and refuse a second name.
    for folder in ("envs", "agents"):
        done = _python(f"import sys; sys.path.insert(0, {str(REPO)!r}); import {folder}", tmp_path)
        assert done.returncode != 0 and f"the package dis_rl.{folder}" in done.stderr, done.stderr


USERS_OWN = """
import gymnasium as gym, dis_rl
env = gym.make("ARCRefine-v0"); env.reset(seed=0)
gym.make("dis_rl:NQueensRefine-v0")
import envs, agents
assert envs.MINE and agents.MINE, "the user's own folders"
from dis_rl.agents.cfg_agent import CFGAgent
import dis_rl.envs
assert dis_rl.envs.__name__ == "dis_rl.envs" and envs is not dis_rl.envs
print("ok")
"""


def _users_folders(cwd: Path) -> None:
    """A very common RL project layout: the user's own envs/ and agents/ packages."""
    for name in ("envs", "agents"):
        (cwd / name).mkdir()
        (cwd / name / "__init__.py").write_text("MINE = True\n")


def test_a_users_own_envs_and_agents_folders_do_not_collide(tmp_path):
    _users_folders(tmp_path)
    done = _python(USERS_OWN, tmp_path)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr


# -- the wheel, installed ------------------------------------------------------------------------------------

AGENT_SNIPPET = """
import gymnasium as gym, dis_rl
from dis_rl.agents.cfg_agent import CFGAgent
agent = CFGAgent("nqueens_dis", w=1.0)
episode = agent.run_episode(gym.make("NQueensRefine-v0", split="test", render_mode="ansi"), seed=0, render=True)
print("solved", episode["solved"], "frames", len(episode["frames"]), "module", dis_rl.__file__)
"""

ARC_SNIPPET = """
import gymnasium as gym, dis_rl
env = gym.make("ARCRefine-v0")
obs, info = env.reset(seed=0)
print("arc input", obs["input"].shape)
"""

# Everything the project itself installs; the rest of this interpreter's site-packages are its
# dependencies, which the fresh venv borrows (see _borrow_dependencies).
OWN = ("dis_rl", "envs", "agents", "__editable__", "__pycache__")


def _copy_source(dest: Path) -> None:
    """The repository's files as a clean clone has them (tracked and new, not ignored)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def _borrow_dependencies(venv: Path) -> None:
    """Make this interpreter's installed dependencies (torch from the pinned build, gymnasium, ...)
    visible to the fresh venv through symlinks in one extra folder named by a .pth file, leaving out
    every trace of dis-rl itself (the editable install, its metadata): the venv then sees dis-rl only
    as the wheel installed into it. Installing torch and the rest from the index instead would cost
    minutes and a network; borrowing checks the same thing (the wheel's files and entry points)."""
    query = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", query], capture_output=True, text=True,
                               check=True).stdout.strip())
    borrowed = venv / "borrowed"
    borrowed.mkdir()
    for source in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        for entry in Path(source).iterdir():
            own = entry.name.startswith(OWN) or entry.name.endswith(".pth")
            if not own and not (borrowed / entry.name).exists():
                (borrowed / entry.name).symlink_to(entry)
    (site / "borrowed.pth").write_text(f"{borrowed}\n")


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_repository(tmp_path):
    import dis_rl

    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to know which files a clone has")
    source, dist, venv, work = (tmp_path / name for name in ("source", "dist", "venv", "work"))
    for folder in (source, work):
        folder.mkdir()
    _copy_source(source)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_NO_INDEX"] = "1"  # nothing is fetched: the build backend and the dependencies are already here
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
          str(source)], tmp_path, env)
    (wheel,) = dist.glob("dis_rl-*.whl")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    _borrow_dependencies(venv)
    python, script = str(venv / "bin" / "python"), str(venv / "bin" / "dis-rl")
    _run([python, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], work, env)
    installed = Path(_run([python, "-c", "import dis_rl; print(dis_rl.__file__)"], work, env).strip()).parent
    assert installed.is_relative_to(venv), installed
    package_files = _tree(installed)
    check = _run([python, "-m", "pip", "check"], work, env)  # the wheel's requirements are met
    assert "dis-rl" not in check.lower() or "no broken" in check.lower(), check

    assert "COMMAND" in _run([script, "--help"], work, env)
    assert _run([script, "--version"], work, env).strip() == f"dis-rl {dis_rl.__version__}"
    assert "nqueens_dis" in _run([script, "configs"], work, env)
    demo = _run([script, "demo", "--no-progress", "train.max_batches=2", "train.eval_every=0",
                 "train.checkpoint_every=0", "train.threads=1", "model.hidden=32"], work, env)
    assert "valid completions" in demo and "Reference checkpoint" in demo, demo
    assert (work / "runs" / "nqueens_dis" / "checkpoints" / "latest").is_file()
    sweep = _run([script, "sweep-w", "nqueens_dis", "--w", "1", "--device", "cpu"], work, env)
    assert "best w" in sweep and (work / "runs" / "sweep_w" / "nqueens_dis" / "sweep_w.png").is_file()
    assert "arc input (900,)" in _run([python, "-c", ARC_SNIPPET], work, env)
    agent = _run([python, "-c", AGENT_SNIPPET], work, env)
    assert "solved " in agent and "frames 7" in agent and str(installed) in agent, agent  # reset + 6 steps
    assert _tree(installed) == package_files, "a command wrote into the installed package"
    top_level = next(venv.glob("lib/*/site-packages/dis_rl-*.dist-info")) / "top_level.txt"
    assert top_level.read_text().split() == ["dis_rl"]  # no top-level envs or agents
    users = work / "users_project"
    users.mkdir()
    _users_folders(users)
    assert _run([python, "-c", USERS_OWN], users, env).strip().endswith("ok")
    meta = json.loads((resolve_checkpoint(work / "runs" / "nqueens_dis") / "meta.json").read_text())
    assert meta["commit"] == "unknown"  # an installed package is no checkout (its folder may sit in another repo)
