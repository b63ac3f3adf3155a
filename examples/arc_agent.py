"""Your own ARC agent through ``ARCRefine-v0``, scored the official way (two attempts per test input).

    python examples/arc_agent.py [--source arc1|arc2|DIR] [--limit N] [--out submission.json]

The agent here is a tiny program search that never looks at a label: it tries fourteen grid transforms
(symmetries, tilings, scalings, mirrorings) and a constant answer on the task's demonstration
pairs, submits the transform that explains the most of them (attempt 1) and the runner-up (attempt
2). Replace ``predict`` with your policy, search program or LLM call (``dis_rl.envs.arc.prompt(obs)`` is
the task as digits). ``source`` may be arc1, arc2, a folder of task JSON (ConceptARC, your own; a
flat folder is evaluation tasks) or the ARC Prize (Kaggle) layout.
"""

from __future__ import annotations

import argparse

import numpy as np

from dis_rl import envs  # noqa: F401  (registers ARCRefine-v0)
from dis_rl.envs.arc import grid_action, observation_grids, prompt
from dis_rl.envs.evaluate import evaluate_agent

TRANSFORMS = {
    "identity": lambda g: g,
    "rotate 90": lambda g: np.rot90(g, 1),
    "rotate 180": lambda g: np.rot90(g, 2),
    "rotate 270": lambda g: np.rot90(g, 3),
    "flip rows": lambda g: g[::-1],
    "flip columns": lambda g: g[:, ::-1],
    "transpose": lambda g: g.T,
    "anti-transpose": lambda g: np.rot90(g, 2).T,
    "tile 2x2": lambda g: np.tile(g, (2, 2)),
    "tile 3x3": lambda g: np.tile(g, (3, 3)),
    "scale x2": lambda g: g.repeat(2, 0).repeat(2, 1),
    "scale x3": lambda g: g.repeat(3, 0).repeat(3, 1),
    "mirror right": lambda g: np.hstack([g, g[:, ::-1]]),
    "mirror down": lambda g: np.vstack([g, g[::-1]]),
}


class SymmetryAgent:
    """``predict(obs) -> action``: called once per attempt (attempt 1, then 2) of each test input."""

    def __init__(self) -> None:
        self.last_input: bytes | None = None
        self.attempt = 0

    def predict(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        grids = observation_grids(obs)
        key = obs["input"].tobytes()
        self.attempt = self.attempt + 1 if key == self.last_input else 0  # the 2nd call: the runner-up
        self.last_input = key
        ranked = sorted(TRANSFORMS.items(), key=lambda item: -sum(
            np.array_equal(item[1](x), y) for x, y in grids["demos"]))
        outputs = [y for _, y in grids["demos"]]
        candidates = [out for _, fn in ranked if (out := fn(grids["input"])).shape[0] <= 30 and out.shape[1] <= 30]
        if outputs and all(np.array_equal(outputs[0], y) for y in outputs):
            candidates.insert(0, outputs[0])  # every demonstration has one answer: give it
        return grid_action(candidates[min(self.attempt, len(candidates) - 1)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="arc1", help="arc1, arc2, a folder of task JSON or a Kaggle folder")
    parser.add_argument("--limit", type=int, default=0, help="only the first N test inputs (0: all)")
    parser.add_argument("--out", default="submission.json", help="where to write the ARC Prize submission")
    args = parser.parse_args()

    agent = SymmetryAgent()
    import gymnasium as gym

    names = gym.make("ARCRefine-v0", source=args.source, split="test").unwrapped.task.puzzle_names("test")
    names = names[: args.limit] if args.limit else names
    score = evaluate_agent(agent.predict, "ARCRefine-v0", source=args.source, puzzles=names)
    print(score.summary())
    solved = sorted(task for task, share in score.per_task().items() if share > 0)
    more = " ..." if len(solved) > 10 else ""
    print(f"tasks solved within 2 attempts: {len(solved)}: {', '.join(solved[:10])}{more}")
    print(f"submission: {score.write_submission(args.out)}")
    env = gym.make("ARCRefine-v0", source=args.source, split="test", render_mode="text")
    obs, _ = env.reset(options={"puzzle": names[0]})
    print(f"\nWhat an LLM agent would read for {names[0]} (envs.arc.prompt):\n{prompt(obs)}")


if __name__ == "__main__":
    main()
