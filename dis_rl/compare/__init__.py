"""Method comparisons on equal budgets (``dis-rl compare CONFIG``): the paper's Fig. 5/7.

A compare file lists *arms* (a name, a ``kind``, a train config and overrides), the seeds, one
budget (network calls or training seconds) and how many evaluation points to spread over it.
Every arm x seed trains sequentially to the same budget and is evaluated at the same points;
the run folder then holds ``compare.png`` (test valid accuracy vs network calls and vs training
seconds, mean and min-max band over seeds), ``compare.md`` (tables), ``results.json``, TensorBoard
scalars under ``tb/``, and each arm's own run folder under ``arms/<arm>/seed<k>/``.

The headline is the paper's efficiency claim read two ways: calls per example per batch (the
schedule ``N_sup * T * (n + 1)``: DIS 18 vs TRM 336) and calls needed to reach the baseline's final
accuracy. The last printed line states the second reading.

Arm kinds map to runners in the table `dis_rl.arms.ARM_KINDS`; ``dis`` and ``trm`` train with the shared
`Trainer`, the RL arms (``ppo_scratch``, ``pg_finetune``) with `dis_rl.agents.rl_arm`; each returns an `ArmRun`.

The package, by job: `schema` (the compare file and each arm's resolved config), `arm_runs` (training or
reusing one arm x seed, one at a time or in a process pool), `stats` (seed means at the evaluation
points, the verdict), `report` (markdown tables, the reach report), `plot` (``compare.png``,
TensorBoard scalars) and `command` (`compare`, which strings them together).
"""

from dis_rl.arms import ARM_KINDS, ARM_LOADERS, ArmRun
from dis_rl.compare.arm_runs import finished_result, provenance, run_or_reuse, run_supervised
from dis_rl.compare.command import COMPARE_OUTPUTS, CompareResult, compare
from dis_rl.compare.plot import comparison_figure, line_style, plot_comparison
from dis_rl.compare.report import format_tables, reach_table, write_report
from dis_rl.compare.schema import Arm, Budget, CompareConfig, arm_run_config, load_compare_config
from dis_rl.compare.stats import ArmSummary, Verdict, ratio_words, summarise, verdict

__all__ = [
    "ARM_KINDS", "ARM_LOADERS", "COMPARE_OUTPUTS", "Arm", "ArmRun", "ArmSummary", "Budget", "CompareConfig",
    "CompareResult", "Verdict", "arm_run_config", "compare", "comparison_figure", "finished_result",
    "format_tables", "line_style", "load_compare_config", "plot_comparison", "provenance", "ratio_words",
    "reach_table", "run_or_reuse", "run_supervised", "summarise", "verdict", "write_report",
]
