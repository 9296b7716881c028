"""``python -m devtools.bench --scale S [--scaling]``: see ``devtools/bench/cli.py``."""

import sys

from devtools.bench.cli import main

sys.exit(main())
