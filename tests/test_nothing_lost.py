"""Nothing lost, round two (issue 27): a command deletes or overwrites only what it made; the final
checkpoint is replaced by renames; SIGTERM is handled like Ctrl-C; bad sizes, special files and
odd ARC layouts end in one line, fast. Each test names the issue item it covers."""

import errno
import hashlib
import json
import os
import shutil
import signal
import time
import warnings
from pathlib import Path

import pytest
import torch

from dis_rl import checkpoint, runs
from dis_rl.checkpoint import load_checkpoint
from dis_rl.cli import main
from dis_rl.config import ConfigError, config_from_dict
from dis_rl.puzzles.load_report import SkippedItemsWarning
from dis_rl.runs import LOCK_NAME, RunFolderError
from dis_rl.train import Trainer, train

TINY = ["model.hidden=32", "model.layers=1", "model.heads=2", "model.puzzle_emb_len=1", "data.num_train=40",
        "data.num_test=20", "train.batch_size=16", "train.max_batches=4", "train.eval_every=0",
        "train.checkpoint_every=2", "train.log_every=1", "train.threads=1", "train.eval_batch_size=20"]
CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "nqueens_dis.yaml")
RUN_MARKER = ".dis-rl-run"  # the file that makes a folder dis-rl's (runs.RUN_MARKER); users may see and keep it


@pytest.fixture(scope="module")
def run_a(tmp_path_factory):
    """One finished tiny run (checkpoints at 2 and 4), copied fresh into each test that changes it."""
    root = tmp_path_factory.mktemp("a")
    train(config_from_dict({}, TINY + [f"out_dir={root}", "name=A"]), progress=False, figures=False)
    return root / "A"


def _copy_run(run_a, where: Path) -> Path:
    shutil.copytree(run_a, where)
    return where


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``: relative path -> content hash ('dir' for folders)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = "dir" if path.is_dir() else hashlib.sha1(path.read_bytes()).hexdigest()
    return out


def untouched(before: dict, after: dict, output: str | None = None) -> list[str]:
    """What changed that is not under ``output``: files changed or gone, and new ones elsewhere."""
    changed = [p for p, h in before.items() if after.get(p) != h]
    new = [p for p in after if p not in before
           and not (output is not None and (output in ("", ".") or p == output or p.startswith(output + "/")))]
    return changed + new


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if line.startswith("dis-rl")]
    assert lines and "Traceback" not in err, err
    return lines[-1]


# -- 1: export ---------------------------------------------------------------------------------------
def test_export_deletes_only_what_it_made(run_a, tmp_path, monkeypatch, capsys):
    """Item 1: `.`, a foreign folder, the source run, its checkpoints/, a parent and "" are refused."""
    sandbox = tmp_path / "sandbox"
    (sandbox / "out").mkdir(parents=True)
    (sandbox / "out" / "mine.txt").write_text("the user's")
    (sandbox / "notes.txt").write_text("keep me")
    run = _copy_run(run_a, tmp_path / "runs" / "A")
    monkeypatch.chdir(sandbox)
    before = snapshot(tmp_path)
    for target, needle in [(".", "working directory or a folder above it"), ("..", "working directory"),
                           ("out", "exists and is not an earlier export"), (str(run), "inside or above"),
                           (str(run / "checkpoints"), "inside or above"), ("", "OUT_DIR is empty"),
                           (str(run / "checkpoints" / "step_00000002" / "x"), "inside or above")]:
        assert main(["export", str(run), target, "--no-eval"]) == 2, target
        assert needle in _one_line_error(capsys), target
    assert untouched(before, snapshot(tmp_path)) == []
    # a new folder, then the same folder again: an earlier export is replaced
    assert main(["export", str(run), "exports/a", "--no-eval"]) == 0
    first = json.loads((sandbox / "exports" / "a" / "meta.json").read_text())
    assert main(["export", str(run), "exports/a", "--no-eval"]) == 0
    assert json.loads((sandbox / "exports" / "a" / "meta.json").read_text())["exported_from"] == first["exported_from"]
    assert sorted(p.name for p in (sandbox / "exports").iterdir()) == ["a"]  # nothing left aside


# -- 2: --overwrite only of a dis-rl run folder; --run-dir "" --------------------------------------
def test_overwrite_deletes_only_a_folder_dis_rl_made(run_a, tmp_path, monkeypatch, capsys):
    """Item 2: a copy of the package's layout (checkpoints/<name>/meta.json), a user's config.yaml and
    tb/, and --run-dir "" are refused, with --overwrite too; marked and pre-marker runs are replaced."""
    package = tmp_path / "dis_rl_copy"
    shutil.copytree(Path(checkpoint.__file__).parent / "checkpoints", package / "checkpoints")
    (package / "config.py").write_text("# source\n")
    user = tmp_path / "user"
    (user / "tb").mkdir(parents=True)
    (user / "config.yaml").write_text("my: settings\n")
    (user / "tb" / "events").write_text("mine")
    before = snapshot(tmp_path)
    for folder in (package, user):
        assert main(["train", CONFIG, *TINY, "--run-dir", str(folder), "--overwrite", "--no-progress"]) == 2
        assert f"is not a dis-rl run folder (it has no {RUN_MARKER})" in _one_line_error(capsys)
    monkeypatch.chdir(user)
    assert main(["train", CONFIG, *TINY, "--run-dir", "", "--overwrite", "--no-progress"]) == 2
    assert "--run-dir is empty" in _one_line_error(capsys)
    with pytest.raises(RunFolderError, match="--run-dir is empty"):
        Trainer(config_from_dict({}, TINY), run_dir="", progress=False)
    assert untouched(before, snapshot(tmp_path)) == []
    # a run of a dis-rl from before the marker (config.yaml + checkpoints/step_*/meta.json) is still its own
    old = _copy_run(run_a, tmp_path / "old")
    (old / RUN_MARKER).unlink()
    assert runs.is_dis_rl_run(old) and not runs.is_dis_rl_run(user) and not runs.is_dis_rl_run(package)
    train(config_from_dict({}, TINY + ["train.max_batches=2"]), run_dir=old, progress=False, overwrite=True,
          figures=False)
    assert load_checkpoint(old).meta["trainer"]["batches"] == 2 and (old / RUN_MARKER).is_file()


# -- 3: the final save replaces by renames; readers fall back -----------------------------------------
def test_a_kill_during_the_final_save_loses_no_checkpoint(run_a, tmp_path, monkeypatch, capsys):
    """Item 3: killed between the renames of the final save (step 4 is saved twice), a complete copy
    of step 4 survives; eval uses it and says so, --resume puts it back and continues."""
    real_replace = os.replace
    seen = []

    def killed_on_the_second_write(src, dst):
        if Path(src).name.startswith(".tmp-") and Path(dst).name == "step_00000004":
            seen.append(dst)
            if len(seen) == 2:
                raise SystemExit("killed")  # what a kill leaves: no cleanup beyond atomic_folder's own
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", killed_on_the_second_write)
    with pytest.raises(SystemExit):
        train(config_from_dict({}, TINY + [f"out_dir={tmp_path}", "name=k"]), progress=False, figures=False)
    monkeypatch.undo()
    ckpts = tmp_path / "k" / "checkpoints"
    assert not (tmp_path / "k" / LOCK_NAME).exists()
    with pytest.warns(UserWarning, match="points at .*step_00000004, which holds no checkpoint; using the newest"):
        kept = load_checkpoint(tmp_path / "k")
    assert kept.meta["trainer"]["batches"] == 4
    with pytest.warns(UserWarning, match="using the newest intact one"):
        assert main(["eval", str(tmp_path / "k"), "--no-progress"]) == 0
    with pytest.warns(UserWarning, match="restored .*step_00000004"):
        train(config_from_dict({}, TINY + [f"out_dir={tmp_path}", "name=k", "train.max_batches=6"]),
              progress=False, resume=True, figures=False, resume_named=("train.max_batches",))
    assert sorted(p.name for p in ckpts.iterdir()) == ["latest", "step_00000004", "step_00000006"]
    # nothing aside at all: the newest intact step is used, and resume continues from it
    shutil.rmtree(ckpts / "step_00000006")
    with pytest.warns(UserWarning, match="using the newest intact one, .*step_00000004"):
        train(config_from_dict({}, TINY + [f"out_dir={tmp_path}", "name=k", "train.max_batches=6"]),
              progress=False, resume=True, figures=False, resume_named=("train.max_batches",))
    assert load_checkpoint(tmp_path / "k").meta["trainer"]["batches"] == 6


# -- 4: no output is an input or a file inside a checkpoint ---------------------------------------
def test_outputs_never_land_on_inputs_or_inside_checkpoints(run_a, tmp_path, capsys):
    """Item 4: eval --submission into a step's meta.json, show/sweep-w into the run or its checkpoints."""
    run = _copy_run(run_a, tmp_path / "A")
    before = snapshot(tmp_path)
    step = run / "checkpoints" / "step_00000002"
    cases = [
        (["eval", str(run), "--vote", "2", "--submission", str(step / "meta.json")], "lies inside the checkpoint"),
        (["eval", str(run), "--vote", "2", "--submission", str(run / "checkpoints" / "latest")], "lies inside"),
        (["show", str(run), "--out", str(step / "strip.png")], "lies inside the checkpoint"),
        (["show", str(run), "--out", str(run / "accuracy_vs_calls.png")], "is a file of the run"),
        (["sweep-w", str(run), "--w", "1", "--out", str(run)], "is this command's input"),
        (["sweep-w", str(step), "--w", "1", "--out", str(step)], "is this command's input"),
    ]
    for argv, needle in cases:
        assert main(argv) == 2, argv
        assert needle in _one_line_error(capsys), argv
    assert untouched(before, snapshot(tmp_path)) == []


# -- 5: SIGTERM like SIGINT; true advice before the first checkpoint ---------------------------------
def _signal_at(monkeypatch, batch: int, *signals: int) -> None:
    """Deliver ``signals`` to this process during round ``batch`` (1-based) of DIS training."""
    from dis_rl.train.dis import DISMethod

    real = DISMethod.train_round
    count = []

    def round_with_signal(self):
        count.append(1)
        if len(count) == batch:
            for s in signals:
                os.kill(os.getpid(), s)
                time.sleep(0.01)  # let the handler run before the next one
        return real(self)

    monkeypatch.setattr(DISMethod, "train_round", round_with_signal)


def test_sigterm_checkpoints_releases_the_lock_and_says_how_to_resume(tmp_path, monkeypatch, capsys):
    """Item 5: SIGTERM mid-run: a checkpoint at that batch, no lock, exit 143, advice that works."""
    argv = ["train", CONFIG, *TINY, "train.max_batches=6", "train.checkpoint_every=100", f"out_dir={tmp_path}",
            "name=t", "--no-progress"]
    _signal_at(monkeypatch, 3, signal.SIGTERM)
    handler = signal.getsignal(signal.SIGTERM)
    assert main(argv) == 143
    err = _one_line_error(capsys)
    assert "interrupted by SIGTERM after batch 3, saved" in err and "continue with the same command and --resume" in err
    assert not (tmp_path / "t" / LOCK_NAME).exists()
    assert load_checkpoint(tmp_path / "t").meta["trainer"]["batches"] == 3
    assert signal.getsignal(signal.SIGTERM) is handler  # main() restored the handler
    monkeypatch.undo()
    assert main([*argv, "--resume"]) == 0
    assert load_checkpoint(tmp_path / "t").meta["trainer"]["batches"] == 6


def test_an_interrupt_before_any_checkpoint_gives_advice_that_works(tmp_path, monkeypatch, capsys):
    """Item 5: two Ctrl-C in the first round stop at once with nothing saved: the advice is
    --overwrite, which works; Ctrl-C while the data is built: a plain re-run, which works."""
    argv = ["train", CONFIG, *TINY, "train.max_batches=2", f"out_dir={tmp_path}", "name=i", "--no-progress"]
    _signal_at(monkeypatch, 1, signal.SIGINT, signal.SIGINT)
    assert main(argv) == 130
    err = _one_line_error(capsys)
    assert "nothing was saved yet" in err and "--overwrite" in err and "--resume" not in err
    assert not (tmp_path / "i" / LOCK_NAME).exists()
    monkeypatch.undo()
    assert main([*argv, "--overwrite"]) == 0
    import dis_rl.train.loop as loop

    def interrupted(_):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "build_data", interrupted)
    fresh = [*argv[:-2], "name=j", "--no-progress"]
    assert main(fresh) == 130
    assert "nothing was saved yet; run the same command again" in _one_line_error(capsys)
    monkeypatch.undo()
    assert main(fresh) == 0


def test_an_arm_stopped_inside_compare_or_demo_gets_that_commands_advice(monkeypatch, capsys):
    """Item 5: compare and demo run the training loop too; its --resume advice is not theirs."""
    import dis_rl.cli as cli
    from dis_rl.train import TrainingInterrupted

    def stopped(_args):
        raise TrainingInterrupted("interrupted by SIGTERM after batch 3; continue with the same command and --resume",
                                  "SIGTERM")

    parse = cli.parse_args
    for command, needle in [("compare", "finished arms are reused"), ("demo", "dis-rl demo --overwrite")]:
        monkeypatch.setattr(cli, f"_cmd_{command}", stopped)
        args = parse([command, "x"] if command == "compare" else [command])
        args.func = stopped
        monkeypatch.setattr(cli, "parse_args", lambda argv=None, args=args: args)
        assert main([]) == 143
        err = capsys.readouterr().err
        assert needle in err and "--resume" not in err, command


# -- 6, 11: data sudoku ------------------------------------------------------------------------------
def _status(argv: list[str]) -> int:
    """The exit status of ``dis-rl argv``: returned, or argparse's own (an error in the arguments)."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def test_data_sudoku_checks_its_output_and_settings_before_generating(tmp_path, monkeypatch, capsys):
    """Items 6 and 11: an existing CSV needs --overwrite; a folder, "", --keep-fraction 0, --blanks 81
    and --workers 0 are one-line errors before any puzzle is generated."""
    import dis_rl.puzzles.sudoku as sudoku

    existing = tmp_path / "existing.csv"
    existing.write_text("the user's data\n")
    real = sudoku.generate_with_report
    calls = []
    monkeypatch.setattr(sudoku, "generate_with_report", lambda *a, **k: calls.append(1) or real(*a, **k))
    new = str(tmp_path / "n.csv")
    cases = [([str(existing)], "exists; pass --overwrite"), ([str(tmp_path)], "is a folder"), ([""], "OUT is empty"),
             ([new, "--workers", "0"], "1 <= --workers"), ([new, "--workers", "100000"], "this machine's cores")]
    for argv, needle in cases:
        assert _status(["data", "sudoku", *argv, "--num", "1", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err, argv
    assert calls == [] and existing.read_text() == "the user's data\n"
    for flag, value, needle in [("--keep-fraction", "0", "--keep-fraction must be in (0, 1]"),
                                ("--blanks", "81", "blanks <= 64")]:
        assert _status(["data", "sudoku", new, "--num", "1", flag, value, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err
    assert not (tmp_path / "n.csv").exists()
    assert main(["data", "sudoku", str(existing), "--num", "1", "--overwrite", "--no-progress"]) == 0
    assert existing.read_text().startswith("source,question,answer,rating")


def test_forked_workers_end_quietly_under_the_sigterm_handler(tmp_path, capfd):
    """Item 5's handler is the command's own (a regression test of this round, not an issue item): a
    worker pool's terminate() (SIGTERM to forked workers) still just ends them, printing nothing."""
    assert main(["data", "sudoku", str(tmp_path / "w.csv"), "--num", "4", "--workers",
                 str(min(2, os.cpu_count() or 1)), "--no-progress"]) == 0
    assert "KeyboardInterrupt" not in capfd.readouterr().err


# -- 7: read-only folder, full disk ------------------------------------------------------------------
def test_unwritable_folders_and_full_disks_are_messages_and_leave_no_lock(tmp_path, monkeypatch, capsys):
    """Item 7: read-only (EROFS) and full (ENOSPC) at the lock, full at the first checkpoint, full
    when the figures are drawn: one line each, no 0-byte lock, no --resume advice without a checkpoint."""
    argv = ["train", CONFIG, *TINY, "train.max_batches=2", f"out_dir={tmp_path}", "--no-progress"]
    real_open = os.open

    def read_only(path, *a, **k):
        if str(path).endswith(LOCK_NAME):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(runs.os, "open", read_only)
    assert main([*argv, "name=ro"]) == 2
    assert "Read-only file system" in _one_line_error(capsys)
    monkeypatch.undo()

    class FullDisk:
        def __init__(self, fd, *a, **k):
            os.close(fd)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, _text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runs.os, "fdopen", FullDisk)
    assert main([*argv, "name=full"]) == 2
    assert "disk is full" in _one_line_error(capsys)
    assert not (tmp_path / "full" / LOCK_NAME).exists()  # no empty lock left behind
    monkeypatch.undo()

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint, "save_file", no_space)
    assert main([*argv, "name=ck"]) == 2
    err = _one_line_error(capsys)
    assert "no earlier checkpoint exists" in err and "--overwrite" in err and "--resume" not in err
    monkeypatch.undo()
    import dis_rl.plots as plots

    monkeypatch.setattr(plots, "plot_run", no_space)
    assert main([*argv, "name=fig"]) == 0  # the run is complete; only its figures are missing
    assert "figures: not written (No space left on device" in capsys.readouterr().out


# -- 8, 12: ARC files: FIFOs, symlinked folders, the Kaggle layout -----------------------------------
def _task(grid=((1, 2), (3, 4))) -> dict:
    g = [list(r) for r in grid]
    return {"train": [{"input": g, "output": g}], "test": [{"input": g, "output": g}]}


@pytest.fixture
def alarm():
    """Fail (instead of hanging forever) if the block blocks for 20 s, e.g. opening a FIFO."""
    def timeout(*_):
        raise TimeoutError("blocked: a special file was opened")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_fifos_are_skipped_unopened_and_symlinked_folders_followed(tmp_path, alarm, capsys):
    """Items 8 and 12: a FIFO named like a task file, a symlinked sub-folder of tasks, a link loop."""
    import gymnasium as gym

    from dis_rl import envs  # noqa: F401  (registers the ids)
    from dis_rl.puzzles.arc import load_arc_dir

    folder, elsewhere = tmp_path / "arc", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    (folder / "good.json").write_text(json.dumps(_task()))
    (elsewhere / "linked.json").write_text(json.dumps(_task()))
    os.mkfifo(folder / "pipe.json")
    (folder / "more").symlink_to(elsewhere, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    with pytest.warns(SkippedItemsWarning, match=r"pipe.json: not a regular file \(a FIFO\); skipped without"):
        tasks, report = load_arc_dir(folder)
    assert sorted(t.task_id for t in tasks) == ["good", "more/linked"]
    assert (report.read, report.loaded) == (3, 2)
    assert main(["data", "stats", str(folder)]) == 0
    assert "2 of 3 task files loaded" in capsys.readouterr().out
    with pytest.warns(SkippedItemsWarning, match="not a regular file"):
        gym.make("ARCRefine-v0", source=str(folder), split="test").close()


def test_kaggle_layout_reports_every_task_it_skips(tmp_path):
    """Item 12: a solutions count that differs from the tests, colour 99 in a solution, colour 11 in
    a challenge: each named in a SkippedItemsWarning; `data stats` counts tasks, not files."""
    from dis_rl.data_stats import data_stats
    from dis_rl.puzzles.arc import load_kaggle

    grid = [[1, 2], [3, 4]]

    def challenge(x=grid):
        return {"train": [{"input": x, "output": grid}], "test": [{"input": x}]}

    (tmp_path / "arc-agi_training_challenges.json").write_text(json.dumps(
        {"a": challenge(), "b": challenge(), "c": challenge(), "d": challenge([[11, 0]])}))
    (tmp_path / "arc-agi_training_solutions.json").write_text(json.dumps(
        {"a": [grid], "b": [grid, grid], "c": [[[99]]], "d": [grid]}))
    with pytest.warns(SkippedItemsWarning) as caught:
        tasks = load_kaggle(tmp_path, "train")
    assert [t.task_id for t in tasks] == ["a"]
    text = str(caught[0].message)
    assert "1 of 4 tasks loaded, 3 bad tasks skipped" in text
    assert "b: 2 solution(s) for 1 test input(s)" in text and "= 99 is a colour" in text and "= 11 is a colour" in text
    report = data_stats(str(tmp_path))
    assert "1 of 4 tasks loaded" in report and "missing 'train' list" not in report and "0 of" not in report


# -- 9, 10, 11: sizes and one-line messages ----------------------------------------------------------
def test_sizes_are_checked_before_any_work(run_a, tmp_path, monkeypatch, capsys):
    """Item 9 (and 11's batch under a memory limit): a batch that cannot fit, a 2 MB config,
    a meta.json whose domain does not match the weights: refused in seconds."""
    import dis_rl.train.loop as loop

    started = time.perf_counter()

    def no_data(_):
        raise AssertionError("data was built for a batch that cannot fit")

    monkeypatch.setattr(loop, "build_data", no_data)
    assert main(["train", CONFIG, *TINY, "train.batch_size=1000000000000", f"out_dir={tmp_path}", "--no-progress"]) == 2
    assert "train.batch_size=1,000,000,000,000: one batch needs at least" in _one_line_error(capsys)
    monkeypatch.undo()
    monkeypatch.setattr(loop, "memory_limit", lambda device: 2**30)  # ulimit -v 1G
    with pytest.raises(ConfigError, match=r"train.batch_size=2,000,000: .* more than the 1.0 GiB cpu memory"):
        Trainer(config_from_dict({}, TINY + ["train.batch_size=2000000", f"out_dir={tmp_path}"]), progress=False)
    monkeypatch.undo()
    big = tmp_path / "big.yaml"
    big.write_text("data:\n  domain: arc\n  tasks: [" + ", ".join(f'"t{i:07x}"' for i in range(200_000)) + "]\n")
    assert main(["train", str(big), "--no-progress"]) == 2
    assert "configs are at most 1 MiB" in _one_line_error(capsys)
    with pytest.raises(ConfigError, match="data.tasks lists 100,001 task ids"):
        config_from_dict({"data": {"domain": "arc", "tasks": [f"t{i}" for i in range(100_001)]}})
    for name, edit, needle in [
        ("sudoku_meta", lambda m: m["config"]["data"].update(domain="sudoku"), "config says data.domain 'sudoku'"),
        ("arc_says_nqueens", lambda m: m["data"].update(domain="arc", vocab_size=12), "trained on 'arc'"),
    ]:
        step = tmp_path / name
        shutil.copytree(load_checkpoint(run_a).path, step)
        meta = json.loads((step / "meta.json").read_text())
        edit(meta)
        (step / "meta.json").write_text(json.dumps(meta))
        assert main(["eval", str(step), "--no-progress"]) == 2
        assert needle in _one_line_error(capsys), name
    assert time.perf_counter() - started < 60


def test_threads_are_bounded_by_the_machine(monkeypatch):
    """Item 10: train.threads=100000 segfaulted torch; it is lowered to the core count, with a warning."""
    import dis_rl.train.loop as loop

    asked = []
    monkeypatch.setattr(loop.torch, "set_num_threads", asked.append)
    with pytest.warns(UserWarning, match=r"train.threads=100000 is more than this machine's \d+ CPU cores"):
        Trainer(config_from_dict({}, TINY + ["train.threads=100000", "out_dir=/nonexistent-parent/x"]),
                progress=False)
    assert asked == [os.cpu_count()]


def test_listed_tracebacks_are_one_line_messages(run_a, tmp_path, capsys):
    """Item 11: a 300-character name=, show --out x.csv (before any drawing)."""
    assert main(["train", CONFIG, *TINY, "name=" + "x" * 300, f"out_dir={tmp_path}", "--no-progress"]) == 2
    assert "has a folder name of 300 bytes; file systems allow at most 255" in _one_line_error(capsys)
    assert main(["show", str(run_a), "--out", str(tmp_path / "x.csv")]) == 2
    assert "the strip is an image; name a file ending in one of .png" in _one_line_error(capsys)
    assert not (tmp_path / "x.csv").exists()


# -- every command that writes, pointed at what is not its own ----------------------------------------
def test_no_command_touches_what_is_not_its_output(run_a, tmp_path, monkeypatch, capsys):
    """Done-when of issue 27: train, export, eval --submission, sweep-w --out, show --out,
    data sudoku and compare, each with its output at a foreign folder, at its own input, at `.` and
    at "": nothing but the command's own output changes (a snapshot of the tree before and after)."""
    sandbox = tmp_path / "sandbox"
    foreign = sandbox / "foreign"
    for sub in ("tb", "checkpoints", "arms"):
        (foreign / sub).mkdir(parents=True)
        (foreign / sub / "mine.txt").write_text(sub)
    (foreign / "config.yaml").write_text("my: settings\n")
    (foreign / "results.json").write_text("{}")
    shutil.copy(CONFIG, sandbox / "config.yaml")  # the user's config: train's input, in the working directory
    (sandbox / "notes.txt").write_text("keep me")
    _copy_run(run_a, sandbox / "runs" / "A")
    monkeypatch.chdir(sandbox)
    tiny = [*TINY, "train.max_batches=1"]
    commands = {  # output target -> argv; what may change when the command succeeds
        "train": lambda t: ["train", "config.yaml", *tiny, "--run-dir", t, "--overwrite", "--no-progress"],
        "export": lambda t: ["export", "runs/A", t, "--no-eval"],
        "eval --submission": lambda t: ["eval", "runs/A", "--vote", "2", "--submission", t, "--no-progress"],
        "sweep-w --out": lambda t: ["sweep-w", "runs/A", "--w", "1", "--out", t],
        "show --out": lambda t: ["show", "runs/A", "--out", t],
        "data sudoku": lambda t: ["data", "sudoku", t, "--num", "1", "--no-progress"],
        "compare": lambda t: ["compare", "compare_nqueens", f"out_dir={Path(t).parent}", f"name={Path(t).name}",
                              "--no-progress"],
    }
    inputs = {"train": "config.yaml", "export": "runs/A",
              "eval --submission": "runs/A/checkpoints/step_00000002/meta.json", "sweep-w --out": "runs/A",
              "show --out": "runs/A/checkpoints/latest", "data sudoku": "notes.txt", "compare": "runs/A"}
    for name, argv in commands.items():
        for target in ("foreign", inputs[name], ".", ""):
            before = snapshot(sandbox)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                status = _status(argv(target))
            capsys.readouterr()
            allowed = target if status == 0 else None
            assert untouched(before, snapshot(sandbox), allowed) == [], (name, target, status)
            assert status == 0 or status == 2, (name, target, status)
            assert status == 2 or name == "sweep-w --out" and target in ("foreign", "."), (name, target)
    torch.set_num_threads(1)
