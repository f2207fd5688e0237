"""The front end of ``hpsearch babysit``: a live chart on a terminal, keys read as they are pressed.

``KeyReader`` puts the terminal in cbreak mode (keys arrive one by one, unechoed;
Ctrl-C still interrupts) and restores it on every way out. ``LiveWatcher``
draws train and dev J per epoch as a growing chart with the learning rate, the
best epoch, the last decisions and the keys; ``PlainWatcher`` prints one line
per epoch and per decision where there is no terminal. Both are the library's
``hpsearch.babysit.session.Watcher``: they show and hand over keys, and decide nothing.
"""

from __future__ import annotations

import math
import os
import select
import signal
import sys
import termios
import tty
from dataclasses import replace
from typing import Any, Mapping, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from hpsearch.analysis.leaderboard import format_quality
from hpsearch.babysit.session import EpochReport
from hpsearch.cli.render import fmt
from hpsearch.cli.text import plain
from hpsearch.core.decisions import HANDOVER, LOWER, RAISE, ROLLBACK, STOP, Decision

KEYS_HELP = "keys: - halve  + double  r roll back  p pause  s save & stop   (Ctrl-C saves & stops too)"
DECISION_MARKS = {LOWER: "↓", RAISE: "↑", ROLLBACK: "↺", STOP: "■", HANDOVER: "»"}
CHART_HEIGHT = 10
LABEL_WIDTH = 10
SHOWN_DECISIONS = 4
_LOG_RATIO = 20.0  # the J axis goes logarithmic when its largest value is this many times its smallest


class KeyReader:
    """Keys pressed on the controlling terminal, when stdin is one (else it reads nothing).

    Use it as a context manager: cbreak mode inside, the saved terminal settings
    restored on the way out — normal end, error, Ctrl-C, or SIGTERM (turned into
    a KeyboardInterrupt while inside, so the run saves and stops as on Ctrl-C).
    """

    def __init__(self, stream: TextIO | None = None):
        stream = stream if stream is not None else sys.stdin
        try:
            self.fd: int | None = stream.fileno() if stream.isatty() else None
        except (AttributeError, ValueError, OSError):  # a replaced stdin (tests) has no descriptor
            self.fd = None
        self._saved: Any = None
        self._old_term: Any = None

    @property
    def active(self) -> bool:
        return self.fd is not None

    def __enter__(self) -> KeyReader:
        if self.fd is not None:
            self._saved = termios.tcgetattr(self.fd)
            self._old_term = signal.signal(signal.SIGTERM, _interrupt)
            tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None and self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            signal.signal(signal.SIGTERM, self._old_term)
            self._saved = None

    def read(self, timeout: float | None = 0.0) -> str:
        """The keys waiting now; with a ``timeout`` (None: forever), wait that long for the first one."""
        if self.fd is None:
            return ""
        keys = ""
        while select.select([self.fd], [], [], timeout)[0]:
            chunk = os.read(self.fd, 1024)
            if not chunk:  # the terminal went away
                break
            keys += chunk.decode(errors="ignore")
            timeout = 0.0
        return keys


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class PlainWatcher:
    """One plain line per epoch and per decision (no terminal, or ``--quiet``-like logs)."""

    def __init__(self, console: Console, keys: KeyReader | None = None):
        self.console, self.reader = console, keys

    def epoch(self, report: EpochReport) -> None:
        self.console.print(epoch_line(report), highlight=False, markup=False, soft_wrap=True)

    def decision(self, decision: Decision) -> None:
        self.console.print(plain(f"decision: {decision.describe()}"), highlight=False, soft_wrap=True)

    def keys(self) -> str:
        return _decision_keys(self.reader.read()) if self.reader is not None else ""


class LiveWatcher:
    """The live view: a chart of train and dev J that grows each epoch, the numbers, the decisions, the keys."""

    def __init__(self, console: Console, keys: KeyReader, title: str):
        self.console, self.reader, self.title = console, keys, title
        self.report: EpochReport | None = None
        self.decisions: list[Decision] = []
        self.paused = False
        self.live = Live(self._view(), console=console, auto_refresh=False, transient=False)

    def __enter__(self) -> LiveWatcher:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def epoch(self, report: EpochReport) -> None:
        self.report = report
        self._draw()

    def decision(self, decision: Decision) -> None:
        self.decisions.append(decision)
        if self.report is not None:  # the rate the next epoch trains at, after this decision
            self.report = replace(self.report, learning_rate=decision.learning_rate_after)
        self._draw()

    def keys(self) -> str:
        """Keys since the last boundary; ``p`` pauses here, until ``p`` again (or ``s``)."""
        wanted = ""
        pressed = self.reader.read()
        while True:
            for key in pressed:
                if key == "p":
                    self.paused = not self.paused
                elif key in "-+rs":
                    wanted += key
                    if key == "s":
                        self.paused = False
            self._draw(queued=wanted)
            if not self.paused:
                return wanted
            pressed = self.reader.read(timeout=None)

    def _draw(self, queued: str = "") -> None:
        self.live.update(self._view(queued), refresh=True)

    def _view(self, queued: str = "") -> Group:
        width = max(self.console.width, 40)
        head = Text.assemble(("hpsearch babysit ", "bold"), self.title)
        if self.report is None:
            return Group(head, Text("training the first epoch…", style="dim"), Text(KEYS_HELP, style="dim"))
        marks = {d.epoch: DECISION_MARKS[d.action] for d in self.decisions}
        lines = [head, *chart(self.report.history, width, marks), Text(epoch_line(self.report))]
        if self.paused or queued:
            lines.append(
                Text.assemble(
                    ("PAUSED — p continues   " if self.paused else "", "bold yellow"),
                    (f"next boundary: {' '.join(queued)}" if queued else "", "yellow"),
                )
            )
        lines += [Text(f"  {d.describe()}", style="yellow") for d in self.decisions[-SHOWN_DECISIONS:]]
        lines.append(Text(KEYS_HELP, style="dim"))
        return Group(*lines)


def epoch_line(report: EpochReport) -> str:
    """``epoch 5/30  train J …  dev J …  dev acc …  learning rate …  best: epoch 4, dev J …``."""
    h = report.history
    best = "" if report.best_epoch is None else f"  best: epoch {report.best_epoch}, dev J {fmt(report.best_dev_cost)}"
    diverged = "  diverged" if report.diverged else ""
    return (
        f"epoch {report.epoch}/{report.target}  train J {fmt(h['train_cost'][-1])}  dev J {fmt(h['dev_cost'][-1])}"
        f"  {format_quality({key: values[-1] for key, values in h.items()})}"
        f"  learning rate {fmt(report.learning_rate)}{best}{diverged}"
    )


def chart(
    history: Mapping[str, list[float]], width: int, marks: Mapping[int, str] | None = None, height: int = CHART_HEIGHT
) -> list[Text]:
    """Train (``·``) and dev (``●``) J per epoch as lines of text, ``width`` columns wide.

    One column per epoch while they fit, else the epochs are spread over the
    columns (each shows the last epoch it covers). Costs that are not finite
    show as ``×`` on the top row. ``marks``: a character under the column of
    timeline epoch k for each decision made after it.
    """
    dev, train = history["dev_cost"], history["train_cost"]
    n = len(dev)
    columns = max(min(n, width - LABEL_WIDTH - 1), 1)
    shown = [min(n - 1, math.ceil((c + 1) * n / columns) - 1) for c in range(columns)]  # epoch index per column
    finite = [v for v in (*dev, *train) if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    log = low > 0 and high / low > _LOG_RATIO
    position = (lambda v: math.log10(v)) if log else (lambda v: v)
    bottom, top = position(low), position(high)
    span = (top - bottom) or 1.0

    def row(value: float) -> int | None:
        if not math.isfinite(value):
            return 0
        return height - 1 - round((position(value) - bottom) / span * (height - 1))

    grid = [[(" ", "")] * columns for _ in range(height)]
    for c, epoch in enumerate(shown):
        for value, char, style in ((train[epoch], "·", "magenta"), (dev[epoch], "●", "cyan")):
            r = row(value)
            grid[r][c] = ("×", "red") if not math.isfinite(value) else (char, style)
    lines = []
    for r, cells in enumerate(grid):
        label = fmt(high) if r == 0 else fmt(low) if r == height - 1 else ""
        line = Text(f"{label:>{LABEL_WIDTH}}│")
        for char, style in cells:
            line.append(char, style=style)
        lines.append(line)
    axis = Text(" " * LABEL_WIDTH + "└" + "─" * columns)
    lines.append(axis)
    if marks:
        line = Text(" " * (LABEL_WIDTH + 1))
        column_of = {epoch: c for c, epoch in enumerate(shown)}
        cells = [" "] * columns
        for epoch, mark in marks.items():
            c = column_of.get(epoch - 1)
            if c is None:  # a decision inside a spread column: its nearest column
                c = min(range(columns), key=lambda k: abs(shown[k] - (epoch - 1)))
            cells[c] = mark
        line.append("".join(cells), style="yellow")
        lines.append(line)
    scale = " (log)" if log else ""
    lines.append(Text(f"{'':>{LABEL_WIDTH}} epoch 1 … {n}   ● dev J  · train J{scale}", style="dim"))
    return lines


def _decision_keys(keys: str) -> str:
    return "".join(k for k in keys if k in "-+rs")
