"""`python -m colorizer.evaluate`: score the colour (or the restoration) on held-out photos."""

import sys

from colorizer.evaluate.cli import main

sys.exit(main())
