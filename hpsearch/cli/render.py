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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from hpsearch.histogram import histogram
from hpsearch.records import RoundRecord, TrainResult, TrialRecord, TrialStatus, rank
from hpsearch.space import Space
from hpsearch.zoom import EdgeHint

# Off a terminal (a pipe, a file, CI logs) rich would assume 80 columns and squeeze
# the leaderboard into ellipses; a wide fixed width keeps every value readable.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def fmt(value: Any) -> str:
    """Compact, readable text for a hyperparameter or result value."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def _status(status: TrialStatus) -> str:
    return {TrialStatus.OK: "ok", TrialStatus.PRUNED: "[dim]pruned[/]", TrialStatus.DIVERGED: "[yellow]diverged[/]",
            TrialStatus.FAILED: "[red]failed[/]"}[status]


def leaderboard_table(trials: list[TrialRecord], names: list[str], top: int | None = None, title: str = "Leaderboard") -> Table:
    """Rank, trial, round, status, (rung), searched values, dev J, train J, dev accuracy, epochs, seconds.

    The rung column (1-based rung reached) shows when early stopping put trials at rungs.
    """
    table = Table(title=title, title_justify="left")
    rungs = any(t.rung is not None for t in trials)
    for column in ("rank", "trial", "round", "status", *(["rung"] if rungs else []), *names):
        table.add_column(column, justify="left" if column == "status" else "right")
    for column in ("dev J", "train J", "dev acc", "epochs", "seconds"):
        table.add_column(column, justify="right")
    for position, t in enumerate(rank(trials)[:top], start=1):
        table.add_row(
            str(position), str(t.trial), str(t.round), _status(t.status),
            *([fmt(None if t.rung is None else t.rung + 1)] if rungs else []),
            *(fmt(t.params.get(n)) for n in names),
            fmt(t.dev_cost), fmt(t.train_cost),
            "—" if t.dev_accuracy is None else f"{t.dev_accuracy:.2%}",
            str(t.epochs_run), f"{t.seconds:.2f}",
        )
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
                          name, dist.describe())
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
        table.add_row(str(rnd), str(trial), *(fmt(params[n]) for n in names))
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
            table.add_row(f"{name} ({dist.scale})" if i == 0 else "", label, bar, str(count))
    return table


def edge_lines(edges: list[EdgeHint]) -> list[str]:
    return [f"hint: {e.message}" for e in edges]


def result_table(result: TrainResult) -> Table:
    table = Table(title="Result", title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in (
        ("status", result.status.value), ("train J", fmt(result.train_cost)), ("dev J", fmt(result.dev_cost)),
        ("dev accuracy", f"{result.dev_accuracy:.2%}"), ("epochs run", str(result.epochs_run)),
        ("seconds", f"{result.seconds:.2f}"),
    ):
        table.add_row(key, value)
    return table


class EpochProgress:
    """Per-epoch progress of one training run: a bar on a terminal, a line per epoch elsewhere."""

    def __init__(self, epochs: int, quiet: bool = False):
        self.quiet = quiet
        self.live = not quiet and err_console.is_terminal
        self.progress = Progress(
            TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
        )
        self.task = self.progress.add_task("train", total=epochs, stats="")

    def __enter__(self) -> "EpochProgress":
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()

    def __call__(self, epoch: int, stats: dict[str, float]) -> None:
        text = f"train J {fmt(stats['train_cost'])}  dev J {fmt(stats['dev_cost'])}  dev acc {stats['dev_accuracy']:.2%}"
        if self.live:
            self.progress.update(self.task, completed=epoch + 1, stats=text)
        elif not self.quiet:
            err_console.print(f"epoch {epoch + 1}: {text}", highlight=False)


class SearchProgress:
    """A ``SearchReporter`` for the terminal: a progress bar with ETA and a live top-5 table.

    Off a terminal it prints one plain line per finished trial; ``quiet`` prints nothing.
    """

    def __init__(self, names: list[str], quiet: bool = False, top: int = 5):
        self.names = names
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
                                                      title="Best so far"))

    def round_started(self, rnd: RoundRecord, pending: int, label: str) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(label, total=pending)
        if self.live is None and not self.quiet:
            err_console.print(f"{label}: training {pending} trials", highlight=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            err_console.print(f"note: {message}", highlight=False, markup=False)

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None:
        self.trials[record.trial] = record
        self.progress.advance(self.task)
        if self.live is not None:
            now = time.monotonic()
            if now - self._last_draw > 0.25:  # redrawing the table per trial would cost more than a tiny trial
                self.live.update(self._view())
                self._last_draw = now
        elif not self.quiet:
            cost = fmt(record.dev_cost) if record.status is not TrialStatus.FAILED else record.error
            best_text = f"  best J {fmt(best.dev_cost)} (trial {best.trial})" if best else ""
            at = f" at epoch {record.epochs_run}" if record.rung is not None else ""
            err_console.print(f"trial {record.trial}: {record.status.value}{at} dev J {cost}{best_text}",
                              highlight=False, markup=False)


def runs_table(runs: list[Any]) -> Table:
    """``hpsearch list``: one row per run."""
    table = Table(title="Runs", title_justify="left")
    for column in ("run", "created", "rounds", "trials", "ok / diverged / failed", "best dev J", "best trial"):
        table.add_column(column, justify="left" if column in ("run", "created") else "right")
    for r in runs:
        counts = " / ".join(str(r.status_counts[s.value]) for s in TrialStatus)
        table.add_row(r.name, str(r.created)[:19], str(r.rounds), f"{r.trials_done}/{r.trials_planned}",
                      counts, fmt(r.best_dev_cost), fmt(r.best_trial))
    return table


def importance_table(report: Any) -> Table | str:
    """``hpsearch importance``: parameters by their share of the variation of dev J."""
    if not report.enough:
        return f"importance: {report.message}"
    table = Table(title=f"Hyperparameter importance — {report.method} ({report.n_trials} ok trials)", title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("parameter")
    table.add_column("share of variation of dev J", justify="right")
    table.add_column("")
    for position, item in enumerate(report.items, start=1):
        table.add_row(str(position), item.name, f"{item.share:.1%}", "█" * round(30 * item.share))
    return table


# -- hpsearch confirm ------------------------------------------------------------


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def confirm_table(confirmation: Any) -> Table:
    """The confirmed trials, best first: confirmed and leaderboard place, first run's J, mean J and its spread."""
    table = Table(title="Confirmation: top trials retrained with fresh seeds", title_justify="left")
    for column in ("rank", "trial", "leaderboard", "first-run J", "mean J", "std", "min – max", "95% interval",
                   "mean acc", "repeats"):
        table.add_column(column, justify="right")
    for c in confirmation.trials:
        interval = "—" if not math.isfinite(c.interval[0]) else f"{fmt(c.interval[0])} – {fmt(c.interval[1])}"
        repeats = str(c.n) + (f" ({c.unstable} diverged/failed)" if c.unstable else "")
        table.add_row(
            str(c.rank), str(c.trial), ordinal(c.leaderboard_rank), fmt(c.first_value),
            fmt(c.mean if c.n else None), fmt(c.std if c.n >= 2 else None),
            f"{fmt(c.low)} – {fmt(c.high)}" if c.n else "—", interval,
            f"{c.mean_accuracy:.2%}" if math.isfinite(c.mean_accuracy) else "—", repeats,
        )
    return table


def confirm_lines(confirmation: Any) -> list[str]:
    """What the confirmation says, in plain sentences: order changes, whether the top two differ, the best."""
    lines = []
    by_trial = confirmation.by_trial
    for change in confirmation.changes:
        c = by_trial[change.trial]
        why = (f"its first run was lucky (J {fmt(c.first_value)}; its {c.n} repeats average {fmt(c.mean)})"
               if change.lucky else "others confirm better")
        lines.append(f"trial {change.trial}, ranked {ordinal(change.leaderboard_rank)}, confirms "
                     f"{ordinal(change.rank)}: {why}")
    if not confirmation.changes and len(confirmation.trials) > 1:
        lines.append("the confirmed order is the leaderboard's")
    if confirmation.deterministic:
        lines.append("every repeat of a trial gave the same J: the objective seems deterministic (it ignores its "
                     "seed), so confirm measures no spread")
    elif len(confirmation.trials) >= 2:
        first, second = confirmation.trials[:2]
        if confirmation.tied:
            lines.append(f"trials {first.trial} and {second.trial} cannot be told apart: their 95% intervals of "
                         f"mean J overlap — more --seeds narrow them")
        else:
            lines.append(f"trial {first.trial} beats trial {second.trial} beyond the spread of seeds "
                         f"(their 95% intervals of mean J do not overlap)")
    best = confirmation.best
    if best is not None:
        values = ", ".join(f"{k}={fmt(v)}" for k, v in best.params.items())
        spread = f" ± {fmt(best.std)}" if best.n >= 2 else ""
        lines.append(f"recommended: trial {best.trial}  mean dev J {fmt(best.mean)}{spread} over {best.n} seeds  "
                     f"{values}")
    return lines


class ConfirmProgress:
    """A ``ConfirmReporter`` for the terminal: a progress bar; off a terminal a line per repeat; ``quiet``: nothing."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console,
        )
        self.live = not quiet and err_console.is_terminal
        self.task: Any = None

    def __enter__(self) -> "ConfirmProgress":
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()

    def started(self, pending: int, planned: int) -> None:
        label = f"confirm: {pending} of {planned} repeats to train"
        self.task = self.progress.add_task(label, total=pending)
        if not self.live and not self.quiet:
            err_console.print(label, highlight=False)

    def repeat_finished(self, record: Any) -> None:
        self.progress.advance(self.task)
        if not self.live and not self.quiet:
            cost = fmt(record.value) if record.status is not TrialStatus.FAILED else record.error
            err_console.print(f"trial {record.trial} repeat {record.repeat}: {record.status.value} J {cost}",
                              highlight=False, markup=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            err_console.print(f"note: {message}", highlight=False, markup=False)
