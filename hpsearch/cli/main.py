"""The ``hpsearch`` command line: parse, call one library function, render.

Errors: every ``HpsearchError`` becomes its one-line message on stderr and its
exit code (2 for bad input, 130 for Ctrl-C), here and nowhere else; ``--debug``
shows the traceback instead. The commands live in modules by what they do
(``search_commands``, ``view_commands``, ``model_commands``) and are registered
on the group here.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from rich.text import Text

from hpsearch import __version__
from hpsearch.cli import init_command, model_commands, render, search_commands, serve_command, view_commands
from hpsearch.cli.text import plain, safe
from hpsearch.core.errors import HpsearchError


class HpsearchGroup(click.Group):
    """Turns library errors into one line each and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`hpsearch export RUN | head -1`): what it wanted
            # was written. Exit quietly, and keep the interpreter's final flush of
            # stdout from failing again.
            _silence_stdout()
            ctx.exit(0)
        except click.ClickException as exc:
            exc.message = safe(exc.message)  # click repeats the user's argument in its message
            raise
        except (HpsearchError, KeyboardInterrupt, OSError, MemoryError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            lines, code = _error_lines(exc)
            for line in lines:
                render.say(line, render.err_console)
            ctx.exit(code)


def _silence_stdout() -> None:
    """Point stdout at /dev/null (after a broken pipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass


def _error_lines(exc: BaseException) -> tuple[list[Text], int]:
    """What the user reads for an error, and the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        return [Text("interrupted")], 130
    if isinstance(exc, MemoryError):
        message = "out of memory — use a smaller model, dataset or fewer --workers (--debug shows the traceback)"
        return [Text.assemble(("error: ", "red"), message)], 2
    if isinstance(exc, HpsearchError):
        if exc.exit_code != 2:  # not a mistake (Ctrl-C during a search): no "error:" prefix
            return [plain(line) for line in str(exc).splitlines()], exc.exit_code
        return [Text.assemble(("error: ", "red"), plain(line)) for line in str(exc).splitlines()], 2
    # OSError: a path the user gave that cannot be read or written, a full disk, ...
    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    reason = getattr(exc, "strerror", None) or str(exc)
    message = f"{where}{reason} — check the path, its permissions and free space (--debug shows the traceback)"
    return [Text.assemble(("error: ", "red"), plain(message))], 2


@click.group(cls=HpsearchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hpsearch")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Hyperparameter search for NumPy neural networks.

    Declare a search space in YAML, run many models in parallel, zoom into the
    best region, and read the leaderboard.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


for _command in (
    init_command.init,
    search_commands.train,
    search_commands.run,
    search_commands.resume,
    search_commands.zoom,
    search_commands.import_,
    model_commands.confirm,
    model_commands.babysit,
    model_commands.predict,
    view_commands.show,
    view_commands.export,
    view_commands.list_,
    view_commands.plot,
    view_commands.importance,
    serve_command.serve,
):
    cli.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    cli()
