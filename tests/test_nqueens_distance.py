"""The bit-packed N-Queens distance equals the plain definition (nearest consistent solution)."""

import numpy as np

from dis_rl.puzzles import nqueens


def _plain_distance(inputs: np.ndarray, answers: np.ndarray) -> np.ndarray:
    sols = nqueens.all_solutions()
    keeps = ((inputs[:, None, :] != nqueens.QUEEN) | (sols[None] == nqueens.QUEEN)).all(axis=2)
    dist = (answers[:, None, :] != sols[None]).sum(axis=2)
    return np.where(keeps, dist, nqueens.SEQ_LEN + 1).min(axis=1)


def test_packed_distance_matches_definition():
    train, _ = nqueens.generate(num_train=100, num_test=10, seed=3, augment=False)
    rng = np.random.default_rng(0)
    for noise in (1.0, 0.2, 0.02, 0.0):
        answers = rng.integers(0, 3, size=train.labels.shape).astype(np.uint8)
        answers = np.where(rng.random(answers.shape) < noise, answers, train.labels)
        got = nqueens.DOMAIN.distance(train.inputs, answers, train.labels)
        np.testing.assert_array_equal(got, _plain_distance(train.inputs, answers))
    assert (nqueens.DOMAIN.distance(train.inputs, train.labels, train.labels) == 0).all()


def test_candidate_distance_equals_full_distance():
    train, test = nqueens.generate(num_train=200, num_test=20, seed=5, augment=True)
    rng = np.random.default_rng(1)
    cand = nqueens.DOMAIN.solution_candidates(train.inputs)
    assert cand.shape[1] < 92
    for noise in (1.0, 0.3, 0.05, 0.0):
        answers = rng.integers(0, 4, size=train.labels.shape).astype(np.uint8)
        answers = np.where(rng.random(answers.shape) < noise, answers, train.labels)
        np.testing.assert_array_equal(
            nqueens.DOMAIN.distance_to_candidates(answers, cand),
            nqueens.DOMAIN.distance(train.inputs, answers, train.labels),
        )
    # A board no solution keeps (two given queens attacking each other) is at distance 65 either way.
    bad = np.full((1, 64), nqueens.EMPTY, dtype=np.uint8)
    bad[0, [0, 1]] = nqueens.QUEEN
    assert nqueens.DOMAIN.distance_to_candidates(bad, nqueens.DOMAIN.solution_candidates(bad))[0] == 65
    assert nqueens.DOMAIN.distance(bad, bad)[0] == 65
    wide = nqueens.DOMAIN.solution_candidates(test.inputs, width=cand.shape[1] + 3)
    np.testing.assert_array_equal(
        nqueens.DOMAIN.distance_to_candidates(test.labels, wide), np.zeros(len(test), dtype=np.int64)
    )
