"""Trainers: one shared loop (`Trainer`), the methods by name (``train.method``: the table `METHODS`)."""

from dis_rl.train.loop import METHODS, RoundStats, Trainer, TrainingDiverged, TrainingInterrupted


def train(cfg, run_dir=None, resume: bool = False, progress: bool = True, overwrite: bool = False,
          figures: bool = True, resume_named: tuple[str, ...] = ()):
    """Train ``cfg`` (a `RunConfig`) in ``run_dir`` (default ``out_dir/name``); returns the final
    `EvalResult`. A folder holding an earlier run needs ``resume`` or ``overwrite``. Writes the run's
    figures (``accuracy_vs_calls.png``, ``hamming_per_step.png``) as ``dis-rl train CONFIG`` does,
    unless ``figures=False``. ``resume_named``: the train keys (``"train.max_batches"``) a resume
    may change from the checkpoint's config (recorded in ``resume_log.jsonl``)."""
    trainer = Trainer(cfg, run_dir, progress, resume=resume, overwrite=overwrite, resume_named=resume_named)
    result = trainer.run()
    if figures and trainer.dist.is_main:
        from dis_rl.plots import plot_run  # matplotlib: the training layer loads it only to draw (tests/test_layers.py)

        plot_run(trainer.run_dir)
    return result


__all__ = ["METHODS", "RoundStats", "Trainer", "TrainingDiverged", "TrainingInterrupted", "train"]
