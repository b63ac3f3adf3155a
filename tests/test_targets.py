"""Target generators: nested frames, the last frame is the label, distance never rises; the public
DIS code's canvas path; step weights."""

import numpy as np
import pytest
import torch

from dis_rl.losses import cross_entropy
from dis_rl.puzzles import nqueens
from dis_rl.puzzles.arc import encode_pair
from dis_rl.puzzles.base import PAD
from dis_rl.targets import IGNORE, make_frames, step_weights, unscored_token

RANDOM_KINDS = ("path", "mask", "replace")


@pytest.fixture(scope="module")
def batch():
    train, _ = nqueens.generate(num_train=64, num_test=8, seed=3)
    b = train.get(np.arange(64))
    return torch.from_numpy(b["inputs"]), torch.from_numpy(b["labels"])


@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_last_frame_is_label_and_distance_falls(kind, batch):
    inputs, labels = batch
    frames = make_frames(kind, inputs, labels, 6, 3, torch.Generator().manual_seed(0))
    assert frames.shape == (6, *labels.shape)
    assert torch.equal(frames[-1], labels)
    per_example = (frames != labels).sum(-1)  # [6, B]
    assert (per_example[1:] <= per_example[:-1]).all(), "distance to the label rose between steps"
    assert per_example.float().mean(1)[0] > per_example.float().mean(1)[-2] > 0


@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_expected_distance_falls_strictly(kind, batch):
    inputs, labels = batch
    g = torch.Generator().manual_seed(1)
    mean = sum((make_frames(kind, inputs, labels, 6, 3, g) != labels).sum((1, 2)).double() for _ in range(20))
    assert (mean[1:] < mean[:-1]).all()


def test_path_reveals_floor_s_k_over_n_cells_from_the_input(batch):
    inputs, labels = batch
    frames = make_frames("path", inputs, labels, 4, 3, torch.Generator().manual_seed(0))
    k = (inputs != labels).sum(-1)
    for s in range(1, 5):
        changed = (frames[s - 1] != inputs).sum(-1)
        assert torch.equal(changed, (s * k) // 4)
        # Only cells where input and label differ ever change, and they change to the label.
        moved = frames[s - 1] != inputs
        assert torch.equal(frames[s - 1][moved], labels[moved])


@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_start_frame_is_the_path_start_and_the_rest_unchanged(kind, batch):
    inputs, labels = batch
    plain = make_frames(kind, inputs, labels, 6, 3, torch.Generator().manual_seed(4))
    both = make_frames(kind, inputs, labels, 6, 3, torch.Generator().manual_seed(4), with_start=True)
    assert torch.equal(both[1:], plain)
    if kind != "replace":
        assert torch.equal(both[0], inputs)


def test_pad_cells_stay_pad():
    inputs = torch.tensor([[3, 4, 0, 0]])
    labels = torch.tensor([[5, 4, 6, 0]])
    for kind in RANDOM_KINDS:
        frames = make_frames(kind, inputs, labels, 3, 8, torch.Generator().manual_seed(0))
        assert (frames[:, :, 3] == 0).all()


# -- the public DIS code's path over the whole canvas (train.path_cells: canvas) ---------------------
@pytest.fixture(scope="module")
def arc_pair():
    """An ARC-shaped pair: a 3x3 input whose 4x4 output recolours 2 cells and grows by a row and a column."""
    grid = np.array([[1, 1, 0], [0, 2, 0], [0, 0, 3]])
    out = np.zeros((4, 4), dtype=int)
    out[:3, :3] = grid
    out[0, 0], out[2, 2] = 5, 6
    x, y = encode_pair(grid, out)
    return torch.from_numpy(x.astype(np.int64))[None], torch.from_numpy(y.astype(np.int64))[None]


def test_canvas_diff_set_counts_every_label_pad_cell(arc_pair):
    inputs, labels = arc_pair
    n = 6
    scored = labels != PAD
    real = ((inputs != labels) & scored).sum().item()
    k = real + (~scored).sum().item()  # the public code's diff set: real changes + every label-PAD cell
    assert real < 20 and k > 800, (real, k)
    frames = make_frames("path", inputs, labels, n, 12, torch.Generator().manual_seed(0), cells="canvas")
    for s in range(1, n + 1):
        # Revealed: moved to the label's value (IGNORE on label-PAD cells); floor(s*k/N) of the k cells.
        frame = frames[s - 1]
        moved = (frame == IGNORE).sum() + ((frame != inputs) & scored).sum()
        assert moved.item() == s * k // n
    assert torch.equal(frames[-1][scored], labels[scored]) and (frames[-1][~scored] == IGNORE).all()
    # The clean path touches only the real changes.
    clean = make_frames("path", inputs, labels, n, 12, torch.Generator().manual_seed(0))
    assert ((clean[0] != inputs) & scored).sum().item() == real // n


def test_canvas_loss_scores_pad_targets_outside_the_answer(arc_pair):
    inputs, labels = arc_pair
    frames = make_frames("path", inputs, labels, 6, 12, torch.Generator().manual_seed(0), cells="canvas")
    step1 = frames[0]
    scored_cells = step1 != unscored_token("canvas")
    pad_targets = (step1 == PAD).sum().item()
    assert pad_targets > 0.8 * scored_cells.sum().item()  # most step-1 targets are PAD, as in the public code
    logits = torch.zeros(1, labels.shape[1], 12, requires_grad=True)
    cross_entropy(logits, step1, "softmax", unscored_token("canvas")).sum().backward()
    grad_at_pad = logits.grad[0][step1[0] == PAD].abs().sum()
    assert grad_at_pad > 0  # PAD cells are trained
    # Uniform logits: the per-example mean CE is log(V) over every non-IGNORE cell, PAD included.
    ce = cross_entropy(torch.zeros(1, labels.shape[1], 12), step1, "softmax", unscored_token("canvas"))
    assert torch.allclose(ce, torch.tensor([np.log(12.0)], dtype=torch.float32))
    # The clean path's loss never sees a PAD target.
    clean = make_frames("path", inputs, labels, 6, 12, torch.Generator().manual_seed(0))
    logits.grad = None
    cross_entropy(logits, clean[0], "softmax").sum().backward()
    assert logits.grad[0][labels[0] == PAD].abs().sum() == 0


def test_canvas_needs_path():
    with pytest.raises(ValueError, match="needs kind 'path'"):
        make_frames("mask", torch.ones(1, 4, dtype=torch.long), torch.ones(1, 4, dtype=torch.long), 3, 4,
                    cells="canvas")


# -- step weights ----------------------------------------------------------------------------------
def test_step_weights_linear_and_uniform():
    assert torch.allclose(step_weights(4), torch.tensor([0.25, 0.5, 0.75, 1.0]))
    assert torch.equal(step_weights(4, "uniform"), torch.ones(4))
    with pytest.raises(ValueError, match="step weights"):
        step_weights(4, "cosine")


def test_unknown_kind_raises(batch):
    with pytest.raises(ValueError, match="target generator"):
        make_frames("noise", *batch, 6, 3)
    with pytest.raises(ValueError, match="solver order"):
        make_frames("solver", *batch, 6, 3)
