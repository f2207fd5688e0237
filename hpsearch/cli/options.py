"""Options several commands share, checked at the edge, and how a RUN argument becomes a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.text import Text

from hpsearch.cli import render
from hpsearch.core.limits import MAX_WORKERS

RUNS_DIR_HELP = "Folder of runs (default: $HPSEARCH_RUNS_DIR or ./runs)."


def runs_dir_option(f: Any) -> Any:
    """--runs-dir: where the runs live."""
    return click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)(f)


def runs_dir_or_default(runs_dir: Path | None) -> Path:
    """``--runs-dir`` if given, else $HPSEARCH_RUNS_DIR or ./runs."""
    from hpsearch.storage.run_names import default_runs_dir

    return runs_dir if runs_dir is not None else default_runs_dir()


def resolve_run_dir(run: str, runs_dir: Path | None) -> Path:
    """The folder of the run a RUN argument names (a name in the runs folder, or a path)."""
    from hpsearch.storage.catalog import resolve_run

    return resolve_run(run, runs_dir_or_default(runs_dir))


def check_workers(ctx: click.Context | None, param: click.Parameter | None, value: int | None) -> int | None:
    """Warn on stderr when ``--workers`` (or search.workers) asks for more processes than is wise."""
    from hpsearch.config.placement import workers_warning

    warning = workers_warning(value)
    if warning:
        render.err_console.print(Text.assemble(("warning: ", "yellow"), warning), highlight=False)
    return value


def _check_scheduler(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a ``--scheduler`` address that is not one dask can reach."""
    from hpsearch.config.placement import scheduler_problem

    problem = scheduler_problem(value) if value is not None else None
    if problem:
        raise click.BadParameter(problem)
    return value


def execution_options(f: Any) -> Any:
    """--workers, --backend, --scheduler, --quiet: how and where trials run."""
    f = click.option("--quiet", "-q", is_flag=True, help="No progress display; print only the result.")(f)
    f = click.option(
        "--scheduler",
        metavar="ADDRESS",
        callback=_check_scheduler,
        help="dask scheduler address, e.g. tcp://10.0.0.5:8786.",
    )(f)
    f = click.option(
        "--backend",
        type=click.Choice(["loky", "dask"]),
        help="Run trials in local processes (loky) or on a dask cluster.",
    )(f)
    f = click.option(
        "--workers",
        "-w",
        type=click.IntRange(min=1, max=MAX_WORKERS),
        callback=check_workers,
        help="Trials trained at once (default: search.workers, else one per core).",
    )(f)
    return f
