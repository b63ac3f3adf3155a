"""``python -m dis_rl`` (also under torchrun) runs the CLI."""

import sys

from dis_rl.cli import main

sys.exit(main())
