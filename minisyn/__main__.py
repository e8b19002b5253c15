"""``python -m minisyn`` runs the command line (see :mod:`minisyn.cli`)."""
import sys

from minisyn.cli import run

sys.exit(run())
