"""Every snippet of README.md and docs/*.md runs: the Python blocks (per document, in order, in one
namespace as a reader would run them) and the shell commands (fenced and inline ``dis-rl ...``),
with small budgets put in by override. A snippet that breaks fails CI (``make test-slow``).

Commands are classified first (a fast test): templates with placeholders (``CKPT``, ``[--out DIR]``)
and commands this suite cannot run (``make test`` would recurse, ``torchrun`` needs several
processes, ...) are listed with the reason, so a new snippet is either run or has a stated reason.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMAND = re.compile(r"^\s*(?:\.venv/bin/)?(dis-rl|make|python|torchrun|tensorboard|pip)\b")
PLACEHOLDER = re.compile(r"\[|<|\.\.\.|\b(CKPT|CONFIG|RUN|DIR|PATH|SOURCE|COMMAND|N|K|I|W)\b|path/to")

# Commands not run here, by how they start, and why.
NOT_RUN = {
    "make test": "runs this suite",
    "make demo": "is `dis-rl demo`, run below with a small budget",
    "torchrun": "needs several processes (docs/SCALING.md; tests/test_distributed.py covers the code)",
    "tensorboard": "a viewer",
    "pip": "installs packages",
    "python benchmarks/": "a measurement script (minutes); benchmarks are scripts, not tests",
    "dis-rl data stats sudoku.csv": "needs the reader's own CSV file",
}

# Small budgets, by subcommand (appended: later overrides and flags win).
N_QUEENS_SMALL = ["train.max_batches=2", "train.eval_every=0", "train.checkpoint_every=0", "train.threads=1",
                  "train.batch_size=8", "data.num_train=40", "data.num_test=20", "model.hidden=32"]
ARC_SMALL = ["train.max_batches=1", "train.eval_every=0", "train.checkpoint_every=0", "train.threads=1",
             "train.batch_size=2", "train.eval_batch_size=8", "data.tasks=[007bbfb7,0d3d703e]", "data.num_aug=1",
             "data.evaluate=holdout", "data.holdout=[0d3d703e]",  # a test pair to score and vote on
             "model.hidden=32", "model.heads=2", "model.layers=1", "model.puzzle_emb_len=1"]
RL_SMALL = {
    "ppo_scratch": ["ppo.total_env_steps=64", "ppo.num_envs=4", "ppo.n_steps=8", "ppo.batch_size=16",
                    "ppo.eval_every=64", "ppo.data.num_test=20", "ppo.hidden=16", "ppo.layers=1"],
    "pg_finetune": ["finetune.iterations=1", "finetune.puzzles_per_batch=2", "finetune.group_size=2",
                    "finetune.eval_batch_size=20"],
}
COMPARE_SMALL = ["seeds=1", "budget.network_calls=2000", "budget.seconds=0", "eval_points=2",
                 "overrides=[train.threads=1,data.num_train=40,data.num_test=20,train.batch_size=8,model.hidden=32]"]
# Paths the docs write to that must not be a `dis_rl/` folder in the working directory here.
REWRITES = {"dis_rl/checkpoints/nqueens_dis": "exported/nqueens_dis"}


@dataclass
class Snippet:
    doc: str
    line: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def fenced_blocks(doc: Path) -> list[tuple[str, int, str]]:
    """``(language, first line number, body)`` of every fenced block, fences paired in order."""
    blocks, lang, start, body = [], None, 0, []
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        if line.startswith("```"):
            if lang is None:
                lang, start, body = line[3:].strip(), number + 1, []
            else:
                blocks.append((lang, start, "\n".join(body) + "\n"))
                lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def python_blocks(doc: Path) -> list[Snippet]:
    return [Snippet(doc.name, start, body) for lang, start, body in fenced_blocks(doc) if lang == "python"]


def shell_commands(doc: Path) -> list[Snippet]:
    """Fenced commands (bash, sh or plain blocks; ``\\`` continuations joined, ``#`` comments
    dropped) and inline ``dis-rl ...`` spans outside fences, in document order."""
    found = []
    for lang, start, body in fenced_blocks(doc):
        if lang in ("bash", "sh", ""):
            lines = body.splitlines()
            k = 0
            while k < len(lines):
                line, first = lines[k], k
                while line.endswith("\\") and k + 1 < len(lines):
                    k += 1
                    line = line[:-1] + " " + lines[k].strip()
                if COMMAND.match(line):
                    found.append(Snippet(doc.name, start + first, line.split(" #")[0].strip()))
                k += 1
    prose = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), doc.read_text(), flags=re.S | re.M)
    for m in re.finditer(r"`((?:\.venv/bin/)?dis-rl [^`]+)`", prose):
        found.append(Snippet(doc.name, prose[: m.start()].count("\n") + 1, m.group(1).strip()))
    return sorted(found, key=lambda s: s.line)


def classify(command: str) -> str | None:
    """Why ``command`` is not run (None: it runs)."""
    bare = command.removeprefix(".venv/bin/")
    for start, reason in NOT_RUN.items():
        if bare.startswith(start):
            return reason
    if PLACEHOLDER.search(bare):
        return "a template with placeholders"
    words = shlex.split(bare)
    if words[0] == "dis-rl" and _lacks_arguments(words[1:]):
        return "names a command in prose"
    return None


def _lacks_arguments(args: list[str]) -> bool:
    """A ``dis-rl`` command without its required arguments (prose naming it, as `dis-rl data stats`)."""
    import argparse
    import contextlib
    import io

    from dis_rl.cli import build_parser

    parser = build_parser()
    parser.exit_on_error = False
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(args)
    except argparse.ArgumentError:
        return True
    except SystemExit as done:  # --help, --version exit 0; a missing argument exits 2
        return done.code != 0
    return False


def small(words: list[str]) -> list[str]:
    """``dis-rl`` arguments with small budgets appended."""
    from dis_rl.config import locate_config, read_yaml

    if words[0] in ("train", "demo"):
        config = words[1] if words[0] == "train" else "nqueens_dis"
        # A reader re-running a training command into its used folder would pass --overwrite.
        again = [] if "--resume" in words else ["--overwrite"]
        return words + (ARC_SMALL if "arc" in Path(config).stem else N_QUEENS_SMALL) + again + ["--no-progress"]
    if words[0] == "compare":
        return words + COMPARE_SMALL + ["--no-progress"]
    if words[0] == "rl":
        arm = read_yaml(locate_config(REPO / words[1] if "/" in words[1] else words[1]))["arm"]
        return words + RL_SMALL[arm] + ["--overwrite", "--no-progress"]
    if words[:2] == ["data", "sudoku"]:  # generation: a few puzzles, not the reader's hundred
        return words + ["--num", "3"]
    if words[0] == "eval" and "--vote" in words:
        return words + ["--vote", "2"]
    if words[0] == "sweep-w":
        return words + ["--w", "0,1", "--no-progress"]
    return words


def all_snippets() -> tuple[list[Snippet], list[Snippet]]:
    return [s for d in DOCS for s in python_blocks(d)], [s for d in DOCS for s in shell_commands(d)]


def test_every_command_in_the_docs_runs_or_has_a_reason():
    run = _commands()
    assert len(run) >= 20, [c.text for c in run]
    for c in run:
        words = shlex.split(c.text.removeprefix(".venv/bin/"))
        assert words[0] == "dis-rl", f"{c.id}: {c.text!r} would run without a budget; add it to NOT_RUN or small()"


# -- running them ------------------------------------------------------------------------------------------

def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env.pop("PYTHONHOME", None)
    return env


@pytest.fixture(scope="module")
def reader_dirs(tmp_path_factory):
    """One working folder per document (its commands run there in order, as its reader would run
    them), with the repository's configs/ beside it: the docs name config paths."""
    folders: dict[str, Path] = {}

    def folder(doc: str) -> Path:
        if doc not in folders:
            folders[doc] = tmp_path_factory.mktemp(doc.removesuffix(".md"))
            (folders[doc] / "configs").symlink_to(REPO / "configs")
        return folders[doc]

    return folder


def _prerequisites(cwd: Path, words: list[str]) -> None:
    """Runs a command needs that the doc made with a command this suite cannot run (a template), or
    that an RL config names (runs/nqueens_dis: "train the checkpoint first")."""
    needed = [w.removeprefix("runs/") for w in words if w.startswith("runs/")]
    if words[0] in ("rl", "compare") and "rl_" in words[1]:
        needed.append("nqueens_dis")
    for name in needed:
        if not (cwd / "runs" / name).exists() and (REPO / "configs" / f"{name}.yaml").is_file():
            _run(cwd, small(["train", name]), f"prerequisite runs/{name}")


def _commands() -> list[Snippet]:
    """The commands that run, each distinct one once (its first place in the docs)."""
    seen, out = set(), []
    for c in all_snippets()[1]:
        key = c.text.removeprefix(".venv/bin/")
        if classify(c.text) is None and key not in seen:
            seen.add(key)
            out.append(c)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("snippet", _commands(), ids=lambda s: s.id)
def test_doc_command_runs(snippet: Snippet, reader_dirs):
    text = snippet.text
    for old, new in REWRITES.items():
        text = text.replace(old, new)
    words = small(shlex.split(text.removeprefix(".venv/bin/"))[1:])
    cwd = reader_dirs(snippet.doc)
    _prerequisites(cwd, words)
    _run(cwd, words, snippet.id)


def _run(cwd: Path, words: list[str], where: str = "setup") -> None:
    done = subprocess.run([sys.executable, "-m", "dis_rl", *words], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{where}: dis-rl {' '.join(words)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


# Python blocks: budgets by text substitution, per document (exact strings, so a changed snippet
# that no longer matches shows up as a slow run, not as a silent skip).
PYTHON_SMALL = {
    '["train.max_batches=100"]': repr(["train.max_batches=2", *N_QUEENS_SMALL[1:]]),
    ".learn(10_000)": ".learn(64)",
    "model.learn(100_000)": "model.learn(64)",
    "num_envs=1024": "num_envs=16",
}

RUNNER = r"""
import sys, traceback
namespace = {"__name__": "__main__"}
for where, code in BLOCKS:
    try:
        exec(compile(code, where, "exec"), namespace)
    except Exception:
        traceback.print_exc()
        print(f"SNIPPET FAILED: {where}", file=sys.stderr)
        sys.exit(1)
"""


def _python_docs() -> list[str]:
    return sorted({s.doc for s in all_snippets()[0]})


@pytest.mark.slow
@pytest.mark.parametrize("doc", _python_docs())
def test_doc_python_blocks_run(doc: str, reader_dirs):
    blocks = []
    for block in all_snippets()[0]:
        if block.doc == doc:
            code = block.text
            for old, new in PYTHON_SMALL.items():
                code = code.replace(old, new)
            blocks.append((block.id, code))
    script = f"BLOCKS = {blocks!r}\n" + RUNNER
    cwd = reader_dirs(doc)
    _prerequisites(cwd, ["rl", "rl_"] if "runs/nqueens_dis" in script else ["-"])
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
