"""N-Queens generator and verifier."""

import numpy as np

from dis_rl.puzzles import nqueens
from dis_rl.puzzles.nqueens import DOMAIN, EMPTY, QUEEN, all_solutions, dihedral


def test_all_92_solutions_are_valid_and_distinct():
    sols = all_solutions()
    assert sols.shape == (92, 64)
    assert len({s.tobytes() for s in sols}) == 92
    assert DOMAIN.verify(np.full_like(sols, EMPTY), sols, None).all()


def test_verifier_rejects_attacks_incomplete_boards_and_dropped_givens():
    sol = all_solutions()[0].copy()
    # Incomplete: remove a queen.
    incomplete = sol.copy()
    incomplete[np.flatnonzero(sol == QUEEN)[0]] = EMPTY
    # Attacking: move one queen within its row onto another queen's column.
    attacking = sol.reshape(8, 8).copy()
    c0, c1 = np.flatnonzero(attacking[0] == QUEEN)[0], np.flatnonzero(attacking[1] == QUEEN)[0]
    attacking[0, c0], attacking[0, c1] = EMPTY, QUEEN
    # Diagonal attack: a queen on the same diagonal as another, rows and columns otherwise fine.
    diag = np.full((8, 8), EMPTY)
    diag[np.arange(8), np.arange(8)] = QUEEN
    # Givens not kept: a valid solution that ignores the given queen.
    other = all_solutions()[1]
    givens = np.full(64, EMPTY)
    givens[np.flatnonzero((sol == QUEEN) & (other != QUEEN))[0]] = QUEEN
    empty = np.full(64, EMPTY)
    assert not DOMAIN.verify(empty, incomplete, None)[0]
    assert not DOMAIN.verify(empty, attacking.reshape(64), None)[0]
    assert not DOMAIN.verify(empty, diag.reshape(64), None)[0]
    assert DOMAIN.verify(givens, sol, None)[0]
    assert not DOMAIN.verify(givens, other, None)[0]
    bad_token = sol.copy()
    bad_token[0] = 0
    assert not DOMAIN.verify(empty, bad_token, None)[0]


def test_generator_splits_never_share_boards_under_symmetry():
    train, test = nqueens.generate(num_train=200, num_test=50, seed=1)
    assert len(test) == 50 and len({x.tobytes() for x in test.inputs}) == 50
    test_keys = {dihedral(test.inputs, k)[i].tobytes() for k in range(8) for i in range(len(test))}
    assert not any(x.tobytes() in test_keys for x in train.inputs)
    assert DOMAIN.verify(train.inputs, train.labels, None).all()
    assert DOMAIN.verify(test.inputs, test.labels, None).all()
    given = (test.inputs == QUEEN).sum(1)
    assert given.min() >= 1 and given.max() <= 7
    # Augmentation: more training boards than base puzzles, all of them valid.
    assert 200 < len(train) <= 8 * 200


def test_generator_is_seeded():
    a, _ = nqueens.generate(num_train=30, num_test=10, seed=5)
    b, _ = nqueens.generate(num_train=30, num_test=10, seed=5)
    assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.labels, b.labels)
