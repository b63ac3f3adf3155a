"""What ``dis-rl demo`` shows after its short run: the shipped N-Queens checkpoint's ``w`` table and
one env episode solved by `CFGAgent`, so a new user sees a capable model within minutes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dis_rl.resources import CHECKPOINTS_DIR

SHIPPED_CHECKPOINT = CHECKPOINTS_DIR / "nqueens_dis"
SHOWCASE_WS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


def demo_showcase(checkpoint: str | Path | None = None, ws: Sequence[float] = SHOWCASE_WS,
                  max_tries: int = 50, progress: bool = False) -> str:
    """The text to print: the guidance sweep on the checkpoint's test boards and one rendered
    NQueensRefine-v0 episode (ansi) solved by the guided agent at the best ``w``. Returns a short
    explanation instead when there is no checkpoint (nothing is raised)."""
    from dis_rl.agents.cfg_agent import CFGAgent
    from dis_rl.checkpoint import CheckpointError, resolve_checkpoint
    from dis_rl.guidance import sweep_checkpoint
    from dis_rl.registration import make_refine_env

    path = Path(checkpoint) if checkpoint is not None else SHIPPED_CHECKPOINT
    try:
        resolve_checkpoint(path)
    except CheckpointError:
        return (f"(no reference checkpoint at {path}: the w table and the agent episode are skipped. "
                "Make one with `dis-rl train nqueens_dis_reference` and "
                "`dis-rl export runs/nqueens_dis_reference dis_rl/checkpoints/nqueens_dis`.)")
    result, _ = sweep_checkpoint(path, ws, save=False, device="cpu", progress=progress)
    best = result.best()
    agent = CFGAgent(path, w=best.w)
    data = agent.config.data
    if data.domain != "nqueens":
        return result.to_markdown() + f"\n(the episode needs an N-Queens checkpoint; this one is {data.domain})"
    env = make_refine_env(data, render_mode="ansi", split="test")
    lines = [f"Reference checkpoint {path}", "", result.to_markdown(), ""]
    from tqdm.auto import tqdm

    for puzzle in tqdm(range(min(max_tries, data.num_test)), desc="CFGAgent episodes", unit="board",
                       disable=not progress, leave=False, dynamic_ncols=True):
        episode = agent.run_episode(env, seed=0, options={"puzzle": puzzle}, render=True)
        if episode["solved"]:
            lines += [f"CFGAgent (w={best.w:g}) solving test board {puzzle} in {episode['steps']} step(s) "
                      f"(rewards {', '.join(f'{r:.3f}' for r in episode['rewards'])}):", "", episode["frames"][-1]]
            break
    else:
        lines.append(f"CFGAgent (w={best.w:g}) solved none of the first {max_tries} test boards.")
    env.close()
    return "\n".join(lines)
