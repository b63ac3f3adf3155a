"""What a training run logs to TensorBoard besides scalars: the resolved config (text), its
hyper-parameters with the final metrics (the HParams tab, in the run's own folder so runs compare
side by side) and the refinement strip of one test puzzle at every evaluation (Images tab)."""

from __future__ import annotations

from typing import Any

import yaml

from dis_rl.config import RunConfig

# Keys shown in the HParams tab (the ones runs usually differ in); the full config is the text.
HPARAM_KEYS = (
    "train.method", "train.targets", "train.step_input", "train.supervision_steps", "train.lr", "train.batch_size",
    "train.optimizer", "train.loss", "train.p_uncond", "train.ema", "train.seed", "train.precision",
    "model.hidden", "model.layers", "model.heads", "model.variant", "model.cycles", "model.latent_steps",
    "data.domain", "data.num_train",
)


def log_config(writer, cfg: RunConfig) -> None:
    """The resolved config as a YAML block (indented four spaces: TensorBoard renders markdown)."""
    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    writer.add_text("config", "\n".join("    " + line for line in text.splitlines()), 0)


def hparams(cfg: RunConfig) -> dict[str, Any]:
    """The `HPARAM_KEYS` of ``cfg`` as TensorBoard accepts them (numbers, strings, booleans)."""
    flat = cfg.to_dict()
    out = {}
    for key in HPARAM_KEYS:
        section, name = key.split(".")
        value = flat[section][name]
        out[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
    return out


def log_hparams(writer, cfg: RunConfig, metrics: dict[str, float]) -> None:
    """Hyper-parameters and final metrics into the writer's own run folder (``add_hparams`` would
    open a sub-run per call)."""
    from torch.utils.tensorboard.summary import hparams as hparams_summary

    metrics = {f"hparam/{k}": float(v) for k, v in metrics.items()}
    for summary in hparams_summary(hparams(cfg), metrics):
        writer.file_writer.add_summary(summary)
    for key, value in metrics.items():
        writer.add_scalar(key, value)


def log_strip(writer, model, cfg: RunConfig, puzzles, step: int, device) -> None:
    """The refinement strip of test puzzle 0 (targets and predictions per step) as an image."""
    import matplotlib.pyplot as plt

    from dis_rl.figures import figure_to_array, model_strip

    fig = model_strip(model, cfg, puzzles, 0, device=device, title=f"{cfg.name}: test puzzle 0 at batch {step}")
    writer.add_image("eval/refinement_strip", figure_to_array(fig), step, dataformats="HWC")
    plt.close(fig)
