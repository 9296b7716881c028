"""``python -m devtools.sample --out DIR``: write the deterministic sample landing zone."""

import sys

from devtools.sample.cli import main

sys.exit(main(sys.argv[1:]))
