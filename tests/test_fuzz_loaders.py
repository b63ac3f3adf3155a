"""Fuzzed loaders (issue 12, class 8): whatever a file holds, only the loader's documented error
escapes (`ARCFormatError`, `SudokuFormatError`, `ConfigError`, `CheckpointError`), never
`OverflowError`, `RecursionError`, `UnicodeDecodeError`, `csv.Error` or `IndexError`; in non-strict
mode a bad file never stops the good ones. The default budget is a few seconds per loader; the
``slow`` twins run many more examples."""

import contextlib
import json
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dis_rl.checkpoint import CheckpointError, read_meta
from dis_rl.config import ConfigError, TrainConfig, load_config
from dis_rl.puzzles.arc import ARCFormatError, load_arc_dir, load_task_file
from dis_rl.puzzles.sudoku import SudokuFormatError, load_csv

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
LONG = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), database=None)

# Values JSON and YAML can hold, extreme numbers included.
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**80), max_value=2**80)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=4), max_leaves=30)
# Byte strings that hit the edge cases by name, besides random ones.
SPECIAL = [b"[" * 100_000 + b"]" * 100_000, b"1" * 5000, b"1e999", b"-1e999", b"NaN", b"\xff\xfe{}",
           '{"a": "é"}'.encode("utf-16"), "é".encode("latin-1"), b"\x00" * 10, b"", b'"' + b"x" * 300_000 + b'"']
raw = st.binary(max_size=2000) | st.sampled_from(SPECIAL)


def _grid():
    cell = st.integers(min_value=-3, max_value=12) | st.sampled_from([2**64, -(2**70), 10**30]) | scalars
    return st.lists(st.lists(cell, min_size=0, max_size=4), min_size=0, max_size=4) | values


def _arc_task():
    pair = st.fixed_dictionaries({"input": _grid()}, optional={"output": _grid()})
    pairs = st.lists(pair, max_size=3) | values
    return st.fixed_dictionaries({}, optional={"train": pairs, "test": pairs}) | values


def _write(data: bytes, name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    path = folder / name
    path.write_bytes(data)
    return path


def _json_bytes(obj) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()


# -- ARC JSON --------------------------------------------------------------------------------------
def _check_arc(data: bytes) -> None:
    path = _write(data, "task.json")
    try:
        load_task_file(path)
    except ARCFormatError as err:
        assert str(path) in str(err)
    good = {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[3]], "output": [[4]]}]}
    (path.parent / "good.json").write_text(json.dumps(good))
    with _quiet():
        tasks, report = load_arc_dir(path.parent)  # non-strict: the bad file never stops the good one
    assert "good" in [t.task_id for t in tasks] and report.read == 2


@contextlib.contextmanager
def _quiet():
    """The loaders warn about each skipped file or row; fuzzing makes thousands."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@QUICK
@given(raw | _arc_task().map(_json_bytes))
def test_arc_loader_fuzz(data):
    _check_arc(data)


@pytest.mark.slow
@LONG
@given(raw | _arc_task().map(_json_bytes))
def test_arc_loader_fuzz_long(data):
    _check_arc(data)


# -- Sudoku CSV ------------------------------------------------------------------------------------
QUESTION = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
ANSWER = "417369825632158947958724316825437169791586432346912758289643571573291684164875293"
row_text = st.text(alphabet=st.sampled_from(list(".0123456789,\"\n\r x") + ["é", "\x00"]), max_size=200)


def _check_csv(data: bytes) -> None:
    path = _write(data, "s.csv")
    for strict in (False, True):
        with _quiet():
            try:
                load_csv(path, strict=strict, multiple_solutions="keep")
            except SudokuFormatError as err:
                assert str(path) in str(err)


def _csv_file(rows: list[str]) -> bytes:
    return ("source,question,answer,rating\n" + "\n".join(rows) + "\n").encode("utf-8", "surrogatepass")


sudoku_rows = st.lists(row_text | st.just(f"a,{QUESTION},{ANSWER},1") | st.builds(
    lambda q, a, r: f"x,{q},{a},{r}", row_text, row_text, st.text(max_size=10) | st.sampled_from(["1e999", "nan"])),
    max_size=5).map(_csv_file)


@QUICK
@given(raw | sudoku_rows)
def test_sudoku_csv_fuzz(data):
    _check_csv(data)


@pytest.mark.slow
@LONG
@given(raw | sudoku_rows)
def test_sudoku_csv_fuzz_long(data):
    _check_csv(data)


def test_sudoku_csv_huge_field_and_nul_are_format_errors(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("source,question,answer,rating\n" + "a," + '"' + "x" * 300_000 + '",b,1\n')
    with pytest.raises(SudokuFormatError, match="not a readable CSV row"):
        load_csv(path)
    path.write_bytes(b"source,question,answer,rating\n\xff\xfe\n")
    with pytest.raises(SudokuFormatError, match="not UTF-8"):
        load_csv(path)


# -- configs ---------------------------------------------------------------------------------------
train_keys = st.sampled_from([f.name for f in TrainConfig.__dataclass_fields__.values()] + ["nope"])
config_trees = st.dictionaries(
    st.sampled_from(["name", "out_dir", "preset", "train", "model", "data", "oops"]),
    st.dictionaries(train_keys, values, max_size=4) | values, max_size=4)


def _check_config(data: bytes) -> None:
    path = _write(data, "c.yaml")
    try:
        load_config(path)
    except ConfigError as err:
        assert str(path) in str(err)


def _yaml_bytes(tree) -> bytes:
    import yaml

    return yaml.safe_dump(tree, allow_unicode=True).encode()


@QUICK
@given(raw | config_trees.map(_yaml_bytes) | st.sampled_from([b"a: &x [*x, *x]\n", b"? [1]\n: 2\n", b"1: 2\n",
                                                             b"preset: [1]\n", b"train: !!python/object:os.system x"]))
def test_config_loader_fuzz(data):
    _check_config(data)


@pytest.mark.slow
@LONG
@given(raw | config_trees.map(_yaml_bytes))
def test_config_loader_fuzz_long(data):
    _check_config(data)


# -- checkpoint meta -------------------------------------------------------------------------------
meta_trees = st.fixed_dictionaries(
    {"format": st.just("dis-rl-checkpoint") | values, "version": st.just(1) | values},
    optional={"config": values, "data": st.fixed_dictionaries({}, optional={"vocab_size": values, "seq_len": values,
                                                                              "num_puzzle_ids": values}) | values,
              "trainer": values})


def _check_meta(data: bytes) -> None:
    path = _write(data, "meta.json")
    try:
        read_meta(path.parent)
    except CheckpointError as err:
        assert str(path) in str(err) or str(path.parent) in str(err)


@QUICK
@given(raw | meta_trees.map(_json_bytes) | values.map(_json_bytes))
def test_checkpoint_meta_fuzz(data):
    _check_meta(data)


@pytest.mark.slow
@LONG
@given(raw | meta_trees.map(_json_bytes) | values.map(_json_bytes))
def test_checkpoint_meta_fuzz_long(data):
    _check_meta(data)
