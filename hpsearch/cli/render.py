"""The CLI's two consoles and the rich tables it prints of what the library returns.

Results go to stdout (``console``); messages and errors to stderr (``err_console``).
Nothing here decides anything: it draws what the library returns. Live displays
while training are in ``progress`` (and ``live`` for babysit); confirm's table and
verdicts in ``confirm_view``; a dry run's plan in ``plan_view``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from rich.console import Console, ConsoleDimensions, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from hpsearch.analysis.leaderboard import (
    FOLD_BEFORE_DROP,
    Column,
    Leaderboard,
    format_accuracy,
    format_cost,
    format_param,
    format_quality,
    leaderboard,
)
from hpsearch.analysis.run_notes import describe_round, model_label
from hpsearch.cli.text import plain, safe
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus
from hpsearch.nn.results import TrainResult
from hpsearch.space.search_space import Space
from hpsearch.space.zoom import EdgeHint


def _is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is an open terminal (stdout is None when the process started with it closed)."""
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):  # closed
        return False


def output_width(stream: Any, environ: Mapping[str, str] | None = None) -> int:
    """The columns output to ``stream`` must fit: ``COLUMNS`` when set, else the terminal's, else 80.

    Unlike rich's own guess, a pipe or a file is not given the width of whatever
    terminal stdin happens to be: ``hpsearch show RUN | cat`` and CI logs read
    80 columns unless ``COLUMNS`` says otherwise.
    """
    columns = (os.environ if environ is None else environ).get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if _is_terminal(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or 80
        except (AttributeError, ValueError, OSError):
            pass
    return 80


class _Console(Console):
    """A rich Console that fits ``output_width`` and treats a reader gone away as success.

    The width is read at each print (``COLUMNS`` set later, a resized terminal),
    unless set explicitly. On a broken pipe (``hpsearch show RUN | head -1``) rich
    silences the output and exits with 1; like ``export``, we exit with 0.
    """

    @property
    def size(self) -> ConsoleDimensions:
        if self._width is not None:
            return super().size
        return ConsoleDimensions(output_width(self.file, self._environ), super().size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def on_broken_pipe(self) -> None:
        try:
            super().on_broken_pipe()
        except SystemExit:
            raise SystemExit(0) from None


console = _Console()
err_console = _Console(stderr=True)


def fitted_table(
    board: Leaderboard, title: str, width: int | None, styles: Mapping[str, list[str]] | None = None
) -> tuple[Table, tuple[str, ...]]:
    """``board`` as a rich table that fits ``width`` (None: every column at its natural width), and the titles of
    the columns left out for want of width (``Leaderboard.fitted``).

    Cells are measured as printed (a control character shows as ``\\x1b``). Each column is at its natural width
    or at its narrowest (``Leaderboard.column_widths``): a title then wraps at its spaces or breaks after an
    underscore (``learning_`` over ``rate``), never one letter a line, and no value is cut. ``styles`` maps a
    column's title to the style of its cell in each row.
    """
    board = replace(
        board,
        columns=[replace(c, title=safe(c.title)) for c in board.columns],
        rows=[[safe(cell) for cell in row] for row in board.rows],
    )
    if width is not None:
        board = board.fitted(width)
    widths = board.widths() if width is None else board.column_widths(width)
    table = Table(title=title, title_justify="left")
    for column, column_width in zip(board.columns, widths):
        lines = column.folded() if column_width < len(column.title) and " " not in column.title else [column.title]
        table.add_column(
            Text("\n").join(Text(line) for line in lines),
            justify=column.justify,  # type: ignore[arg-type]
            overflow="fold",
            width=column_width,
        )
    styled = {i: (styles or {})[c.title] for i, c in enumerate(board.columns) if c.title in (styles or {})}
    for k, row in enumerate(board.rows):
        table.add_row(*(Text(cell, styled[i][k] if i in styled else "") for i, cell in enumerate(row)))
    return table, board.hidden


def say(text: Text | str, on: Console | None = None) -> None:
    """Print one message (a note, a hint, an error, a result line) on ``on`` (default: stdout).

    On a terminal it wraps at the terminal's width like everything else; off one
    (a pipe, a log) it stays one whole line, so that a message can be grepped and
    an error is one line whatever its length. Tables fit the width either way.
    """
    on = on or console
    on.print(text, highlight=False, markup=False, soft_wrap=not on.is_terminal)


fmt = format_param  # a value in a one-line message: the leaderboard's own formatting

_STATUS_STYLE = {
    TrialStatus.OK: "",
    TrialStatus.PRUNED: "dim",
    TrialStatus.DIVERGED: "yellow",
    TrialStatus.FAILED: "red",
}


def leaderboard_table(
    trials: list[TrialRecord],
    names: list[str],
    top: int | None = None,
    title: str = "Leaderboard",
    *,
    wide: bool = False,
    width: int | None = None,
    metric: str | None = None,
    brackets: dict[int, int] | None = None,
    more: str | None = None,
) -> Table | Group:
    """Rank, trial, round, status, searched values, dev J, train J, dev accuracy, epochs, seconds.

    Fitted to ``width`` (default: the terminal's) by ``Leaderboard.fitted``: the
    minor columns go first, then the parameters from the last of ``names`` (pass
    them most important first), and rank, trial, status and dev J are never cut;
    titles fold (``fitted_table``), never one letter a line. ``wide`` keeps every column. When columns
    were left out and ``more`` (the command that shows them) is given, one line
    under the table says so. With an own
    objective (``metric``), the engine's result columns give way to the metric and the
    other numbers it reported; a ``rung`` column shows when early stopping put trials at rungs, a ``bracket``
    column when ``brackets`` (trial -> Hyperband bracket) is given, an ``error`` column when a trial failed.
    """
    width = width or console.width
    board = leaderboard(trials, names, top, metric, brackets)
    table, hidden = fitted_table(
        board, title, None if wide else width, {"status": [_STATUS_STYLE[s] for s in board.statuses]}
    )
    return Group(table, more_line(hidden, more, width)) if hidden and more is not None else table


def more_line(hidden: tuple[str, ...], more: str, width: int) -> Text:
    """``3 more columns (round, epochs, seconds): hpsearch show RUN --wide``, without the names if too long."""
    count = f"{len(hidden)} more column{'s' if len(hidden) > 1 else ''}"
    named = f"{count} ({', '.join(hidden)}): {more}"
    return plain(named if len(named) <= width else f"{count}: {more}", "dim")


def table_width(table: Table | Group) -> int:
    """The width ``table`` needs to show every cell whole."""
    return Measurement.get(console, console.options.update(width=100_000), table).maximum


def print_wide(table: Table | Group, on: Console | None = None) -> None:
    """Print ``table`` at its full width even on a narrower terminal (``show --wide``); the terminal wraps it."""
    on = on or console
    wide = Console(
        file=on.file,
        width=max(table_width(table), on.width),
        force_terminal=on.is_terminal,
        color_system=on.color_system,
    )  # type: ignore[arg-type]
    wide.print(table)


def best_line(best: TrialRecord, metric: str | None = None, test: Any = None) -> Text:
    """``best: trial 7  dev J 0.1234  dev acc 93.75%  learning_rate=0.0123, ...`` (an own objective: its metric).

    When the trial is ranked by its best epoch (``search.rank_by: best``), that J and epoch are said too; with a
    test part, ``test`` (``search.test_part.TestFigures``) adds the test figures of the model predict uses.
    """
    values = ", ".join(f"{k}={format_param(v)}" for k, v in best.params.items())
    if metric is not None:
        return plain(f"best: trial {best.trial}  {metric} {format_cost(best.metrics.get(metric))}  {values}")
    ranked_by_best = best.best_epoch is not None and best.value == best.best_dev_cost != best.dev_cost
    at_best = f" (best {format_cost(best.best_dev_cost)} at epoch {best.best_epoch + 1})" if ranked_by_best else ""
    quality = format_quality({**best.metrics, "dev_accuracy": best.dev_accuracy})
    tested = ""
    if test is not None:
        mine = (test.trial, test.repeat, test.refit) == (best.trial, None, False)
        tested = f"  {test.summary()}" + ("" if mine else f" (of {model_label(test)}, which predict uses)")
    return plain(f"best: trial {best.trial}  dev J {format_cost(best.dev_cost)}{at_best}  {quality}{tested}  {values}")


def model_table(rows: list[tuple[str, Any, str]]) -> Table:
    """``hpsearch train``: every hyperparameter, the value used and where it came from."""
    table = Table(title="Model", title_justify="left")
    table.add_column("hyperparameter")
    table.add_column("value", justify="right")
    table.add_column("from")
    for name, value, source in rows:
        table.add_row(plain(name), plain(format_param(value)), plain(source, "dim" if source == "default" else ""))
    return table


def rounds_table(rounds: list[RoundRecord], trials: Sequence[TrialRecord]) -> Table:
    """Each round's space and how it was made (``describe_round``), one row per parameter and round."""
    table = Table(title="Rounds", title_justify="left")
    for column in ("round", "kind", "sampler", "trials", "parameter", "space"):
        table.add_column(column)
    for r in rounds:
        space = Space.from_json(r.space)
        how = describe_round(r, trials)
        kind, sampler = plain(how.kind), plain(how.sampler)
        first = True
        for name, dist in space.items():
            table.add_row(
                str(r.round) if first else "",
                kind if first else "",
                sampler if first else "",
                str(r.n_trials) if first else "",
                plain(name),
                plain(dist.describe()),
            )
            first = False
        if first:
            table.add_row(str(r.round), kind, sampler, str(r.n_trials), "—", "nothing searched")
    return table


def edge_lines(edges: list[EdgeHint]) -> list[Text]:
    """One ``hint: ...`` line per bound the best trials sit at."""
    return [plain(f"hint: {e.message}") for e in edges]


def result_table(result: TrainResult) -> Table:
    """``hpsearch train`` and ``babysit``: status, train and dev J, dev accuracy, epochs and seconds of one model."""
    table = Table(title="Result", title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in (
        ("status", result.status.value),
        ("train J", format_cost(result.train_cost)),
        ("dev J", format_cost(result.dev_cost)),
        *(
            (("dev RMSE", format_cost(result.dev_rmse)), ("dev R²", format_param(result.dev_r2)))
            if result.dev_rmse is not None
            else (("dev accuracy", format_accuracy(result.dev_accuracy)),)
        ),
        ("epochs run", str(result.epochs_run)),
        ("seconds", f"{result.seconds:.2f}"),
    ):
        table.add_row(key, value)
    return table


def runs_table(runs: list[Any], width: int | None = None) -> Table | Group:
    """``hpsearch list``: one row per run; the best value is dev J, or an own objective's metric (named).

    Fitted to ``width`` (default: the terminal's) like the leaderboard: the date goes first, then the rounds
    and status counts, when even folded titles do not fit; one line says what was left out.
    """
    width = width or console.width
    drop = FOLD_BEFORE_DROP
    columns = [
        Column("run", "left", whole=True),
        Column("created", "left", drop=drop),
        Column("rounds", drop=drop + 1),
        Column("trials", whole=True),
        Column(" / ".join(s.value for s in TrialStatus), drop=drop + 2),
        Column("best (metric)", whole=True),
        Column("best trial", drop=drop + 3),
    ]
    rows = [
        [
            r.name,
            str(r.created)[:16],
            str(r.rounds),
            f"{r.trials_done}/{r.trials_planned}",
            " / ".join(str(r.status_counts[s.value]) for s in TrialStatus),
            f"{format_cost(r.best_dev_cost)} (dev J)"
            if r.metric is None
            else f"{format_cost(r.best_value)} ({r.metric})",
            format_param(r.best_trial) + (" (confirmed)" if r.confirmed else ""),
        ]
        for r in runs
    ]
    table, hidden = fitted_table(Leaderboard(columns, rows, [], []), "Runs", width)
    return Group(table, more_line(hidden, "a wider terminal shows them", width)) if hidden else table


def importance_table(report: Any, metric: str | None = None, width: int | None = None) -> Table | Text | Group:
    """``hpsearch importance``: parameters by their share of the variation of dev J (or of ``metric``),
    ± a bootstrap spread, with a bar as long as the share, fitted to ``width`` (default: the terminal's).

    Then the share no main effect explains, the method, and, when the ranking is not
    stable over bootstrap resamples, that there are too few trials to rank.
    """
    if not report.enough:
        return plain(f"importance: {report.message}")
    # every trial of the first round that trained counts (pruned ones at their first rung), not only the ok ones
    table = Table(title=plain(f"Importance: share of variation of {metric or 'dev J'}"), title_justify="left")
    longest = max(len("parameter"), *(len(item.name) for item in report.items))
    bar = min(30, max(10, (width or console.width) - (4 + longest + 6 + 13 + 5 * 3 + 1)))
    table.add_column("rank", justify="right")
    table.add_column("parameter")
    table.add_column("share", justify="right")
    table.add_column("± (bootstrap)", justify="right")
    table.add_column("", width=bar)
    for position, item in enumerate(report.items, start=1):
        table.add_row(
            str(position), plain(item.name), f"{item.share:.1%}", f"± {item.spread:.1%}", "█" * round(bar * item.share)
        )
    lines: list[Any] = [table]
    if report.unexplained is not None:
        lines.append(plain(f"unexplained (interactions and noise): {report.unexplained:.1%}"))
    lines += [plain(note) for note in (item.active_note(report.n_trials) for item in report.items) if note]
    lines.append(plain(f"{report.n_trials} trials of the first round; method: {report.method}", "dim"))
    if not report.stable:
        lines.append(plain(report.message or "too few trials to rank", "yellow"))
    return Group(*lines)


def decisions_table(decisions: list[Any]) -> Table:
    """The decision log of a babysat trial (``hpsearch.babysit.rules.Decision``), in the order they were made."""
    table = Table(title="Decisions", title_justify="left")
    for column in ("after epoch", "action", "why", "learning rate", "rolled back to"):
        table.add_column(column, justify="right" if column in ("after epoch", "rolled back to") else "left")
    for d in decisions:
        rate = (
            fmt(d.learning_rate_after)
            if d.learning_rate_before == d.learning_rate_after
            else f"{fmt(d.learning_rate_before)} → {fmt(d.learning_rate_after)}"
        )
        table.add_row(
            str(d.epoch),
            d.action,
            plain(d.reason),
            rate,
            "—" if d.rolled_back_to is None else f"epoch {d.rolled_back_to}",
        )
    return table
