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
    validate_task,
)
from dis_rl.puzzles.arc_augment import (
    LeakageError,
    apply_augmentation,
    build_arc_splits,
    data_stats,
    embedding_table_bytes,
    invert_augmentation,
    plan_augmentations,
    render_tokens,
)
from dis_rl.puzzles.arc_source import _task_grids
from dis_rl.puzzles.arc_vote import Ballot, evaluate_votes

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


# --------------------------------------------------------------------------------------------
# Augmentation, splits, voting


def _tiny_task(task_id: str, pairs: list[tuple[list, list | None]], demos: int = 2) -> dict:
    demo = {"input": [[1, 2, 0], [0, 3, 4]], "output": [[4, 3], [0, 2], [0, 1]]}
    return {"train": [demo] * demos, "test": [{"input": x, **({"output": y} if y else {})} for x, y in pairs]}


def test_render_matches_grid_level_transform():
    rng = np.random.default_rng(1)
    for _ in range(64):
        h, w = (int(v) for v in rng.integers(1, 31, size=2))
        grid = rng.integers(0, 10, size=(h, w)).astype(np.uint8)
        k = int(rng.integers(0, 8))
        colours = np.concatenate([[0], rng.permutation(9) + 1]).astype(np.uint8)
        side = max(h, w)
        offset = np.array([[rng.integers(0, CANVAS - side + 1), rng.integers(0, CANVAS - side + 1)]])
        canvas = np.zeros((1, CANVAS, CANVAS), dtype=np.uint8)
        canvas[0, :h, :w] = grid
        tokens = render_tokens(canvas, np.array([[h, w]]), np.array([k]), colours[None], offset)[0]
        expected = apply_augmentation(grid, k, colours)
        np.testing.assert_array_equal(tokens, encode_grid(expected, tuple(offset[0])))
        np.testing.assert_array_equal(invert_augmentation(decode_grid(tokens), k, colours), grid)


def test_plan_distinct_and_every_augmentation_inverts():
    tasks = load_tasks("arc1", "train")[:6]
    plan = plan_augmentations(tasks, num_aug=1000, seed=0)
    assert plan.num_puzzle_ids == len(plan.dihedral) + 1
    for p, task in enumerate(tasks):
        rows = range(plan.start[p], plan.start[p + 1])
        assert plan.dihedral[rows[0]] == 0 and (plan.colours[rows[0]] == np.arange(10)).all()
        contents = set()
        for r in rows:
            k, colours = int(plan.dihedral[r]), plan.colours[r]
            assert colours[0] == 0 and sorted(colours) == list(range(10))
            out = [apply_augmentation(g, k, colours) for g in _task_grids(task)]
            contents.add(b"|".join(bytes(g.shape) + g.tobytes() for g in out))
            for g, o in zip(_task_grids(task), out):
                np.testing.assert_array_equal(invert_augmentation(o, k, colours), g)
        assert len(contents) == len(rows) <= 1001


def test_plan_dedup_caps_symmetric_task():
    task = validate_task({"train": [{"input": [[1]], "output": [[1]]}], "test": [{"input": [[1]]}]}, "t")
    plan = plan_augmentations([task], num_aug=1000)
    assert len(plan.dihedral) == 9  # one colour, every rotation the same: 9 distinct copies
    two = validate_task({"train": [{"input": [[1, 2]], "output": [[2, 1]]}], "test": [{"input": [[1]]}]}, "u")
    assert len(plan_augmentations([two], num_aug=1000).dihedral) == 72 * 4  # 4 distinct dihedral images


@pytest.fixture(scope="module")
def arc1_splits():
    return build_arc_splits(("arc1",), "arc1", num_aug=3, seed=0)


def test_splits_counts_and_shared_ids(arc1_splits):
    sp = arc1_splits
    tasks_tr, tasks_ev = load_tasks("arc1", "train"), load_tasks("arc1", "test")
    demos = sum(len(t.train) for t in tasks_tr + tasks_ev)
    assert sp.train.num_examples == demos + 416 and sp.test.num_examples == 419
    assert len(sp.test) == 419 * 4 and sp.is_eval.sum() == 400
    assert sp.duplicates == ["070dd51e"]
    test_ids = set(sp.test.get(np.arange(len(sp.test)))["puzzle_ids"].tolist())
    train_ids = set(sp.train.get(np.arange(len(sp.train)))["puzzle_ids"].tolist())
    assert test_ids <= train_ids and 0 not in train_ids  # eval puzzles' ids are learnt from their demos
    assert "puzzle-embedding table" in sp.describe(512)
    assert embedding_table_bytes(876_405, 512) == 876_405 * 512 * 4


def test_source_deterministic_and_translation_in_training_only(arc1_splits):
    src = arc1_splits.train
    idx = np.random.default_rng(0).integers(0, len(src), 300)
    a, b = src.get(idx), src.get(idx[::-1])
    for key in a:
        np.testing.assert_array_equal(a[key], b[key][::-1])
    assert a["inputs"].dtype == np.int64 and a["inputs"].shape == (300, SEQ_LEN)
    moved = a["inputs"].reshape(-1, CANVAS, CANVAS)[:, 0, 0] == 0  # PAD in the corner: translated
    assert moved.mean() > 0.5
    # One offset per example for the run (TRM's stored augmentations): a second read is the same.
    np.testing.assert_array_equal(src.get(idx)["inputs"], a["inputs"])
    test = arc1_splits.test.get(np.arange(len(arc1_splits.test)))["inputs"].reshape(-1, CANVAS, CANVAS)
    assert (test[:, 0, 0] >= 2).all()


def test_leakage_guard():
    with pytest.raises(LeakageError, match="376 of the 400 evaluation tasks"):
        build_arc_splits(("arc2",), "arc1", num_aug=0)
    forced = build_arc_splits(("arc2",), "arc1", num_aug=0, force=True)
    assert forced.test.num_examples == 419


def _oracle(source):
    data = source.get(np.arange(len(source)))
    table = {
        x.tobytes() + int(p).to_bytes(8, "little"): y
        for x, p, y in zip(data["inputs"], data["puzzle_ids"], data["labels"])
    }

    def predict(inputs, puzzle_ids):
        preds = np.stack(
            [table[x.tobytes() + int(p).to_bytes(8, "little")] for x, p in zip(inputs, puzzle_ids)]
        )
        return preds, np.ones(len(inputs))

    return predict


def test_oracle_scores_full_pass_at_2(arc1_splits, tmp_path):
    result = evaluate_votes(
        arc1_splits.test,
        _oracle(arc1_splits.test),
        ks=(1, 2),
        progress=False,
        submission_path=tmp_path / "submission.json",
    )
    assert result.pass_at == {1: 1.0, 2: 1.0} and result.scored_tasks == 400 and result.scored_pairs == 419
    sub = json.loads((tmp_path / "submission.json").read_text())
    task = load_tasks("arc1", "test")[0]
    assert len(sub) == 400 and len(sub[task.task_id]) == len(task.test)
    assert sub[task.task_id][0]["attempt_1"] == task.test[0][1].tolist()


def _voting_dirs(tmp_path: Path) -> Path:
    same = [[5, 6], [7, 8]]
    (tmp_path / "training").mkdir()
    (tmp_path / "evaluation").mkdir()
    _write(tmp_path / "training", "t.json", _tiny_task("t", [(same, same)]))
    _write(tmp_path / "evaluation", "a.json", _tiny_task("a", [(same, same), ([[9, 9]], [[1]])]))
    _write(tmp_path / "evaluation", "b.json", _tiny_task("b", [([[1, 2]], [[1, 2]])]))
    _write(tmp_path / "evaluation", "c.json", _tiny_task("c", [([[3]], [[4]]), ([[3, 3]], None)]))
    return tmp_path


def test_copy_input_scores_share_of_identity_pairs(tmp_path):
    sp = build_arc_splits((_voting_dirs(tmp_path),), tmp_path, num_aug=20)
    result = evaluate_votes(sp.test, lambda x, p: (x, np.zeros(len(x))), progress=False, batch_size=7)
    # a: 1 of 2 pairs is the identity, b: 1 of 1, c: 0 of 1 (its hidden pair is not scored).
    assert result.scored_tasks == 3 and result.scored_pairs == 4
    assert result.pass_at[2] == pytest.approx((0.5 + 1 + 0) / 3)
    assert len(result.ranked["c"]) == 2


def test_vote_picks_majority_and_breaks_ties_by_confidence(tmp_path):
    sp = build_arc_splits((_voting_dirs(tmp_path),), tmp_path, num_aug=20)
    oracle = _oracle(sp.test)

    def mostly_right(inputs, puzzle_ids):
        preds, conf = oracle(inputs, puzzle_ids)
        wrong = (puzzle_ids % 3) == 0  # a third of the copies answer a blank 1x1 grid, confidently
        preds[wrong] = encode_grid(np.zeros((1, 1), dtype=np.uint8))
        return preds, np.where(wrong, 10.0, 0.1)

    result = evaluate_votes(sp.test, mostly_right, progress=False)
    assert result.pass_at[1] == 1.0
    ballot = Ballot()
    for grid, conf in [([[1]], 0.1), ([[2]], 0.9), ([[1]], 0.2), ([[2]], 0.8), ([[3]], 5.0)]:
        ballot.add(np.array(grid, dtype=np.uint8), conf)
    ranked = ballot.ranked()
    assert [int(c.grid[0, 0]) for c in ranked] == [2, 1, 3] and ranked[0].votes == 2


def test_data_stats_text(tmp_path):
    text = data_stats(_voting_dirs(tmp_path), num_aug=10)
    assert "train: 1 tasks" in text and "test: 3 tasks" in text and "(1 hidden)" in text
