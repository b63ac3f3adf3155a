"""Solver targets (`train.targets: solver`): the domains' solver orders and the frames built on them."""

import numpy as np
import pytest
import torch

from dis_rl.config import ConfigError, config_from_dict
from dis_rl.puzzles import nqueens, sudoku
from dis_rl.puzzles.solver_order import NoSolverError, SolverOrderSource, solver_order
from dis_rl.puzzles.sudoku_solver import UNITS, deduction_order, solve
from dis_rl.targets import make_frames


@pytest.fixture(scope="module")
def sudoku_set():
    puzzles, _ = sudoku.generate_with_report(12, seed=5, keep_fraction=0.5)
    return puzzles


@pytest.fixture(scope="module")
def queens_set():
    train, _ = nqueens.generate(num_train=60, num_test=8, seed=2)
    return train


def check_frames(inputs: np.ndarray, labels: np.ndarray, order: np.ndarray, steps: int = 6):
    x, y = torch.from_numpy(inputs.astype(np.int64)), torch.from_numpy(labels.astype(np.int64))
    frames = make_frames("solver", x, y, steps, 11, torch.Generator().manual_seed(0),
                         order=torch.from_numpy(order.astype(np.int64)))
    assert torch.equal(frames[-1], y)
    dist = (frames != y).sum(-1)
    assert (dist[1:] <= dist[:-1]).all(), "distance to the label rose"
    changed = frames != x
    assert torch.equal(frames[changed], y.expand_as(frames)[changed]), "a revealed cell disagrees with the label"
    kept = x == y  # givens (and unchanged cells) never move
    assert torch.equal(frames[:, kept], x.expand_as(frames)[:, kept])
    wave = torch.from_numpy(order.astype(np.int64))
    for s in range(steps):  # every frame reveals a prefix of the solver's waves
        revealed, hidden = changed[s], (x != y) & ~changed[s]
        for b in range(len(x)):
            if revealed[b].any() and hidden[b].any():
                assert wave[b][revealed[b]].max() <= wave[b][hidden[b]].min()
    return frames


def test_sudoku_frames_follow_the_solver(sudoku_set):
    order = solver_order("sudoku", sudoku_set.inputs, sudoku_set.labels)
    assert ((order >= 0) == (sudoku_set.inputs == sudoku.BLANK)).all()
    frames = check_frames(sudoku_set.inputs, sudoku_set.labels, order)
    for frame in frames.reshape(-1, 81).numpy() - 1:  # digits, -1 blank: no digit twice in a unit
        for unit in UNITS:
            digits = frame[unit][frame[unit] > 0]
            assert len(digits) == len(set(digits.tolist()))


def test_sudoku_logic_never_places_an_ambiguous_cell():
    """On a puzzle with several solutions, the cells placed before the first guess are equal in all of
    them (they are deduced, not guessed), and a guess is needed."""
    rng = np.random.default_rng(0)
    solution = sudoku.random_solution(rng)
    grid = list(solution)
    for i in rng.permutation(81)[:58].tolist():
        grid[i] = 0
    solutions, _ = solve(grid, limit=50)
    assert len(solutions) > 1
    ded = deduction_order(grid, solution)
    assert ded.guesses >= 1
    sols = np.array(solutions)
    logical = [i for i, w in enumerate(ded.waves) if 0 <= w < ded.first_guess_wave]
    assert (sols[:, logical] == sols[0, logical]).all()
    assert sorted(set(ded.waves) - {-1}) == list(range(max(ded.waves) + 1))


def test_sudoku_one_blank_is_a_naked_single():
    solution = sudoku.random_solution(np.random.default_rng(1))
    grid = list(solution)
    grid[40] = 0
    ded = deduction_order(grid, solution)
    assert ded.waves[40] == 0 and ded.guesses == 0 and ded.waves.count(-1) == 80
    with pytest.raises(ValueError, match="disagree"):
        deduction_order(grid, [solution[1], solution[0], *solution[2:]])


def test_sudoku_orders_map_through_augmentations(sudoku_set):
    source = sudoku.SudokuAugmentedSource(sudoku_set, num_aug=3, seed=1)
    idx = np.arange(len(source))
    rows = source.get(idx)
    mapped = source.solver_order(idx)
    direct = solver_order("sudoku", rows["inputs"], rows["labels"])
    base = solver_order("sudoku", sudoku_set.inputs, sudoku_set.labels)
    logic_only = np.repeat(np.array([deduction_order(list(q - 1), list(a - 1)).guesses == 0
                                     for q, a in zip(sudoku_set.inputs.astype(int), sudoku_set.labels.astype(int))]),
                           source.copies)
    # The solver's rules commute with the symmetries; only a guess's tie-break follows cell numbering.
    assert logic_only.any()
    assert (mapped[logic_only] == direct[logic_only]).all()
    assert ((mapped >= 0) == (rows["inputs"] == sudoku.BLANK)).all()
    assert (mapped[:: source.copies] == base).all()
    check_frames(rows["inputs"], rows["labels"], mapped)


def test_queens_frames_follow_the_solver(queens_set):
    order = nqueens.commit_order(queens_set.inputs, queens_set.labels)
    assert ((order >= 0) == (queens_set.inputs != queens_set.labels)).all()
    frames = check_frames(queens_set.inputs, queens_set.labels, order)
    boards = frames.reshape(-1, 8, 8).numpy() == nqueens.QUEEN
    for board in boards:  # constraint-consistent: no two queens attack each other
        r, c = np.nonzero(board)
        assert len(set(r)) == len(r) and len(set(c)) == len(c)
        assert len(set(r - c)) == len(r) and len(set(r + c)) == len(r)
    given = queens_set.inputs == nqueens.QUEEN
    assert (frames.numpy()[:, given] == nqueens.QUEEN).all()


def test_queens_forced_placements_come_first():
    label = nqueens.all_solutions()[0].copy()
    seven = label.copy()
    seven[np.flatnonzero(label == nqueens.QUEEN)[3]] = nqueens.EMPTY
    assert sorted(set(nqueens.commit_order(seven, label)[0].tolist())) == [-1, 0]
    one = np.full_like(label, nqueens.EMPTY)
    one[np.flatnonzero(label == nqueens.QUEEN)[0]] = nqueens.QUEEN
    waves = nqueens.commit_order(one, label)[0]
    assert (waves >= 0).sum() == 7 and waves.max() >= 1
    with pytest.raises(ValueError, match="not queens of its label"):
        nqueens.commit_order(label, nqueens.all_solutions()[1])


def test_solver_source_adds_orders_and_caches(queens_set):
    source = SolverOrderSource(queens_set)
    rows = source.get(np.array([3, 1, 3]))
    assert rows["solve_order"].shape == (3, 64) and (rows["solve_order"][0] == rows["solve_order"][2]).all()
    assert set(source._cache) == {1, 3}


def test_arc_has_no_solver():
    with pytest.raises(NoSolverError, match="there is none"):
        solver_order("arc", np.zeros((1, 900)), np.zeros((1, 900)))
    with pytest.raises(ConfigError, match="'arc' domain"):
        config_from_dict({"data": {"domain": "arc"}, "train": {"targets": "solver"}})
