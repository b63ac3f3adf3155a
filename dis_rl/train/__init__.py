"""Trainers: one shared loop (`Trainer`), methods registered by name (``train.method``)."""

from dis_rl.train.dis import DISMethod
from dis_rl.train.loop import METHODS, RoundStats, Trainer, TrainingDiverged, register_method
from dis_rl.train.trm import TRMMethod

register_method("dis", DISMethod)
register_method("trm", TRMMethod)


def train(cfg, run_dir=None, resume: bool = False, progress: bool = True, overwrite: bool = False):
    """Train ``cfg`` (a `RunConfig`) in ``run_dir`` (default ``out_dir/name``); returns the final
    `EvalResult`. A folder holding an earlier run needs ``resume`` or ``overwrite``.
    Also available as ``dis-rl train CONFIG``."""
    return Trainer(cfg, run_dir, progress, resume=resume, overwrite=overwrite).run()


__all__ = ["METHODS", "RoundStats", "Trainer", "TrainingDiverged", "register_method", "train"]
