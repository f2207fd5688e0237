"""Everything the CLI shows: rich tables, progress displays, plain lines off a terminal.

Results go to stdout (``console``); messages and errors to stderr (``err_console``).
Nothing here decides anything: it draws what the library returns.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from hpsearch.cli.text import plain
from hpsearch.analysis.histogram import histogram
from hpsearch.analysis.leaderboard import format_accuracy, format_cost, format_param, leaderboard
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

_STATUS_STYLE = {TrialStatus.OK: "", TrialStatus.PRUNED: "dim", TrialStatus.DIVERGED: "yellow", TrialStatus.FAILED: "red"}


def leaderboard_table(trials: list[TrialRecord], names: list[str], top: int | None = None,
                      title: str = "Leaderboard", *, wide: bool = False, width: int | None = None,
                      metric: str | None = None) -> Table:
    """Rank, trial, round, status, searched values, dev J, train J, dev accuracy, epochs, seconds.

    Fitted to ``width`` (default: the terminal's): seconds, epochs, round and
    train J are dropped, in that order, before anything is cut, and rank, trial,
    status and dev J are never cut. ``wide`` keeps every column. With an own
    objective (``metric``), the engine's result columns give way to the metric and the
    other numbers it reported; a ``rung`` column shows when early stopping put trials at rungs.
    """
    board = leaderboard(trials, names, top, metric)
    if not wide:
        board = board.fitted(width or console.width)
    widths = board.widths() if wide else board.column_widths(width or console.width)
    table = Table(title=title, title_justify="left")
    for column, column_width in zip(board.columns, widths):
        # A long title (learning_rate) folds over two lines before any value is cut.
        table.add_column(plain(column.title), justify=column.justify, overflow="fold",  # type: ignore[arg-type]
                         width=column_width)
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
    wide = Console(file=on.file, width=max(table_width(table), on.width), force_terminal=on.is_terminal,
                   color_system=on.color_system)  # type: ignore[arg-type]
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
    return plain(f"best: trial {best.trial}  dev J {format_cost(best.dev_cost)}{at_best}  "
                 f"dev acc {format_accuracy(best.dev_accuracy)}  {values}")


def model_table(rows: list[tuple[str, Any, str]]) -> Table:
    """``hpsearch train``: every hyperparameter, the value used and where it came from."""
    table = Table(title="Model", title_justify="left")
    table.add_column("hyperparameter")
    table.add_column("value", justify="right")
    table.add_column("from")
    for name, value, source in rows:
        table.add_row(plain(name), plain(format_param(value)), plain(source, "dim" if source == "default" else ""))
    return table


def rounds_table(rounds: list[RoundRecord]) -> Table:
    """Each round's space, one row per parameter and round."""
    table = Table(title="Rounds", title_justify="left")
    for column in ("round", "kind", "trials", "parameter", "space"):
        table.add_column(column)
    for r in rounds:
        space = Space.from_json(r.space)
        kind = r.kind if r.kind != "zoom" else f"zoom top {r.top_k}{' expand' if r.expand else ''}"
        first = True
        for name, dist in space.items():
            table.add_row(str(r.round) if first else "", kind if first else "", str(r.n_trials) if first else "",
                          plain(name), plain(dist.describe()))
            first = False
        if first:
            table.add_row(str(r.round), kind, str(r.n_trials), "—", "nothing searched")
    return table


def plan_table(plan: list[tuple[int, int, dict[str, Any]]], names: list[str]) -> Table:
    """The planned trials of a dry run: (round, trial, params) rows."""
    table = Table(title=f"Planned trials ({len(plan)})", title_justify="left")
    for column in ("round", "trial", *names):
        table.add_column(column, justify="right")
    for rnd, trial, params in plan:
        table.add_row(str(rnd), str(trial), *(plain(format_param(params[n])) for n in names))
    return table


def rung_plan_table(plan: list[Any], full_epochs: int, planned: int) -> Group:
    """The dry run's early-stopping plan: trials and epochs per bracket and rung, against full training."""
    table = Table(title="Rungs of round 0", title_justify="left")
    for column in ("bracket", "rung", "trials", "epochs", "epochs trained"):
        table.add_column(column, justify="right")
    for p in plan:
        table.add_row(str(p.bracket), str(p.rung + 1), str(p.trials), str(p.epochs),
                      str(p.trials * (p.epochs - p.start_epochs)))
    share = f", {planned / full_epochs:.0%} of the {full_epochs} of full training" if full_epochs else ""
    return Group(table, f"{planned} epochs in all{share} (if no trial diverges)")


def zoom_rounds_line(search: Any) -> str:
    """What a dry run says of the automatic coarse-to-fine rounds that follow round 0."""
    if search.rounds <= 1:
        return "then no zoom round (search.rounds: 1); add one later with: hpsearch zoom RUN"
    n = search.rounds - 1
    return (f"then {n} zoom round{'s' if n > 1 else ''} of {search.zoom_trials or search.trials} trials"
            f"{' each' if n > 1 else ''}, "
            f"sampled in the box of the best {search.top_k} trials so far")


def histograms(space: Space, plan: list[dict[str, Any]], width: int = 30) -> Table:
    """For each parameter, a bar per bin of its planned values, on its own scale."""
    table = Table(title="Where the search will look", title_justify="left", show_header=False, box=None)
    table.add_column("parameter", style="bold")
    table.add_column("bin", justify="right")
    table.add_column("bar")
    table.add_column("count", justify="right")
    for name, dist in space.items():
        bins = histogram(dist, [p[name] for p in plan])
        most = max((count for _, count in bins), default=0) or 1
        for i, (label, count) in enumerate(bins):
            bar = "█" * round(width * count / most)
            table.add_row(plain(f"{name} ({dist.scale})") if i == 0 else "", plain(label), bar, str(count))
    return table


def edge_lines(edges: list[EdgeHint]) -> list[Text]:
    return [plain(f"hint: {e.message}") for e in edges]


def result_table(result: TrainResult) -> Table:
    table = Table(title="Result", title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in (
        ("status", result.status.value), ("train J", format_cost(result.train_cost)),
        ("dev J", format_cost(result.dev_cost)),
        ("dev accuracy", format_accuracy(result.dev_accuracy)), ("epochs run", str(result.epochs_run)),
        ("seconds", f"{result.seconds:.2f}"),
    ):
        table.add_row(key, value)
    return table


class _BarOnTerminal:
    """A rich progress bar drawn on stderr while the ``with`` block runs, when stderr is a terminal."""

    progress: Progress
    live: bool

    def __enter__(self) -> "_BarOnTerminal":
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()


class EpochProgress(_BarOnTerminal):
    """Per-epoch progress of one training run: a bar on a terminal, a line per epoch elsewhere."""

    def __init__(self, epochs: int, quiet: bool = False):
        self.quiet = quiet
        self.live = not quiet and err_console.is_terminal
        self.progress = Progress(
            TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
        )
        self.task = self.progress.add_task("train", total=epochs, stats="")

    def __call__(self, epoch: int, stats: dict[str, float]) -> None:
        text = (f"train J {format_cost(stats['train_cost'])}  dev J {format_cost(stats['dev_cost'])}  "
                f"dev acc {format_accuracy(stats['dev_accuracy'])}")
        if self.live:
            self.progress.update(self.task, completed=epoch + 1, stats=text)
        elif not self.quiet:
            err_console.print(f"epoch {epoch + 1}: {text}", highlight=False)


class SearchProgress:
    """A ``SearchReporter`` for the terminal: a progress bar with ETA and a live top-5 table.

    Off a terminal it prints one plain line per finished trial; ``quiet`` prints nothing.
    """

    def __init__(self, names: list[str], quiet: bool = False, top: int = 5, metric: str | None = None):
        self.names = names
        self.metric = metric
        self.quiet = quiet
        self.top = top
        self.trials: dict[int, TrialRecord] = {}  # each trial's latest state, shown in the live table
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console,
        )
        self.live: Live | None = None
        self.task: Any = None
        self._last_draw = 0.0

    def __enter__(self) -> "SearchProgress":
        if not self.quiet and err_console.is_terminal:
            self.live = Live(self._view(), console=err_console, refresh_per_second=4, transient=True)
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def _view(self) -> Group:
        return Group(self.progress, leaderboard_table(list(self.trials.values()), self.names, self.top,
                                                      title="Best so far", metric=self.metric, width=err_console.width))

    def run_opened(self, trials: list[TrialRecord]) -> None:
        self.trials.update((t.trial, t) for t in trials)

    def round_started(self, rnd: RoundRecord, pending: int, label: str) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(label, total=pending)
        if self.live is None and not self.quiet:
            err_console.print(f"{label}: training {pending} trials", highlight=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            err_console.print(plain(f"note: {message}"), highlight=False)

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None:
        self.trials[record.trial] = record
        self.progress.advance(self.task)
        if self.live is not None:
            now = time.monotonic()
            if now - self._last_draw > 0.25:  # redrawing the table per trial would cost more than a tiny trial
                self.live.update(self._view())
                self._last_draw = now
        elif not self.quiet:
            label, short, shown = ("dev J", "J", _shown) if self.metric is None else (self.metric, self.metric, self._metric)
            result = f" {label} {fmt(shown(record))}" if record.status is not TrialStatus.FAILED else f" — {record.error}"
            best_text = f"  best {short} {fmt(shown(best))} (trial {best.trial})" if best else ""
            at = f" at epoch {record.epochs_run}" if record.rung is not None else ""
            err_console.print(plain(f"trial {record.trial}: {record.status.value}{at}{result}{best_text}"), highlight=False)

    def _metric(self, record: TrialRecord) -> float | None:
        return record.metrics.get(self.metric)


def _shown(record: TrialRecord) -> float | None:
    return record.dev_cost


def runs_table(runs: list[Any]) -> Table:
    """``hpsearch list``: one row per run; the best value is dev J, or an own objective's metric (named)."""
    table = Table(title="Runs", title_justify="left")
    for column in ("run", "created", "rounds", "trials", " / ".join(s.value for s in TrialStatus), "best (metric)",
                   "best trial"):
        table.add_column(column, justify="left" if column in ("run", "created") else "right")
    for r in runs:
        counts = " / ".join(str(r.status_counts[s.value]) for s in TrialStatus)
        best = plain(f"{format_cost(r.best_dev_cost)} (dev J)" if r.metric is None
                     else f"{format_cost(r.best_value)} ({r.metric})")
        table.add_row(plain(r.name), str(r.created)[:19], str(r.rounds), f"{r.trials_done}/{r.trials_planned}",
                      counts, best, format_param(r.best_trial))
    return table


def importance_table(report: Any, metric: str | None = None) -> Table | Text | Group:
    """``hpsearch importance``: parameters by their share of the variation of dev J (or of ``metric``),
    ± a bootstrap spread.

    Then the share no main effect explains, and, when the ranking is not
    stable over bootstrap resamples, that there are too few trials to rank.
    """
    if not report.enough:
        return plain(f"importance: {report.message}")
    table = Table(title=f"Hyperparameter importance — {report.method} ({report.n_trials} ok trials)", title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("parameter")
    table.add_column(plain(f"share of variation of {metric or 'dev J'}"), justify="right")
    table.add_column("± (bootstrap)", justify="right")
    table.add_column("")
    for position, item in enumerate(report.items, start=1):
        table.add_row(str(position), plain(item.name), f"{item.share:.1%}", f"± {item.spread:.1%}",
                      "█" * round(30 * item.share))
    lines: list[Any] = [table]
    if report.unexplained is not None:
        lines.append(plain(f"unexplained (interactions and noise): {report.unexplained:.1%}"))
    if not report.stable:
        lines.append(plain(report.message or "too few trials to rank", "yellow"))
    return Group(*lines)


def decisions_table(decisions: list[Any]) -> Table:
    """The decision log of a babysat trial (``hpsearch.babysit.rules.Decision``), in the order they were made."""
    table = Table(title="Decisions", title_justify="left")
    for column in ("after epoch", "action", "why", "learning rate", "rolled back to"):
        table.add_column(column, justify="right" if column in ("after epoch", "rolled back to") else "left")
    for d in decisions:
        rate = fmt(d.learning_rate_after) if d.learning_rate_before == d.learning_rate_after else \
            f"{fmt(d.learning_rate_before)} → {fmt(d.learning_rate_after)}"
        table.add_row(str(d.epoch), d.action, plain(d.reason), rate,
                      "—" if d.rolled_back_to is None else f"epoch {d.rolled_back_to}")
    return table


# -- hpsearch confirm ------------------------------------------------------------


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def confirm_table(confirmation: Any, objective: Any = None) -> Table:
    """The confirmed trials, best first: confirmed and leaderboard place, first run's J, mean J and its spread.

    With an own objective, its metric in its own direction (a maximized metric is shown as it was reported).
    """
    label, shown = _confirm_scale(objective)
    table = Table(title="Confirmation: top trials retrained with fresh seeds", title_justify="left")
    for column in ("rank", "trial", "leaderboard", f"first-run {label}", f"mean {label}", "std", "min – max",
                   "95% interval", "mean acc", "repeats"):
        table.add_column(plain(column), justify="right")
    for c in confirmation.trials:
        interval = "—" if not math.isfinite(c.interval[0]) else _span(shown(c.interval[0]), shown(c.interval[1]))
        repeats = str(c.n) + (f" ({c.unstable} diverged/failed)" if c.unstable else "")
        table.add_row(
            str(c.rank), str(c.trial), ordinal(c.leaderboard_rank), fmt(shown(c.first_value)),
            fmt(shown(c.mean) if c.n else None), fmt(c.std if c.n >= 2 else None),
            _span(shown(c.low), shown(c.high)) if c.n else "—", interval,
            f"{c.mean_accuracy:.2%}" if math.isfinite(c.mean_accuracy) else "—", repeats,
        )
    return table


def _confirm_scale(objective: Any) -> tuple[str, Any]:
    """The name of what confirm ranks by, and how a stored value (lower is better) reads as that."""
    if objective is None:
        return "J", lambda v: v
    return objective.metric, (lambda v: -v) if objective.direction == "maximize" else (lambda v: v)


def _span(a: float, b: float) -> str:
    return f"{fmt(min(a, b))} – {fmt(max(a, b))}"


def confirm_lines(confirmation: Any, objective: Any = None) -> list[str]:
    """What the confirmation says, in plain sentences: order changes, whether the top two differ, the best."""
    label, shown = _confirm_scale(objective)
    lines = []
    by_trial = confirmation.by_trial
    for change in confirmation.changes:
        c = by_trial[change.trial]
        why = (f"its first run was lucky ({label} {fmt(shown(c.first_value))}; its {c.n} repeats average "
               f"{fmt(shown(c.mean))})" if change.lucky else "others confirm better")
        lines.append(f"trial {change.trial}, ranked {ordinal(change.leaderboard_rank)}, confirms "
                     f"{ordinal(change.rank)}: {why}")
    if not confirmation.changes and len(confirmation.trials) > 1:
        lines.append("the confirmed order is the leaderboard's")
    if confirmation.deterministic:
        lines.append(f"every repeat of a trial gave the same {label}: the objective seems deterministic (it ignores "
                     "its seed), so confirm measures no spread")
    elif len(confirmation.trials) >= 2:
        first, second = confirmation.trials[:2]
        if confirmation.tied:
            lines.append(f"trials {first.trial} and {second.trial} cannot be told apart: their 95% intervals of "
                         f"mean {label} overlap — more --seeds narrow them")
        else:
            lines.append(f"trial {first.trial} beats trial {second.trial} beyond the spread of seeds "
                         f"(their 95% intervals of mean {label} do not overlap)")
    best = confirmation.best
    if best is not None:
        values = ", ".join(f"{k}={fmt(v)}" for k, v in best.params.items())
        spread = f" ± {fmt(best.std)}" if best.n >= 2 else ""
        mean_label = "dev J" if objective is None else label
        lines.append(f"recommended: trial {best.trial}  mean {mean_label} {fmt(shown(best.mean))}{spread} over "
                     f"{best.n} seeds  {values}")
    return lines


class ConfirmProgress(_BarOnTerminal):
    """A ``ConfirmReporter`` for the terminal: a progress bar; off a terminal a line per repeat; ``quiet``: nothing."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console,
        )
        self.live = not quiet and err_console.is_terminal
        self.task: Any = None

    def started(self, pending: int, planned: int) -> None:
        label = f"confirm: {pending} of {planned} repeats to train"
        self.task = self.progress.add_task(label, total=pending)
        if not self.live and not self.quiet:
            err_console.print(label, highlight=False)

    def repeat_finished(self, record: Any) -> None:
        self.progress.advance(self.task)
        if not self.live and not self.quiet:
            cost = fmt(record.value) if record.status is not TrialStatus.FAILED else record.error
            err_console.print(plain(f"trial {record.trial} repeat {record.repeat}: {record.status.value} J {cost}"),
                              highlight=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            err_console.print(plain(f"note: {message}"), highlight=False)
