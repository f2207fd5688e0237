"""``python -m hpsearch`` runs the command line."""

from hpsearch.cli.entry import main

main()
