"""Sudoku: solver, CSV validation, generator, augmentation and domain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dis_rl.puzzles import get_domain
from dis_rl.puzzles.sudoku import (
    SudokuAugmentedSource,
    SudokuFormatError,
    generate_with_report,
    load_csv,
    puzzle_rating,
)
from dis_rl.puzzles.sudoku_solver import count_solutions, is_valid_solution, solve

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "sudoku_hard"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared Sudoku data absent")

QUESTION = "4...3.......6..8..........1....5..9..8....6...7.2........1.27..5.3....4.9........"
ANSWER = "468931527751624839392578461134756298289413675675289314846192753513867942927345186"


def _digits(text: str) -> list[int]:
    return [0 if ch == "." else int(ch) for ch in text]


def test_solver_unique_and_stats():
    sols, stats = solve(_digits(QUESTION))
    assert len(sols) == 1 and "".join(map(str, sols[0])) == ANSWER and stats.dead_ends > 0
    assert is_valid_solution(sols[0])
    assert count_solutions([0] * 81, limit=2) == 2


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "s.csv"
    path.write_text("source,question,answer,rating\n" + "\n".join(rows) + "\n")
    return path


def _swap(text: str, i: int, ch: str) -> str:
    return text[:i] + ch + text[i + 1 :]


BAD_ROWS = {
    "short": (f"x,{QUESTION[:-1]},{ANSWER},1", "question has 80 characters"),
    "char": (f"x,{_swap(QUESTION, 1, 'x')},{ANSWER},1", "character 'x'"),
    "answer_len": (f"x,{QUESTION},{ANSWER[:-2]},1", "answer has 79 characters"),
    "answer_char": (f"x,{QUESTION},{_swap(ANSWER, 0, '0')},1", "answer must be 81 digits"),
    "clash": (f"x,{_swap(QUESTION, 1, '4')},{ANSWER},1", "contradictory givens"),
    "mismatch": (f"x,{_swap(QUESTION, 1, '5')},{ANSWER},1", "row 1, column 2 disagrees"),
    "invalid_answer": (f"x,{'.' * 81},{ANSWER[:9] * 9},1", "not a valid Sudoku solution"),
    "rating": (f"x,{QUESTION},{ANSWER},hard", "rating 'hard' is not a number"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_named_by_line(tmp_path, case):
    row, expected = BAD_ROWS[case]
    path = _csv(tmp_path, [f"ok,{QUESTION},{ANSWER},5", row])
    puzzles, report = load_csv(path)
    assert len(puzzles) == 1 and report.read == 2 and report.num_bad == 1
    assert "line 3" in report.errors[0] and expected in report.errors[0]
    with pytest.raises(SudokuFormatError, match=f"line 3: .*{expected}"):
        load_csv(path, strict=True)


def test_csv_tokens_and_uniqueness_check(tmp_path):
    solved_but_one = _swap(ANSWER, 0, ".")
    few_clues = "." * 80 + ANSWER[-1]
    path = _csv(
        tmp_path, [f"a,{QUESTION},{ANSWER},59", f"b,{solved_but_one},{ANSWER},", f"c,{few_clues},{ANSWER},0"]
    )
    puzzles, report = load_csv(path, multiple_solutions="keep")
    assert len(puzzles) == 3 and report.num_bad == 0
    assert puzzles.vocab_size == 11 and puzzles.seq_len == 81
    assert puzzles.inputs[0, 0] == 5 and puzzles.inputs[0, 1] == 1 and puzzles.labels[0, 1] == 7
    assert puzzles.extras["rating"].tolist() == [59.0, -1.0, 0.0]
    with pytest.warns(UserWarning, match="line 4: the question has more than one solution"):
        puzzles, report = load_csv(path)  # the default: the uniqueness rule
    assert len(puzzles) == 2 and "line 4: the question has more than one solution" in report.errors[0]


def test_header_required(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(SudokuFormatError, match="missing"):
        load_csv(path)


def test_generator_unique_hard_and_seeded():
    puzzles, report = generate_with_report(6, seed=3, keep_fraction=0.5)
    assert len(puzzles) == 6 and report.candidates == 12
    domain = get_domain("sudoku")
    assert domain.verify(puzzles.inputs, puzzles.labels).all()
    for q in puzzles.inputs:
        assert count_solutions((q.astype(int) - 1).tolist(), limit=2) == 1
    assert puzzles.extras["rating"].min() >= report.min_kept_rating
    again = generate_with_report(6, seed=3, keep_fraction=0.5)[0]
    np.testing.assert_array_equal(puzzles.inputs, again.inputs)
    # two worker processes and a progress bar give the same puzzles, in the same order
    pooled = generate_with_report(6, seed=3, keep_fraction=0.5, workers=2, progress=True)[0]
    np.testing.assert_array_equal(puzzles.inputs, pooled.inputs)


def test_generator_difficulty_controls():
    """Easy puzzles have exactly the asked blanks; hill-climbed ones never rate below plain minimal
    puzzles of the same seeds, and both stay unique."""
    easy = generate_with_report(4, seed=2, keep_fraction=1.0, blanks=30)[0]
    assert ((easy.inputs == 1).sum(1) == 30).all()
    plain = generate_with_report(3, seed=4, keep_fraction=1.0)[0]
    hard = generate_with_report(3, seed=4, keep_fraction=1.0, target_rating=6, harden_steps=6)[0]
    assert (hard.extras["rating"] >= plain.extras["rating"]).all()
    assert hard.extras["rating"].sum() > plain.extras["rating"].sum() or (plain.extras["rating"] >= 6).all()
    for q in [*easy.inputs, *hard.inputs]:
        assert count_solutions((q.astype(int) - 1).tolist(), limit=2) == 1
    for q, r in zip(hard.inputs, hard.extras["rating"]):
        assert puzzle_rating((q.astype(int) - 1).tolist()) == r
    with pytest.raises(ValueError, match="blanks"):
        generate_with_report(1, blanks=70)


def test_generated_csv_round_trips_through_the_cli(tmp_path, capsys):
    from dis_rl.cli import main

    out = tmp_path / "gen.csv"
    assert main(["data", "sudoku", str(out), "--num", "3", "--blanks", "30", "--seed", "1"]) == 0
    puzzles, report = load_csv(out, strict=True)  # rejects a puzzle with several solutions
    assert report.loaded == 3 and ((puzzles.inputs == 1).sum(1) == 30).all()
    assert main(["data", "stats", str(out)]) == 0
    assert "givens per puzzle: min 51, median 51, max 51" in capsys.readouterr().out


def test_augmentation_keeps_validity_and_is_deterministic():
    puzzles = generate_with_report(3, seed=1, keep_fraction=1.0)[0]
    source = SudokuAugmentedSource(puzzles, num_aug=50, seed=7)
    assert len(source) == 3 * 51
    idx = np.arange(len(source))
    batch = source.get(idx)
    domain = get_domain("sudoku")
    assert domain.verify(batch["inputs"], batch["labels"]).all()
    assert ((batch["inputs"] == 1).sum(1) == np.repeat((puzzles.inputs == 1).sum(1), 51)).all()
    np.testing.assert_array_equal(batch["inputs"][::51], puzzles.inputs)  # augmentation 0 = identity
    assert len({row.tobytes() for row in batch["inputs"]}) == len(source)
    again = source.get(idx[::-1])
    np.testing.assert_array_equal(again["labels"][::-1], batch["labels"])


def test_domain_verify_distance_render():
    domain = get_domain("sudoku")
    q = np.array(_digits(QUESTION)) + 1
    a = np.array(_digits(ANSWER)) + 1
    assert domain.verify(q, a).all()
    wrong = a.copy()
    wrong[[1, 2]] = wrong[[2, 1]]
    assert not domain.verify(q, wrong).any() and domain.distance(q, wrong, a).tolist() == [2]
    given_changed = a.copy()
    given_changed[0] = 9  # a given digit overwritten
    assert not domain.verify(q, given_changed).any()
    assert domain.scored_cells(a).tolist() == [81]
    assert domain.render_text(q).splitlines()[0] == "4 . . | . 3 . | . . ."
    assert domain.render_rgb(q).shape == (144, 144, 3)


@needs_shared
def test_shared_csv_loads_clean():
    puzzles, report = load_csv(SHARED / "magictour_top1465.csv", multiple_solutions="keep")  # uniqueness: 10 s
    assert len(puzzles) == 1465 and report.num_bad == 0
    assert get_domain("sudoku").verify(puzzles.inputs, puzzles.labels).all()
