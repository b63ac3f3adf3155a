"""``train.answer_target``: which valid answer a batch is trained towards (DIS and TRM alike).

Boards with several valid answers (most N-Queens boards with few given queens) have one stored
label, an arbitrary pick the model cannot infer from the input; trained on it, the model averages
the completions it cannot tell apart. The options (docs/TARGETS.md, measured there):

- ``label``: the stored label (the reference code's behaviour).
- ``nearest``: the valid answer nearest (Hamming) to the model's own current prediction, the
  "min-loss over the answer set" idea. DIS draws a whole path of frames before its first step, so it
  needs the prediction first: one no-grad rollout of the training weights over the batch's
  multi-answer boards, whose network calls are counted in the run's budget. TRM trains each step on
  its own output, so it takes the nearest answer to that step's prediction at no extra cost.
- ``canonical``: each board's first answer in the domain's fixed order (a function of the input,
  so the target is learnable; free).

Boards with one answer keep their label under every option, and data whose puzzles all have one
answer (`dis_rl.data.unique_answers`) skips the answer sets entirely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from dis_rl.data import unique_answers
from dis_rl.puzzles import get_domain
from dis_rl.puzzles.answers import AnswerSets, answer_sets, choose_answers
from dis_rl.rollout import rollout

if TYPE_CHECKING:
    from dis_rl.train.loop import Trainer


class AnswerTargets:
    """The trainer's view of ``train.answer_target`` for one run."""

    def __init__(self, trainer: Trainer) -> None:
        self.t = trainer
        cfg = trainer.cfg
        self.kind = cfg.train.answer_target
        self.domain = get_domain(cfg.data.domain)
        self.active = self.kind != "label" and not unique_answers(cfg.data)

    def sets(self, inputs: torch.Tensor, labels: torch.Tensor) -> AnswerSets | None:
        """The answer sets of a batch, or None when no board in it has more than one answer."""
        if not self.active:
            return None
        sets = answer_sets(self.domain, inputs.cpu().numpy(), labels.cpu().numpy())
        return sets if sets.multiple.any() else None

    def choose(self, sets: AnswerSets | None, labels: torch.Tensor, preds: torch.Tensor | None = None) -> torch.Tensor:
        """The batch's targets (``labels`` itself when nothing changes)."""
        if sets is None:
            return labels
        picked = choose_answers(self.kind, sets, labels.cpu().numpy(),
                                None if preds is None else preds.cpu().numpy())
        return torch.as_tensor(picked.astype(np.int64), device=labels.device)

    def rollout_predictions(self, sets: AnswerSets, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """DIS's ``nearest``: the training weights' final no-grad prediction for the multi-answer
        rows of the global batch (others keep their label) and the network calls it took per
        example row (to be counted). Every rank runs the same rows, so all pick the same targets."""
        t, tc = self.t, self.t.cfg.train
        rows = torch.as_tensor(np.flatnonzero(sets.multiple), device=batch["inputs"].device)
        preds = batch["labels"].clone()
        was_training = t.model.training
        t.model.eval()
        with t.autocast():
            out = rollout(t.model, batch["inputs"][rows], batch["puzzle_ids"][rows], tc.supervision_steps,
                          tc.step_input, cells=batch["cells"][rows] if "cells" in batch else None)
        t.model.train(was_training)
        preds[rows] = out.predictions[-1]
        return preds, len(rows) * tc.supervision_steps * t.cfg.model.calls_per_step
