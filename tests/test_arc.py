"""ARC loading, validation, tokenisation, the env-facing loader and the domain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dis_rl.puzzles import get_domain
from dis_rl.puzzles.arc import (
    CANVAS,
    EOS,
    SEQ_LEN,
    VOCAB_SIZE,
    ARCFormatError,
    decode_grid,
    encode_grid,
    encode_pair,
    load_arc_dir,
    load_arc_episodes,
    load_task_file,
    load_tasks,
)

# Third-party data kept beside the repository (../shared/data); users of the project lack it.
CONCEPTARC = Path(__file__).resolve().parents[2] / "shared" / "data" / "conceptarc"
needs_conceptarc = pytest.mark.skipif(not CONCEPTARC.is_dir(), reason="shared ConceptARC data absent")


@pytest.mark.parametrize(
    ("source", "split", "tasks", "test_pairs"),
    [
        ("arc1", "train", 400, 416),
        ("arc1", "test", 400, 419),
        ("arc2", "train", 1000, 1076),
        ("arc2", "test", 120, 167),
    ],
)
def test_builtin_counts(source, split, tasks, test_pairs):
    loaded = load_tasks(source, split)
    assert len(loaded) == tasks
    assert sum(len(t.test) for t in loaded) == test_pairs
    assert all(y is not None for t in loaded for _, y in t.test)


def test_round_trip_every_arc1_grid():
    rng = np.random.default_rng(0)
    count = 0
    for split in ("train", "test"):
        for task in load_tasks("arc1", split):
            for x, y in list(task.train) + list(task.test):
                h = max(x.shape[0], y.shape[0])
                w = max(x.shape[1], y.shape[1])
                offset = (int(rng.integers(0, CANVAS - h + 1)), int(rng.integers(0, CANVAS - w + 1)))
                tx, ty = encode_pair(x, y, offset)
                assert tx.shape == (SEQ_LEN,) and tx.max() < VOCAB_SIZE
                np.testing.assert_array_equal(decode_grid(tx), x)
                np.testing.assert_array_equal(decode_grid(ty), y)
                count += 1
    assert count == 1302 + 416 + 1363 + 419


def test_encoding_layout():
    grid = np.array([[0, 1, 2], [3, 4, 5]])
    canvas = encode_grid(grid, (1, 2)).reshape(CANVAS, CANVAS)
    np.testing.assert_array_equal(canvas[1:3, 2:5], grid + 2)
    assert (canvas[3, 2:5] == EOS).all() and (canvas[1:3, 5] == EOS).all()
    assert canvas[3, 5] == 0 and (canvas == EOS).sum() == 5 and (canvas > 0).sum() == 11
    full = encode_grid(np.ones((30, 30), dtype=int))
    assert (full == 3).all()
    np.testing.assert_array_equal(decode_grid(full), np.ones((30, 30)))
    assert decode_grid(np.zeros(SEQ_LEN)) is None


def _write(tmp_path: Path, name: str, content: object | str) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


GOOD = {"train": [{"input": [[1, 2]], "output": [[2, 1]]}], "test": [{"input": [[3]], "output": [[4]]}]}


def _demo(grid: object) -> dict:
    """A task whose one demonstration input is `grid`."""
    return {"train": [{"input": grid, "output": [[1]]}], "test": GOOD["test"]}


BAD_CASES = {
    "not_json": ("{train: oops", "not valid JSON"),
    "no_train": ({"test": GOOD["test"]}, "missing 'train'"),
    "no_test": ({"train": GOOD["train"]}, "missing 'test'"),
    "empty_train": ({"train": [], "test": GOOD["test"]}, "'train' list is empty"),
    "empty_test": ({"train": GOOD["train"], "test": []}, "'test' list is empty"),
    "ragged": (_demo([[1, 2], [3]]), "ragged rows"),
    "non_integer": (_demo([[1, "a"]]), "not an integer"),
    "float": ({"train": GOOD["train"], "test": [{"input": [[1.0]], "output": [[1]]}]}, "not an integer"),
    "colour": (_demo([[1, 10]]), "colour outside 0-9"),
    "negative": (_demo([[-1]]), "colour outside 0-9"),
    "too_big": (_demo([[0] * 31]), "larger than 30x30"),
    "demo_no_output": ({"train": [{"input": [[1]]}], "test": GOOD["test"]}, "has no 'output'"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_each_bad_file_has_its_own_message(tmp_path, case):
    content, expected = BAD_CASES[case]
    path = _write(tmp_path, f"{case}.json", content)
    with pytest.raises(ARCFormatError) as err:
        load_task_file(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_directory_load_reports_and_strict(tmp_path):
    _write(tmp_path, "a_good.json", GOOD)
    sub = tmp_path / "nested"
    sub.mkdir()
    _write(sub, "b_good.json", {"train": GOOD["train"], "test": [{"input": [[1]]}]})  # hidden test
    _write(tmp_path, "c_bad.json", BAD_CASES["colour"][0])
    _write(tmp_path, "d_bad.json", "nope")
    tasks, report = load_arc_dir(tmp_path)
    assert [t.task_id for t in tasks] == ["a_good", "nested/b_good"]
    assert tasks[1].test[0][1] is None
    assert report.loaded == 2 and report.num_bad == 2
    assert "c_bad.json" in report.errors[0] and "d_bad.json" in report.errors[1]
    assert "2 of 4 task files loaded, 2 bad task files" in str(report)
    with pytest.raises(ARCFormatError, match="c_bad.json"):
        load_arc_dir(tmp_path, strict=True)


def test_hidden_test_pair_episode(tmp_path):
    _write(tmp_path, "t.json", {"train": GOOD["train"] * 2, "test": [{"input": [[1]]}, GOOD["test"][0]]})
    ps = load_arc_episodes(tmp_path, "test")
    assert len(ps) == 1
    ps = load_arc_episodes(tmp_path, "test", include_hidden=True)
    assert len(ps) == 2 and (ps.labels[0] == 0).all()
    assert get_domain("arc").scored_cells(ps.labels).tolist() == [0, 3]


def test_episodes_extras_and_domain():
    ps = load_arc_episodes("arc1", "test")
    assert len(ps) == 419 and ps.seq_len == SEQ_LEN and ps.vocab_size == 12
    n, k, length = ps.extras["demo_inputs"].shape
    assert n == 419 and length == SEQ_LEN and k == ps.extras["demo_count"].max()
    tasks = load_tasks("arc1", "test")
    i = 5
    task = tasks[ps.extras["task_index"][i]]
    assert ps.extras["task_id"][i] == task.task_id
    c = ps.extras["demo_count"][i]
    assert c == len(task.train) and (ps.extras["demo_inputs"][i, c:] == 0).all()
    np.testing.assert_array_equal(decode_grid(ps.extras["demo_outputs"][i, 0]), task.train[0][1])
    domain = get_domain("arc")
    assert domain.verify(ps.inputs, ps.labels, ps.labels).all()
    wrong = ps.labels.copy()
    wrong[:, 0] = np.where(wrong[:, 0] == 2, 3, 2)
    assert (domain.distance(ps.inputs, wrong, ps.labels) == 1).all()
    assert not domain.verify(ps.inputs, wrong, ps.labels).any()
    junk = ps.labels.copy()
    junk[ps.labels == 0] = 5  # unscored cells do not count
    assert domain.verify(ps.inputs, junk, ps.labels).all()
    assert "\x1b[48;2" in domain.render_text(ps.labels[0])
    assert domain.render_rgb(ps.labels[0]).dtype == np.uint8


@needs_conceptarc
def test_conceptarc_directory():
    tasks, report = load_arc_dir(CONCEPTARC)
    assert len(tasks) == 160 and report.num_bad == 0
    assert sum(len(t.test) for t in tasks) == 480
