"""The CLI's two consoles and the rich tables it prints of what the library returns.

Results go to stdout (``console``); messages and errors to stderr (``err_console``).
Nothing here decides anything: it draws what the library returns. Live displays
while training are in ``progress`` (and ``live`` for babysit); confirm's table and
verdicts in ``confirm_view``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from hpsearch.analysis.histogram import histogram
from hpsearch.analysis.leaderboard import format_accuracy, format_cost, format_param, format_quality, leaderboard
from hpsearch.analysis.run_notes import describe_round
from hpsearch.cli.text import plain
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


class _Console(Console):
    """A rich Console that treats a reader gone away (``hpsearch show RUN | head -1``) as success.

    rich silences the output and exits with 1; like ``export``, we exit with 0.
    """

    def on_broken_pipe(self) -> None:
        try:
            super().on_broken_pipe()
        except SystemExit:
            raise SystemExit(0) from None


# Off a terminal (a pipe, a file, CI logs) rich would assume 80 columns and squeeze
# the leaderboard into ellipses; a wide fixed width keeps every value readable.
console = _Console(width=None if _is_terminal(sys.stdout) else 200)
err_console = _Console(stderr=True, width=None if _is_terminal(sys.stderr) else 200)

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
) -> Table:
    """Rank, trial, round, status, searched values, dev J, train J, dev accuracy, epochs, seconds.

    Fitted to ``width`` (default: the terminal's): seconds, epochs, round and
    train J are dropped, in that order, before anything is cut, and rank, trial,
    status and dev J are never cut. ``wide`` keeps every column. With an own
    objective (``metric``), the engine's result columns give way to the metric and the
    other numbers it reported; a ``rung`` column shows when early stopping put trials at rungs, a ``bracket``
    column when ``brackets`` (trial -> Hyperband bracket) is given, an ``error`` column when a trial failed.
    """
    board = leaderboard(trials, names, top, metric, brackets)
    if not wide:
        board = board.fitted(width or console.width)
    widths = board.widths() if wide else board.column_widths(width or console.width)
    table = Table(title=title, title_justify="left")
    for column, column_width in zip(board.columns, widths):
        # A long title (learning_rate) folds over two lines before any value is cut.
        table.add_column(
            plain(column.title),
            justify=column.justify,
            overflow="fold",  # type: ignore[arg-type]
            width=column_width,
        )
    for row, status in zip(board.rows, board.statuses):
        cells = [plain(cell) for cell in row]
        cells[[c.title for c in board.columns].index("status")].stylize(_STATUS_STYLE[status])
        table.add_row(*cells)
    return table


def table_width(table: Table) -> int:
    """The width ``table`` needs to show every cell whole."""
    return Measurement.get(console, console.options.update(width=100_000), table).maximum


def print_wide(table: Table, on: Console | None = None) -> None:
    """Print ``table`` at its full width even on a narrower terminal (``show --wide``); the terminal wraps it."""
    on = on or console
    wide = Console(
        file=on.file,
        width=max(table_width(table), on.width),
        force_terminal=on.is_terminal,
        color_system=on.color_system,
    )  # type: ignore[arg-type]
    wide.print(table)


def best_line(best: TrialRecord, metric: str | None = None) -> Text:
    """``best: trial 7  dev J 0.1234  dev acc 93.75%  learning_rate=0.0123, ...`` (an own objective: its metric).

    When the trial is ranked by its best epoch (``search.rank_by: best``), that J and epoch are said too.
    """
    values = ", ".join(f"{k}={format_param(v)}" for k, v in best.params.items())
    if metric is not None:
        return plain(f"best: trial {best.trial}  {metric} {format_cost(best.metrics.get(metric))}  {values}")
    ranked_by_best = best.best_epoch is not None and best.value == best.best_dev_cost != best.dev_cost
    at_best = f" (best {format_cost(best.best_dev_cost)} at epoch {best.best_epoch + 1})" if ranked_by_best else ""
    quality = format_quality({**best.metrics, "dev_accuracy": best.dev_accuracy})
    return plain(f"best: trial {best.trial}  dev J {format_cost(best.dev_cost)}{at_best}  {quality}  {values}")


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


def plan_table(plan: list[tuple[int, int, dict[str, Any]]], names: list[str]) -> Table:
    """The planned trials of a dry run: (round, trial, params) rows."""
    table = Table(title=f"Planned trials ({len(plan)})", title_justify="left")
    for column in ("round", "trial", *names):
        table.add_column(column, justify="right")
    for rnd, trial, params in plan:
        table.add_row(str(rnd), str(trial), *(plain(format_param(params.get(n))) for n in names))
    return table


def rung_plan_table(plan: list[Any], full_epochs: int, planned: int) -> Group:
    """The dry run's early-stopping plan: trials and epochs per bracket and rung, against full training."""
    table = Table(title="Rungs of round 0", title_justify="left")
    for column in ("bracket", "rung", "trials", "epochs", "epochs trained"):
        table.add_column(column, justify="right")
    for p in plan:
        table.add_row(
            str(p.bracket), str(p.rung + 1), str(p.trials), str(p.epochs), str(p.trials * (p.epochs - p.start_epochs))
        )
    share = f", {planned / full_epochs:.0%} of the {full_epochs} of full training" if full_epochs else ""
    return Group(table, f"{planned} epochs in all{share} (if no trial diverges)")


def zoom_rounds_line(search: Any) -> str:
    """What a dry run says of the automatic coarse-to-fine rounds that follow round 0."""
    if search.rounds <= 1:
        return "then no zoom round (search.rounds: 1); add one later with: hpsearch zoom RUN"
    n = search.rounds - 1
    return (
        f"then {n} zoom round{'s' if n > 1 else ''} of {search.zoom_trials or search.trials} trials"
        f"{' each' if n > 1 else ''}, "
        + (
            "planned by tpe from every finished trial"
            if search.zoom == "tpe"
            else f"sampled in the box of the best {search.top_k} trials so far"
        )
    )


def histograms(space: Space, plan: list[dict[str, Any]], width: int = 30) -> Table:
    """For each parameter, a bar per bin of its planned values, on its own scale."""
    table = Table(title="Where the search will look", title_justify="left", show_header=False, box=None)
    table.add_column("parameter", style="bold")
    table.add_column("bin", justify="right")
    table.add_column("bar")
    table.add_column("count", justify="right")
    for name, dist in space.items():
        bins = histogram(dist, [p[name] for p in plan if name in p])  # active trials only
        most = max((count for _, count in bins), default=0) or 1
        for i, (label, count) in enumerate(bins):
            bar = "█" * round(width * count / most)
            table.add_row(plain(f"{name} ({dist.scale})") if i == 0 else "", plain(label), bar, str(count))
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


def runs_table(runs: list[Any]) -> Table:
    """``hpsearch list``: one row per run; the best value is dev J, or an own objective's metric (named)."""
    table = Table(title="Runs", title_justify="left")
    for column in (
        "run",
        "created",
        "rounds",
        "trials",
        " / ".join(s.value for s in TrialStatus),
        "best (metric)",
        "best trial",
    ):
        table.add_column(column, justify="left" if column in ("run", "created") else "right")
    for r in runs:
        counts = " / ".join(str(r.status_counts[s.value]) for s in TrialStatus)
        best = plain(
            f"{format_cost(r.best_dev_cost)} (dev J)"
            if r.metric is None
            else f"{format_cost(r.best_value)} ({r.metric})"
        )
        table.add_row(
            plain(r.name),
            str(r.created)[:19],
            str(r.rounds),
            f"{r.trials_done}/{r.trials_planned}",
            counts,
            best,
            format_param(r.best_trial) + (" (confirmed)" if r.confirmed else ""),
        )
    return table


def importance_table(report: Any, metric: str | None = None) -> Table | Text | Group:
    """``hpsearch importance``: parameters by their share of the variation of dev J (or of ``metric``),
    ± a bootstrap spread.

    Then the share no main effect explains, and, when the ranking is not
    stable over bootstrap resamples, that there are too few trials to rank.
    """
    if not report.enough:
        return plain(f"importance: {report.message}")
    table = Table(
        title=f"Hyperparameter importance — {report.method} ({report.n_trials} ok trials)", title_justify="left"
    )
    table.add_column("rank", justify="right")
    table.add_column("parameter")
    table.add_column(plain(f"share of variation of {metric or 'dev J'}"), justify="right")
    table.add_column("± (bootstrap)", justify="right")
    table.add_column("")
    for position, item in enumerate(report.items, start=1):
        table.add_row(
            str(position), plain(item.name), f"{item.share:.1%}", f"± {item.spread:.1%}", "█" * round(30 * item.share)
        )
    lines: list[Any] = [table]
    if report.unexplained is not None:
        lines.append(plain(f"unexplained (interactions and noise): {report.unexplained:.1%}"))
    lines += [plain(note) for note in (item.active_note(report.n_trials) for item in report.items) if note]
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
