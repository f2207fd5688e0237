"""``python -m hpsearch`` runs the command line."""

from hpsearch.cli.main import cli

cli()
