"""The cropped ARC canvas (data.canvas: cropped): windows lose no token, keep the canvas positions,
batch by one shape, train (DIS and TRM), evaluate and vote; the full canvas is unchanged."""

import numpy as np
import pytest
import torch

from dis_rl.config import ConfigError, config_from_dict
from dis_rl.data import arc_test_set, build_arc
from dis_rl.model.layers import Rotary
from dis_rl.model.trm import TRM, ModelConfig
from dis_rl.puzzles.arc import CANVAS, SEQ_LEN, canvas_side, fits_crop
from dis_rl.puzzles.arc_vote import evaluate_votes
from dis_rl.puzzles.base import PAD, uncrop, window_cells, windowed_batches
from dis_rl.train import Trainer
from dis_rl.train.stream import ExampleStream

torch.set_num_threads(1)

TASKS = ["6150a2bd", "5582e5ca", "d037b0a7", "3c9b0459", "74dd1130", "a416b8f3", "c8f0f002"]


def arc_cfg(method="dis", canvas="cropped", **train):
    trm = method == "trm"
    data = {"domain": "arc", "sources": ["arc1"], "tasks": TASKS, "evaluate": "train", "num_aug": 3,
            "translate": True, "canvas": canvas}
    model = {"hidden": 16, "layers": 1, "heads": 2, "puzzle_emb_len": 2, "step_embedding": 0 if trm else 8,
             "halting_head": trm}
    tr = {"method": method, "supervision_steps": 3, "batch_size": 4, "max_batches": 3, "eval_every": 0,
          "checkpoint_every": 0, "eval_batch_size": 8, "threads": 1, "warmup_steps": 2, "log_every": 1, **train}
    return config_from_dict({"name": "crop", "data": data, "model": model, "train": tr})


@pytest.fixture(scope="module")
def splits():
    return build_arc(arc_cfg().data)


def test_canvas_side_holds_the_grid_and_its_border():
    assert canvas_side([(3, 3), (2, 5)]) == 6
    assert canvas_side([(3, 3)], step=4) == 4 and canvas_side([(4, 4)], step=4) == 8
    assert canvas_side([(29, 3)]) == CANVAS and canvas_side([(30, 30)], step=4) == CANVAS
    assert fits_crop((5, 2), 6) and not fits_crop((6, 2), 6) and fits_crop((30, 30), CANVAS)


def test_windows_lose_no_token_under_translation_and_augmentation(splits):
    src = splits.train
    keys = src.bucket_keys()
    assert len(keys) == len(src) and len(np.unique(keys)) > 1  # the tasks have grids of several sizes
    for side in np.unique(keys):
        idx = np.flatnonzero(keys == side)
        crop, full = src.get(idx), src.get(idx, crop=False)
        assert crop["inputs"].shape == (len(idx), side * side) == crop["cells"].shape
        for key in ("inputs", "labels"):
            np.testing.assert_array_equal(uncrop(crop[key], crop["cells"], SEQ_LEN), full[key])
        np.testing.assert_array_equal(crop["puzzle_ids"], full["puzzle_ids"])
    mixed = [int(np.flatnonzero(keys == k)[0]) for k in np.unique(keys)[:2]]
    with pytest.raises(ValueError, match="share a crop side"):
        src.get(np.array(mixed))


def test_full_canvas_is_unchanged(splits):
    full = build_arc(arc_cfg(canvas="full").data)
    assert full.train.bucket_keys() is None
    idx = np.arange(0, len(full.train), 3)
    a = full.train.get(idx)
    assert set(a) == {"inputs", "labels", "puzzle_ids"} and a["inputs"].shape[1] == SEQ_LEN
    np.testing.assert_array_equal(a["inputs"], splits.train.get(idx, crop=False)["inputs"])


def test_test_windows_come_from_the_demonstrations(splits):
    test = arc_test_set(splits)
    assert test.seq_len == SEQ_LEN and "window" in test.extras
    for i in range(len(test)):
        side = int(test.extras["window"][i])
        outside = np.ones(SEQ_LEN, bool)
        outside[window_cells(side, CANVAS)] = False
        assert (test.labels[i][outside] == PAD).all()  # known outputs: the window holds the whole answer
    batches = list(windowed_batches(test, 3))
    assert sorted(np.concatenate([b for b, _ in batches]).tolist()) == list(range(len(test)))
    assert all(len(set(test.extras["window"][b].tolist())) == 1 for b, _ in batches)


def test_rotary_phases_follow_the_canvas_cell():
    rot = Rotary(8, 2 + SEQ_LEN)
    x = torch.randn(2, 1, 2 + SEQ_LEN, 8)
    cells = torch.from_numpy(window_cells(5, CANVAS, np.array([[3, 7], [0, 0]])))
    pos = torch.cat([torch.arange(2).expand(2, 2), cells + 2], dim=1)
    picked = torch.stack([x[b, :, pos[b]] for b in range(2)])
    full = rot(x)
    expected = torch.stack([full[b, :, pos[b]] for b in range(2)])
    torch.testing.assert_close(rot(picked, pos), expected)


def test_model_on_all_cells_equals_the_full_canvas_and_mlp_refuses_crops():
    model = TRM(ModelConfig(hidden=16, layers=1, heads=2, puzzle_emb_len=2), 12, SEQ_LEN)
    tokens = torch.randint(0, 12, (2, SEQ_LEN))
    x = model.embed(tokens, None, 1)
    carry = model.initial_carry(2)
    a = model.step(carry, x).logits_after
    b = model.step(carry, x, cells=torch.arange(SEQ_LEN)).logits_after
    torch.testing.assert_close(a, b)
    small = model.step(model.initial_carry(2, 25), model.embed(tokens[:, :25], None, 1),
                       cells=torch.from_numpy(window_cells(5, CANVAS)))
    assert small.logits_after.shape == (2, 25, 12)
    with pytest.raises(ValueError, match="needs `cells`"):
        model.step(model.initial_carry(2, 25), model.embed(tokens[:, :25], None, 1))
    mlp = TRM(ModelConfig(hidden=16, layers=1, variant="mlp", puzzle_emb_len=2), 12, SEQ_LEN)
    with pytest.raises(ValueError, match="cannot run on cropped"):
        mlp.step(mlp.initial_carry(2, 25), mlp.embed(tokens[:, :25], None, 1), cells=torch.arange(25))


def test_config_refuses_crops_with_the_token_mlp_or_other_domains():
    with pytest.raises(ConfigError, match="needs model.variant: attention"):
        config_from_dict({"data": {"domain": "arc", "canvas": "cropped"}, "model": {"variant": "mlp"}})
    with pytest.raises(ConfigError, match="cropped is for ARC"):
        config_from_dict({"data": {"domain": "nqueens", "canvas": "cropped"}})
    with pytest.raises(ConfigError, match="data.canvas must be one of"):
        config_from_dict({"data": {"domain": "arc", "canvas": "small"}})


def test_stream_batches_have_one_shape_cover_each_queue_and_resume_exactly(splits):
    src = splits.train
    keys = src.bucket_keys()
    stream = ExampleStream(src, seed=3)
    seen = {}
    for _ in range(40):
        idx = stream.next_indices(4)
        assert len(set(keys[idx].tolist())) == 1
        seen.setdefault(int(keys[idx[0]]), []).extend(idx.tolist())
    assert set(seen) == set(np.unique(keys).tolist())  # every shape gets batches
    for side, idx in seen.items():  # within a queue: a permutation per epoch, no repeats
        members = int((keys == side).sum())
        first = idx[:members]
        assert len(set(first)) == len(first)
    state = stream.state()
    again = ExampleStream(src, seed=3)
    again.load_state(state)
    for _ in range(5):
        np.testing.assert_array_equal(again.next_indices(4), stream.next_indices(4))
    np.testing.assert_array_equal(again.next_indices(3, bucket=1), stream.next_indices(3, bucket=1))
    one = ExampleStream(build_arc(arc_cfg(canvas="full").data).train, seed=3)
    assert set(one.state()) == {"epoch", "offset"}  # one-shape sources keep the old position format


@pytest.mark.parametrize("method", ["dis", "trm"])
def test_training_on_crops_runs_evaluates_and_resumes_exactly(tmp_path, method):
    straight = Trainer(arc_cfg(method, max_batches=4), tmp_path / "a", progress=False)
    result = straight.run()
    assert result.num_puzzles == len(straight.test_set) and np.isfinite(result.hamming_per_step).all()
    first = Trainer(arc_cfg(method, max_batches=2, checkpoint_every=2), tmp_path / "b", progress=False)
    first.run()
    resumed = Trainer(arc_cfg(method, max_batches=4), tmp_path / "b", progress=False, resume=True,
                      resume_named=("train.max_batches", "train.checkpoint_every"))
    resumed.run(resume=True)
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert straight.examples == resumed.examples and straight.stream.state() == resumed.stream.state()


def test_voting_on_crops_decodes_on_the_canvas():
    """An oracle that answers each copy with its own (cropped) label solves exactly the test pairs
    whose output fits the window chosen from the demonstrations (ARC-AGI-1 evaluation)."""
    cfg = arc_cfg()
    cfg.data.evaluate, cfg.data.force, cfg.data.tasks, cfg.data.num_aug = "arc1", True, TASKS[:1], 1
    sp = build_arc(cfg.data)
    indices = np.arange(len(sp.test))
    sides = sp.test.example_side[sp.test.locate(indices)[0]]
    truth = {}
    for side in np.unique(sides):
        rows = indices[sides == side]
        truth.update(zip(rows.tolist(), sp.test.get(rows)["labels"]))
    # evaluate_votes asks for one crop side at a time, in batches, in index order within a side.
    order = [g[s : s + 64] for side in np.unique(sides) for g in [indices[sides == side]]
             for s in range(0, len(g), 64)]

    def predict(inputs, puzzle_ids, cells=None):
        assert cells is not None and inputs.shape == cells.shape
        return np.stack([truth[int(i)] for i in order.pop(0)]), np.ones(len(inputs))

    result = evaluate_votes(sp.test, predict, batch_size=64, progress=False)
    fits = {}
    for e, (t, j) in enumerate(zip(sp.test.example_task, sp.test.example_pair)):
        y = sp.test.tasks[t].test[j][1]
        fits.setdefault(sp.test.tasks[t].task_id, []).append(fits_crop(y.shape, int(sp.test.example_side[e])))
    for task_id, row in fits.items():
        assert result.task_scores[task_id][1] == pytest.approx(np.mean(row)), task_id
    assert 0 < sum(not f for row in fits.values() for f in row) < 0.05 * result.scored_pairs


def test_holdout_tasks_keep_their_demonstrations_and_hide_their_test_pairs():
    cfg = arc_cfg()
    cfg.data.evaluate, cfg.data.holdout = "holdout", TASKS[:2]
    sp = build_arc(cfg.data)
    held = {t.task_id for t, e in zip(sp.tasks, sp.is_eval) if e}
    assert held == set(TASKS[:2]) and len(sp.tasks) == len(TASKS)
    test_tasks = {sp.tasks[t].task_id for t in sp.test.example_task}
    assert test_tasks == held
    trained = {(sp.tasks[t].task_id, int(j)) for t, j in zip(sp.train.example_task, sp.train.example_pair)}
    for t in sp.tasks:  # held-out tasks train on their demonstrations only
        n = len(t.train) + (0 if t.task_id in held else len(t.test))
        assert {j for tid, j in trained if tid == t.task_id} == set(range(n))
    with pytest.raises(ConfigError, match="go together"):
        config_from_dict({"data": {"domain": "arc", "evaluate": "holdout"}})
    bad = arc_cfg()
    bad.data.evaluate, bad.data.holdout = "holdout", ["ffffffff"]
    with pytest.raises(ConfigError, match="not among the training tasks"):
        build_arc(bad.data)


def test_baselines_copy_the_input_and_rank_demonstration_outputs():
    from dis_rl.puzzles.arc import ARCTask
    from dis_rl.puzzles.arc_augment import make_arc_splits
    from dis_rl.puzzles.arc_vote import baseline_votes

    g = [np.full((2, 2), c, dtype=np.uint8) for c in range(4)]
    same = ARCTask("same", ((g[0], g[1]),), ((g[2], g[2]),))  # the answer is the input
    second = ARCTask("second", ((g[0], g[1]), (g[0], g[1]), (g[1], g[3])), ((g[0], g[3]),))
    sp = make_arc_splits([], [same, second], num_aug=0)
    copy = baseline_votes(sp.test, "copy_input")
    common = baseline_votes(sp.test, "most_common_output")
    assert copy.task_scores == {"same": {1: 1.0, 2: 1.0}, "second": {1: 0.0, 2: 0.0}}
    assert common.task_scores["second"] == {1: 0.0, 2: 1.0}  # g3 is the second most common output
    assert common.task_scores["same"] == {1: 0.0, 2: 0.0}


def test_sweep_runs_on_a_cropped_source(splits):
    from dis_rl.guidance import sweep_w

    cfg = arc_cfg()
    cfg.data.evaluate, cfg.data.holdout = "holdout", TASKS[:3]
    sp = build_arc(cfg.data)
    model = TRM(cfg.model, 12, SEQ_LEN, sp.num_puzzle_ids)
    result = sweep_w(model, sp.test, [1.0], steps=2, batch_size=4, max_aug=2)
    assert result.num_puzzles > 0 and np.isfinite(result.rows[0].hamming_per_step).all()
    assert result.rows[0].votes is not None
