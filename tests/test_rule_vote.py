"""Test-time compute that uses the rules (dis_rl/vote.py): symmetry views and their inverse, the
rules' pick among candidates, the eval path and its call counts; the Sudoku cache location."""

import numpy as np
import pytest

from dis_rl.puzzles import get_domain
from dis_rl.puzzles.nqueens import generate as nqueens_generate
from dis_rl.puzzles.sudoku import augment_tokens, generate, unaugment_tokens
from dis_rl.puzzles.sudoku import symmetry_views as sudoku_views
from dis_rl.vote import rule_vote, select_by_rules, symmetry_views


@pytest.fixture(scope="module")
def sudoku():
    return generate(4, seed=3, keep_fraction=1.0, blanks=40)


def test_sudoku_views_invert_and_keep_validity(sudoku):
    cells, digits = sudoku_views(len(sudoku), 5, seed=1)
    labels = np.tile(sudoku.labels.astype(np.int64), (5, 1))
    aug = augment_tokens(labels, cells, digits)
    assert (aug[:4] == labels[:4]).all()  # view 0 is the identity
    assert not (aug[4:] == labels[4:]).all()
    domain = get_domain("sudoku")
    assert domain.verify(augment_tokens(np.tile(sudoku.inputs, (5, 1)), cells, digits), aug).all()
    assert (unaugment_tokens(aug, cells, digits) == labels).all()


def test_views_map_predictions_back(sudoku):
    aug, back = symmetry_views("sudoku", sudoku.inputs, 3, seed=0)
    assert aug.shape == (12, 81)
    assert (back(aug) == np.tile(sudoku.inputs, (3, 1))).all()
    boards = nqueens_generate(num_train=6, num_test=2, seed=0)[0].inputs
    aug, back = symmetry_views("nqueens", boards, 8)
    assert (back(aug) == np.tile(boards, (8, 1))).all()
    with pytest.raises(ValueError, match="8 symmetries"):
        symmetry_views("nqueens", boards, 9)


def test_rules_pick_a_valid_candidate_without_the_label(sudoku):
    domain = get_domain("sudoku")
    wrong = sudoku.inputs.astype(np.int64).copy()  # blanks left: invalid
    cands = np.stack([wrong, wrong, sudoku.labels.astype(np.int64)])
    cands[1, 1] = sudoku.labels[1]  # board 1: candidate 1 is valid too (it agrees with candidate 2)
    picked, had_valid = select_by_rules(domain, sudoku.inputs, cands)
    assert had_valid.all() and domain.verify(sudoku.inputs, picked).all()
    picked, had_valid = select_by_rules(domain, sudoku.inputs, cands[:1])
    assert not had_valid.any() and (picked == wrong).all()  # none valid: plain decoding stays


def test_rule_vote_counts_calls_and_never_loses_to_plain(sudoku):
    import torch

    from dis_rl.config import ModelConfig
    from dis_rl.model.trm import TRM

    torch.manual_seed(0)
    cfg = ModelConfig(hidden=16, layers=1, heads=2, variant="mlp", puzzle_emb_len=1, step_embedding=4)
    model = TRM(cfg, vocab_size=11, seq_len=81)
    r = rule_vote(model, sudoku, steps=2, step_input="input", views=3, samples=2, temperature=1.0,
                  calls_per_step=cfg.calls_per_step)
    assert r["plain"]["calls_per_puzzle"] == 2 * cfg.calls_per_step
    assert r["views"]["calls_per_puzzle"] == 3 * r["plain"]["calls_per_puzzle"]
    assert r["samples"]["rollouts"] == 3 and r["all"]["rollouts"] == 5
    assert r["all"]["solved"] >= max(r["views"]["solved"], r["samples"]["solved"]) >= r["plain"]["solved"]


def test_sudoku_cache_dir_follows_the_env_var(tmp_path, monkeypatch):
    from dis_rl.config import DataConfig
    from dis_rl.data import sudoku_cache_dir

    monkeypatch.setenv("DIS_RL_CACHE", str(tmp_path / "env"))
    assert sudoku_cache_dir(DataConfig(domain="sudoku")) == tmp_path / "env"
    assert sudoku_cache_dir(DataConfig(domain="sudoku", cache_dir=str(tmp_path / "key"))) == tmp_path / "key"
    monkeypatch.delenv("DIS_RL_CACHE")
    assert sudoku_cache_dir(DataConfig(domain="sudoku")).name == "dis-rl"


def test_old_checkpoint_name_still_resolves():
    from dis_rl.resources import checkpoint_of_config, shipped_checkpoint

    assert shipped_checkpoint("sudoku_dis") == shipped_checkpoint("sudoku_cpu_dis") == shipped_checkpoint("sudoku_cpu")
    assert shipped_checkpoint("sudoku_cpu") is not None
    assert checkpoint_of_config("sudoku_cpu") == "sudoku_cpu"
    assert checkpoint_of_config("sudoku_cpu_dis") is None  # old names resolve, but those configs made no checkpoint
    assert checkpoint_of_config("sudoku_dis") is None  # the big Sudoku-Extreme config


def test_cell_vote_adds_the_majority_board(sudoku):
    domain = get_domain("sudoku")
    label = sudoku.labels.astype(np.int64)
    blanks = np.flatnonzero(sudoku.inputs[0] == 1)[:3]
    cands = np.stack([label.copy() for _ in range(3)])
    for j in range(3):  # each candidate wrong in a different blank cell: none valid, the cell vote is
        cands[j, :, blanks[j]] = 1
    picked, had_valid = select_by_rules(domain, sudoku.inputs, cands)
    assert had_valid[0] and (picked[0] == label[0]).all()
    _, had_valid = select_by_rules(domain, sudoku.inputs, cands, cell_vote=False)
    assert not had_valid[0]
