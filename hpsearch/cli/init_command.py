"""``hpsearch init``: a commented starter config for a CSV table (the library: ``hpsearch.config.starter``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hpsearch.cli import render
from hpsearch.cli.text import plain


@click.command()
@click.argument("data", metavar="DATA.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--label", "-l", metavar="COLUMN", help="The label column (default: one named label/target/class/y, else the last)."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Where to write the config (default: DATA's name with .yaml, in the current folder; - for stdout).",
)
@click.option("--force", is_flag=True, help="Overwrite the -o file if it exists.")
def init(data: Path, label: str | None, output: Path | None, force: bool) -> None:
    """Write a commented starter config for DATA.csv: its label and task, the columns to leave out and why, a
    search space sized to the table, and a budget of minutes on two cores.

    Read it, then run it as written: hpsearch run CONFIG.yaml
    """
    from hpsearch.config.starter import starter_config, write_starter

    if output is not None and str(output) == "-":
        sys.stdout.write(starter_config(data, label).text)
        return
    out = output if output is not None else Path(data.stem + ".yaml")
    starter = write_starter(data, out, label=label, force=force)
    profile = starter.profile
    render.say(
        plain(
            f"wrote {out}: label {profile.label!r} ({profile.task}), {len(profile.dropped)} column(s) left out, "
            f"{starter.epochs} epochs, about {max(starter.minutes, 0.1):.1f} minutes on two cores"
        )
    )
    render.say(plain(f"next: hpsearch run {out}"))
