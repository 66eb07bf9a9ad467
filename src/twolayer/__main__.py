"""`python -m twolayer`: the same command line as the `twolayer` script."""

import sys

from .cli import main

sys.exit(main())
