"""`python -m llmsim` runs the command-line interface."""

import sys

from llmsim.cli import main

sys.exit(main())
