"""Target generators: nested frames, the last frame is the label, distance never rises."""

import numpy as np
import pytest
import torch

from dis_rl.puzzles import nqueens
from dis_rl.targets import KINDS, make_frames, step_weights


@pytest.fixture(scope="module")
def batch():
    train, _ = nqueens.generate(num_train=64, num_test=8, seed=3)
    b = train.get(np.arange(64))
    return torch.from_numpy(b["inputs"]), torch.from_numpy(b["labels"])


@pytest.mark.parametrize("kind", KINDS)
def test_last_frame_is_label_and_distance_falls(kind, batch):
    inputs, labels = batch
    frames = make_frames(kind, inputs, labels, 6, 3, torch.Generator().manual_seed(0))
    assert frames.shape == (6, *labels.shape)
    assert torch.equal(frames[-1], labels)
    per_example = (frames != labels).sum(-1)  # [6, B]
    assert (per_example[1:] <= per_example[:-1]).all(), "distance to the label rose between steps"
    assert per_example.float().mean(1)[0] > per_example.float().mean(1)[-2] > 0


@pytest.mark.parametrize("kind", KINDS)
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


def test_pad_cells_stay_pad():
    inputs = torch.tensor([[3, 4, 0, 0]])
    labels = torch.tensor([[5, 4, 6, 0]])
    for kind in KINDS:
        frames = make_frames(kind, inputs, labels, 3, 8, torch.Generator().manual_seed(0))
        assert (frames[:, :, 3] == 0).all()


def test_step_weights_increase_linearly():
    assert torch.allclose(step_weights(4), torch.tensor([0.25, 0.5, 0.75, 1.0]))


def test_unknown_kind_raises(batch):
    with pytest.raises(ValueError, match="target generator"):
        make_frames("noise", *batch, 6, 3)
