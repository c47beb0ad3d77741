"""`python -m colorizer`: the command line of colorizer/cli.py (installed as `colorize`)."""

import sys

from colorizer.cli import main

sys.exit(main())
