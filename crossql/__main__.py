"""``python -m crossql``: the same as the ``crossql`` command."""

import sys

from crossql.cli import main

sys.exit(main())
