"""Live displays while something trains: progress bars and a live top-5 on a terminal, plain lines elsewhere.

Each class is a reporter the library calls (``on_epoch``, ``SearchReporter``,
``ConfirmReporter``); it draws on stderr what it is told and decides nothing.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from hpsearch.analysis.leaderboard import format_cost, format_quality
from hpsearch.cli.render import err_console, fmt, leaderboard_table
from hpsearch.cli.text import plain
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus


def _trials_bar() -> Progress:
    """A bar of trials (or repeats) done, with elapsed time and ETA, on stderr."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
    )


class _Notes:
    """Prints the library's notes on stderr unless ``quiet``."""

    quiet: bool

    def note(self, message: str) -> None:
        """One ``note: ...`` line on stderr (even with --quiet: a note is something the user should know)."""
        err_console.print(plain(f"note: {message}"), highlight=False, soft_wrap=True)


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
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
        )
        self.task = self.progress.add_task("train", total=epochs, stats="")

    def __call__(self, epoch: int, stats: dict[str, float]) -> None:
        text = f"train J {format_cost(stats['train_cost'])}  dev J {format_cost(stats['dev_cost'])}  {format_quality(stats)}"
        if self.live:
            self.progress.update(self.task, completed=epoch + 1, stats=text)
        elif not self.quiet:
            err_console.print(f"epoch {epoch + 1}: {text}", highlight=False)


class SearchProgress(_Notes):
    """A ``SearchReporter`` for the terminal: a progress bar with ETA and a live top-5 table.

    Off a terminal it prints one plain line per finished trial; ``quiet`` prints nothing.
    """

    def __init__(self, names: list[str], quiet: bool = False, top: int = 5, metric: str | None = None):
        self.names = names
        self.metric = metric
        self.quiet = quiet
        self.top = top
        self.trials: dict[int, TrialRecord] = {}  # each trial's latest state, shown in the live table
        self.progress = _trials_bar()
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
        return Group(
            self.progress,
            leaderboard_table(
                list(self.trials.values()),
                self.names,
                self.top,
                title="Best so far",
                metric=self.metric,
                width=err_console.width,
            ),
        )

    def run_opened(self, trials: list[TrialRecord]) -> None:
        """The trials a resumed run already has: shown in the live table from the start."""
        self.trials.update((t.trial, t) for t in trials)

    def round_started(self, rnd: RoundRecord, pending: int, label: str) -> None:
        """A new bar for the round's ``pending`` trials."""
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(label, total=pending)
        if self.live is None and not self.quiet:
            err_console.print(f"{label}: training {pending} trials", highlight=False)

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None:
        """Advance the bar and redraw the table (at most four times a second), or print a line."""
        self.trials[record.trial] = record
        self.progress.advance(self.task)
        if self.live is not None:
            now = time.monotonic()
            if now - self._last_draw > 0.25:  # redrawing the table per trial would cost more than a tiny trial
                self.live.update(self._view())
                self._last_draw = now
        elif not self.quiet:
            label, short = ("dev J", "J") if self.metric is None else (self.metric, self.metric)
            result = (
                f" {label} {fmt(self._value(record))}"
                if record.status is not TrialStatus.FAILED
                else f" — {record.error}"
            )
            best_text = f"  best {short} {fmt(self._value(best))} (trial {best.trial})" if best else ""
            at = f" at epoch {record.epochs_run}" if record.rung is not None else ""
            err_console.print(
                plain(f"trial {record.trial}: {record.status.value}{at}{result}{best_text}"), highlight=False
            )

    def _value(self, record: TrialRecord) -> float | None:
        """What the search ranks by: dev J, or the own objective's metric."""
        return record.dev_cost if self.metric is None else record.metrics.get(self.metric)


class ConfirmProgress(_Notes, _BarOnTerminal):
    """A ``ConfirmReporter`` for the terminal: a progress bar; off a terminal a line per repeat; ``quiet``: nothing."""

    def __init__(self, quiet: bool = False, objective: Any = None):
        self.quiet = quiet
        self.objective = objective  # an own objective's spec: its metric, not J, is said
        self.progress = _trials_bar()
        self.live = not quiet and err_console.is_terminal
        self.task: Any = None

    def started(self, pending: int, planned: int) -> None:
        """A bar for the ``pending`` repeats."""
        label = f"confirm: {pending} of {planned} repeats to train"
        self.task = self.progress.add_task(label, total=pending)
        if not self.live and not self.quiet:
            err_console.print(label, highlight=False)

    def repeat_finished(self, record: Any) -> None:
        """Advance the bar, or print a line."""
        self.progress.advance(self.task)
        if not self.live and not self.quiet:
            err_console.print(
                plain(f"trial {record.trial} repeat {record.repeat}: {record.status.value} {self._result(record)}"),
                highlight=False,
            )

    def _result(self, record: Any) -> str:
        """``J 0.0123`` (a regression: and its dev RMSE), an own objective's ``acc 0.95``, or the error."""
        if record.status is TrialStatus.FAILED:
            return f"— {record.error}"
        if self.objective is not None:
            value = record.value if record.value is None or self.objective.direction == "minimize" else -record.value
            return f"{self.objective.metric} {fmt(value)}"
        rmse = record.metrics.get("dev_rmse")
        return f"J {fmt(record.value)}" + (f"  dev RMSE {fmt(rmse)}" if rmse is not None else "")
