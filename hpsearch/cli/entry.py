"""The ``hpsearch`` command's entry point (``python -m hpsearch`` too).

A Ctrl-C while the command line is still loading (its imports take a quarter of a second) ends it with exit
code 130 and no traceback: nothing has started yet. From then on ``cli.main`` reports an interrupt itself.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Load the command line and run it."""
    try:
        from hpsearch.cli.main import cli
    except KeyboardInterrupt:
        sys.exit(130)
    cli()
