"""What ships with dis-rl and where it lives: the experiment configs and exported checkpoints
(found by name).

The configs live in the repository's top-level ``configs/`` folder; the wheel installs that folder
as ``dis_rl/configs/`` (``package-dir`` in pyproject.toml), so an installed package carries them.
A source checkout or an editable install finds them beside the package instead. A path always
wins over a name: ``dis-rl train my.yaml`` reads that file, ``dis-rl train nqueens_dis`` the
shipped one when no such file exists in the working directory.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKPOINTS_DIR = PACKAGE_DIR / "checkpoints"


def configs_dir() -> Path:
    """The shipped configs: ``dis_rl/configs`` in a wheel install, else the checkout's ``configs/``."""
    installed = PACKAGE_DIR / "configs"
    return installed if installed.is_dir() else PACKAGE_DIR.parent / "configs"


def doc_path(name: str) -> Path:
    """A guide of ``docs/`` (``RL.md``): ``dis_rl/docs`` in a wheel install, else the checkout's ``docs/``."""
    installed = PACKAGE_DIR / "docs"
    return (installed if installed.is_dir() else PACKAGE_DIR.parent / "docs") / name


def source_checkout() -> Path | None:
    """The repository root when dis_rl runs from a git checkout (editable or PYTHONPATH), else None."""
    root = PACKAGE_DIR.parent
    return root if (root / ".git").exists() and (root / "pyproject.toml").is_file() else None


def config_names() -> list[str]:
    """Names of the shipped configs (file names without ``.yaml``), sorted."""
    return sorted(p.stem for p in configs_dir().glob("*.yaml"))


def describe_config(name: str, width: int = 100) -> str:
    """A shipped config's purpose: the first sentence of its leading comment, without a leading
    "`command`:" and cut to ``width`` characters."""
    lines = []
    for line in (configs_dir() / f"{name}.yaml").read_text().splitlines():
        text = line.lstrip("#").strip() if line.startswith("#") else None
        if not text:  # the end of the comment or of its first paragraph
            break
        lines.append(text)
    text = re.sub(r"^`[^`]*`:\s*", "", " ".join(lines))
    text = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def shipped_config(name: str | Path) -> Path | None:
    """The shipped config called ``name`` (``nqueens_dis`` or ``nqueens_dis.yaml``), or None."""
    path = Path(name)
    if len(path.parts) != 1:
        return None
    shipped = configs_dir() / (path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml")
    return shipped if shipped.is_file() else None


def checkpoint_names() -> list[str]:
    """Names of the shipped checkpoints (folders of ``dis_rl/checkpoints/``)."""
    if not CHECKPOINTS_DIR.is_dir():
        return []
    return sorted(p.name for p in CHECKPOINTS_DIR.iterdir() if (p / "meta.json").is_file())


# Old names of shipped checkpoints, still accepted: each checkpoint is named after the config that
# makes it. The Sudoku checkpoint was ``sudoku_dis`` (made by the config ``sudoku_cpu_dis``; the config
# ``sudoku_dis`` is another model), then ``sudoku_cpu_dis``; it is now ``sudoku_cpu``, retrained by
# the config of that name.
CHECKPOINT_ALIASES = {"sudoku_dis": "sudoku_cpu", "sudoku_cpu_dis": "sudoku_cpu"}


def shipped_checkpoint(name: str) -> Path | None:
    """The folder of the shipped checkpoint ``name`` (or of its old name), or None."""
    if len(Path(name).parts) != 1:
        return None
    folder = CHECKPOINTS_DIR / name
    if not (folder / "meta.json").is_file() and name in CHECKPOINT_ALIASES:
        folder = CHECKPOINTS_DIR / CHECKPOINT_ALIASES[name]
    return folder if (folder / "meta.json").is_file() else None


def checkpoint_of_config(name: str) -> str | None:
    """The shipped checkpoint a shipped config made: the one named after it, or None."""
    return name if name in checkpoint_names() else None

