"""``hpsearch serve``: the runs folder, live and read-only, in a browser (the logic is ``hpsearch.serve``)."""

from __future__ import annotations

from pathlib import Path

import click

from hpsearch.cli import render
from hpsearch.cli.options import runs_dir_or_default
from hpsearch.cli.text import plain


@click.command()
@click.argument("runs_dir", metavar="[RUNS_DIR]", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=8050, show_default=True, help="Port (0: a free one).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any but loopback needs the token in the printed URL.",
)
@click.option("--open", "open_", is_flag=True, help="Open the page in the default browser.")
def serve(runs_dir: Path | None, port: int, host: str, open_: bool) -> None:
    """Watch the runs of RUNS_DIR (default: $HPSEARCH_RUNS_DIR or ./runs) in a browser, live, until Ctrl-C.

    Read-only: it never writes to a run, nor slows or locks one that is running.
    """
    from hpsearch.core.errors import HpsearchError
    from hpsearch.serve.server import serve as start

    folder = runs_dir_or_default(runs_dir)
    try:
        server = start(folder, host, port)
    except OSError as e:
        raise HpsearchError(f"cannot listen on {host}:{port}: {e.strerror or e} — try another --port") from None
    render.say(plain(f"serving {folder} at {server.url} — Ctrl-C to stop"))
    if server.token is not None:
        render.say(plain("the token in this URL is needed by every visitor: share it only with them", "yellow"))
    if open_:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        render.say(plain("stopped"))
    finally:
        server.server_close()
