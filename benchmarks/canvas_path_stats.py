"""What the public DIS code's whole-canvas path (``train.path_cells: canvas``) does on ARC-1, measured
with dis-rl's own implementation of it (docs/TARGETS.md):

    python benchmarks/canvas_path_stats.py [--source arc1]

For every demonstration and test pair of the training tasks (untranslated, un-augmented): the size of
the diff set (real changes + label-PAD cells) against the real changes, and the share of step-1
scored cells whose target is PAD.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from dis_rl.puzzles.arc import encode_pair, load_tasks
from dis_rl.puzzles.base import PAD
from dis_rl.targets import IGNORE, make_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="arc1")
    args = parser.parse_args()
    pairs = [encode_pair(x, y) for t in load_tasks(args.source, "train") for x, y in [*t.train, *t.test]
             if y is not None]
    inputs = torch.from_numpy(np.stack([p[0] for p in pairs]).astype(np.int64))
    labels = torch.from_numpy(np.stack([p[1] for p in pairs]).astype(np.int64))
    scored = labels != PAD
    real = ((inputs != labels) & scored).sum(-1)
    diff_set = real + (~scored).sum(-1)
    frames = make_frames("path", inputs, labels, 6, 12, torch.Generator().manual_seed(0), cells="canvas")
    step1 = frames[0]
    pad_share = ((step1 == PAD).sum() / (step1 != IGNORE).sum()).item()
    print(f"{args.source} training pairs: {len(pairs)}; canvas diff set median {int(diff_set.median())} cells, "
          f"real changes median {int(real.median())}; step-1 scored cells with target PAD: {100 * pad_share:.0f}%")


if __name__ == "__main__":
    main()
