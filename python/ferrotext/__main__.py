"""``python -m ferrotext ...`` runs the command line (see :mod:`ferrotext.cli`)."""

import sys

from ferrotext.cli import main

sys.exit(main())
