"""`python -m theory --table N|wd-rules|residual|all [--out DIR]`, `python -m theory --list`."""

import sys

from theory.cli import main

sys.exit(main())
