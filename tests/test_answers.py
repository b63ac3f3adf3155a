"""Answer sets (every valid answer of a puzzle), the answer targets of training, and the evaluation
table by number of answers."""

import numpy as np
import pytest
import torch

from dis_rl.config import ConfigError, config_from_dict
from dis_rl.evaluate import evaluate, format_table
from dis_rl.puzzles import get_domain, nqueens, sudoku
from dis_rl.puzzles.answers import answer_sets, band_of, choose_answers, valid_by_band
from dis_rl.train import Trainer

NQ = get_domain("nqueens")


@pytest.fixture(scope="module")
def nqueens_test():
    return nqueens.generate(num_train=20, num_test=200, seed=0)[1]


def test_nqueens_answer_sets_are_every_completion(nqueens_test):
    p = nqueens_test
    sets = answer_sets(NQ, p.inputs, p.labels)
    sols = nqueens.all_solutions()
    for i in range(len(p)):
        keeps = [s for s in sols if ((p.inputs[i] != nqueens.QUEEN) | (s == nqueens.QUEEN)).all()]
        assert sets.counts[i] == len(keeps)
        distinct = {b.tobytes() for b in sets.boards[i]}
        assert distinct == {s.tobytes() for s in keeps}
        assert (sets.boards[i] == p.labels[i]).all(axis=1).any()  # the stored label is one of them
    k = sets.boards.shape[1]
    assert NQ.verify(np.repeat(p.inputs, k, axis=0), sets.boards.reshape(-1, 64)).all()
    # The demo's test set has boards with many answers (the split: 151 / 35 / 9 / 5).
    assert [n for _, n, _ in valid_by_band(sets.counts, np.ones(len(p)))][:4] == [151, 35, 9, 5]


def test_nearest_picks_the_closest_valid_answer(nqueens_test):
    p = nqueens_test
    sets = answer_sets(NQ, p.inputs, p.labels)
    multi = np.flatnonzero(sets.multiple)[:10]
    for i in multi:
        other = sets.boards[i][(sets.boards[i] != p.labels[i]).any(axis=1)][0]
        noisy = other.copy()
        noisy[np.flatnonzero(other == nqueens.QUEEN)[0]] = nqueens.EMPTY  # one queen short of `other`
        picked, dist = answer_sets(NQ, p.inputs[i : i + 1], p.labels[i : i + 1]).nearest(noisy[None])
        assert (picked[0] == other).all() and dist[0] == 1


def test_answer_targets_label_canonical_nearest(nqueens_test):
    p = nqueens_test
    sets = answer_sets(NQ, p.inputs, p.labels)
    assert choose_answers("label", sets, p.labels) is p.labels
    canon = choose_answers("canonical", sets, p.labels)
    assert NQ.verify(p.inputs, canon).all()
    # canonical is a function of the input: another stored label of the same board changes nothing
    alt = np.where(sets.multiple[:, None], sets.boards[:, -1], p.labels)
    assert (choose_answers("canonical", answer_sets(NQ, p.inputs, alt), alt) == canon).all()
    # nearest to a valid answer is that answer; single-answer boards keep their label
    target = sets.boards[:, -1]
    near = choose_answers("nearest", sets, p.labels, target)
    assert (near == target).all()
    with pytest.raises(ValueError, match="predictions"):
        choose_answers("nearest", sets, p.labels)
    with pytest.raises(ValueError, match="unknown answer target"):
        choose_answers("closest", sets, p.labels)


def _two_solution_sudoku():
    """A solved grid with an 'unavoidable rectangle' blanked: two digits that swap in a 2x2
    rectangle spanning two boxes of one band, so the puzzle has exactly two solutions."""
    for seed in range(50):
        base = np.array(sudoku.random_solution(np.random.default_rng(seed))).reshape(9, 9)
        for r1 in range(9):
            for r2 in range(r1 + 1, (r1 // 3 + 1) * 3):
                for c1 in range(9):
                    for c2 in range(c1 + 1, 9):
                        if c1 // 3 != c2 // 3 and base[r2, c1] == base[r1, c2] and base[r2, c2] == base[r1, c1]:
                            puzzle = base.copy()
                            puzzle[[r1, r1, r2, r2], [c1, c2, c1, c2]] = 0
                            return puzzle.reshape(-1) + 1, base.reshape(-1) + 1
    raise AssertionError("no rectangle found")


def test_sudoku_answer_sets_list_the_solver_solutions():
    puzzle, label = _two_solution_sudoku()
    dom = get_domain("sudoku")
    sets = answer_sets(dom, puzzle[None], label[None])
    assert sets.counts.tolist() == [2]
    assert dom.verify(np.repeat(puzzle[None], 2, axis=0), sets.boards[0]).all()
    assert (sets.boards[0] == label).all(axis=1).any()
    # the caller's word that answers are unique skips the solver
    assert answer_sets(dom, puzzle[None], label[None], unique=True).counts.tolist() == [1]


def test_arc_answer_set_is_the_label():
    dom = get_domain("arc")
    labels = np.zeros((2, 900), dtype=np.uint8)
    labels[:, :4] = 3
    sets = answer_sets(dom, labels, labels)
    assert sets.counts.tolist() == [1, 1] and (sets.canonical() == labels).all()


def test_bands():
    assert band_of(np.array([1, 2, 3, 4, 10, 11, 40])).tolist() == ["1", "2-3", "2-3", "4-10", "4-10", "11+", "11+"]
    rows = valid_by_band(np.array([1, 1, 2, 12]), np.array([True, False, True, False]))
    assert rows == [("1", 2, 0.5), ("2-3", 1, 1.0), ("11+", 1, 0.0), ("several", 2, 0.5)]


def test_answer_target_is_a_checked_config_key(tiny_overrides):
    assert config_from_dict({}, tiny_overrides + ["train.answer_target=nearest"]).train.answer_target == "nearest"
    with pytest.raises(ConfigError, match="answer_target"):
        config_from_dict({}, tiny_overrides + ["train.answer_target=closest"])


@pytest.mark.parametrize("kind", ["nearest", "canonical"])
def test_dis_trains_towards_valid_answers_and_counts_the_rollout(tiny_overrides, kind):
    cfg = config_from_dict({}, tiny_overrides + [f"train.answer_target={kind}", f"name=ans_{kind}"])
    trainer = Trainer(cfg, progress=False)
    batch = trainer.next_global_batch(16)
    labels, calls = trainer.method.answer_labels(batch)
    assert NQ.verify(batch["inputs"].numpy(), labels.numpy()).all()
    multi = answer_sets(NQ, batch["inputs"].numpy(), batch["labels"].numpy()).multiple
    assert multi.any()
    per_example = cfg.train.supervision_steps * cfg.model.calls_per_step
    assert calls == (int(multi.sum()) * per_example if kind == "nearest" else 0)
    if kind == "nearest":  # the target is the answer nearest to the model's own rollout
        preds, _ = trainer.method.answers.rollout_predictions(
            answer_sets(NQ, batch["inputs"].numpy(), batch["labels"].numpy()), batch)
        sets = answer_sets(NQ, batch["inputs"].numpy(), batch["labels"].numpy())
        best = sets.distances(preds.numpy()).min(axis=1)
        got = ((labels.numpy() != preds.numpy()).sum(axis=1))
        assert (got[multi] == best[multi]).all()
    result = trainer.run()
    base = trainer.batches * 16 * per_example
    assert (trainer.network_calls > base) == (kind == "nearest")
    assert result.by_answers()  # the test boards have several answers: the table is there


def test_trm_accepts_answer_targets(tiny_overrides):
    cfg = config_from_dict({"preset": ""}, tiny_overrides + [
        "train.method=trm", "model.halting_head=true", "model.step_embedding=0", "train.answer_target=nearest",
        "name=trm_ans"])
    trainer = Trainer(cfg, progress=False)
    trainer.run()
    assert trainer.batches == cfg.train.max_batches


def test_format_table_shows_valid_by_number_of_answers(nqueens_test):
    from dis_rl.model.trm import TRM

    cfg = config_from_dict({}, ["model.hidden=16", "model.layers=1", "model.puzzle_emb_len=1"])
    torch.manual_seed(0)
    model = TRM(cfg.model, nqueens.VOCAB_SIZE, 64, 1)
    result = evaluate(model, nqueens_test.subset(np.arange(50)), 2)
    text = format_table(result)
    assert "| valid answers of the puzzle | puzzles | valid % |" in text
    assert "| several |" in text
    assert sum(n for name, n, _ in result.by_answers() if name != "several") == 50


def test_compare_tables_show_valid_by_number_of_answers():
    from dis_rl.arms import ArmRun
    from dis_rl.compare import Arm, Budget, format_tables, summarise

    def run(valid, several):
        bands = {"1": {"puzzles": 151, "valid": 1.0}, "several": {"puzzles": 49, "valid": several}}
        ev = {"network_calls": 1000, "train_s": 1.0, "valid": valid, "exact": valid, "env_steps": 0,
              "valid_by_answers": bands}
        return ArmRun(evals=[ev], calls_per_example=18, realised_calls_per_example=18, parameters=10)

    summary = summarise(Arm("DIS", "dis"), {0: run(0.9, 0.6), 1: run(1.0, 1.0)}, [1000.0])
    assert summary.final_by_answers == {"1": (151, 1.0), "several": (49, 0.8)}
    text = format_tables([summary], None, Budget(network_calls=1000))
    assert "| arm | 1 (151) | several (49) |" in text and "| DIS | 100.0 | 80.0 |" in text
