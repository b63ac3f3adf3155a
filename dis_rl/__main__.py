"""``python -m dis_rl`` (also under torchrun) runs the CLI."""

import sys

from dis_rl.cli import main

if __name__ == "__main__":  # not when a spawned worker (compare --jobs) imports it
    sys.exit(main())
