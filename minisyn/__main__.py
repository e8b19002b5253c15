"""``python -m minisyn`` runs the command line (see :mod:`minisyn.cli`)."""
import sys

from minisyn.cli import main

sys.exit(main())
