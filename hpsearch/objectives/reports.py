"""What an own objective reports, read safely: numbers, epochs, the metric, and the bounded record of a trial's reports.

A *report* is a dict of values the objective emits: a JSON line of a
command's stdout, or a ``trial.report(epoch, ...)`` call of a function. One
with ``epoch`` (or ``step``) is intermediate and goes to the history; the
last report holding the metric is the result. Only finite numbers within
float range count; everything else a report holds is ignored, never fatal.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping
from typing import Any

from hpsearch.core.limits import MAX_HISTORY, MAX_LINE_BYTES, MAX_METRICS
from hpsearch.objectives.spec import PROGRESS_KEYS, ObjectiveResult


def as_number(value: Any) -> int | float | None:
    """``value`` as a finite number (an int stays an int while a float holds it exactly), else None.

    Bools, text, NaN, infinities and integers past float range (a 400-digit
    ``999...9``) are not numbers here; NumPy scalars and 0-d arrays are.
    """
    if value is None or isinstance(value, (bool, str, bytes)):
        return None
    if isinstance(value, int):
        if abs(value) <= 2**53:
            return value
        try:
            return float(value)
        except OverflowError:
            return None
    if not isinstance(value, (float, numbers.Real)) and getattr(value, "shape", None) == () and hasattr(value, "item"):
        return as_number(value.item())  # a 0-d NumPy array, or a NumPy bool (which .item() makes a bool)
    if not isinstance(value, numbers.Real):
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, float):
        return as_number(int(value))  # a NumPy integer
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return number if math.isfinite(number) else None


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number of any kind or range (not a bool): a float, an int, a NumPy scalar."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        return False
    return isinstance(value, numbers.Real) or (
        getattr(value, "shape", None) == () and hasattr(value, "item") and is_real(value.item())
    )


def report_epoch(report: Mapping[str, Any]) -> float | None:
    """The progress of a report (its ``epoch``, else ``step``, when a finite number), or None for a final report."""
    for key in PROGRESS_KEYS:
        value = as_number(report.get(key))
        if value is not None:
            return value
    return None


def numeric_values(report: Mapping[str, Any], limit: int | None = None) -> dict[str, float]:
    """The keys of a report whose values are finite numbers (``as_number``), the first ``limit`` of them."""
    out: dict[str, float] = {}
    for key, value in report.items():
        number = as_number(value)
        if number is not None:
            out[str(key)] = number
            if limit is not None and len(out) >= limit:
                break
    return out


def finite_metric(report: Mapping[str, Any], metric: str) -> float | None:
    """The report's metric when it is a finite number, else None."""
    value = as_number(report.get(metric))
    return None if value is None else float(value)


def rung_value(report: Mapping[str, Any], metric: str) -> float | None:
    """The metric as early stopping sees it: None when absent, NaN (the worst) when not a finite number."""
    if metric not in report:
        return None
    value = finite_metric(report, metric)
    return math.nan if value is None else value


def describe(value: Any) -> str:
    """A reported value in a reason, short whatever it is (a 400-digit integer is not printed whole)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        try:
            float(value)
        except OverflowError:  # str() of an int past ~4,300 digits is refused by Python itself
            digits = len(str(abs(value))) if value.bit_length() < 10_000 else "thousands of"
            return f"an integer of {digits} digits, out of float range"
    if is_real(value) and not isinstance(value, int):
        number = value.item() if hasattr(value, "item") else value
        try:
            if not math.isfinite(float(number)):
                return repr(float(number))
        except OverflowError:
            return "a number out of float range"
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


class Reports:
    """What a trial keeps of its reports, in bounded memory, as they come.

    The last report holding ``metric`` (``final``), the first ``MAX_HISTORY``
    intermediate reports (each with its first ``MAX_METRICS`` numbers), and
    counts: reports seen, history not kept, lines too long to read, and the
    first few keys seen (to say what was reported when the metric never was).
    """

    KEYS_SHOWN = 6

    def __init__(self, metric: str):
        self.metric = metric
        self.final: Mapping[str, Any] | None = None
        self.history: list[dict[str, float]] = []
        self.seen = 0
        self.history_dropped = 0
        self.long_lines = 0
        self.keys: dict[str, None] = {}

    def add(self, report: Mapping[str, Any]) -> float | None:
        """Keep what is needed of ``report``; return its epoch (None for a final report)."""
        self.seen += 1
        if len(self.keys) < self.KEYS_SHOWN:
            for key in itertools.islice(report, self.KEYS_SHOWN):
                if len(self.keys) < self.KEYS_SHOWN:
                    self.keys.setdefault(one_line(str(key), 40))
        epoch = report_epoch(report)
        if epoch is not None:
            if len(self.history) < MAX_HISTORY:
                self.history.append(numeric_values(report, MAX_METRICS + 2))
            else:
                self.history_dropped += 1
        if self.metric in report:
            self.final = report
        return epoch

    def missing(self) -> str:
        """Why no value of the metric was found: what was reported instead."""
        text = f"reported no value of {self.metric!r}"
        if not self.seen:
            return f"{text}: no JSON object line was printed" + (
                f" ({self.long_lines} line(s) over {MAX_LINE_BYTES:,} bytes skipped)" if self.long_lines else ""
            )
        keys = ", ".join(self.keys) or "none"
        return f"{text}: {self.seen} JSON line{'s' if self.seen != 1 else ''} seen, with keys {keys}"

    def result(self, *, seconds: float, pruned: bool = False, failure: str | None = None) -> ObjectiveResult:
        """The trial's result: ``failure`` (a one-line reason) makes it ``failed`` whatever was reported; ``pruned``
        makes it ``pruned`` with the last value reported; otherwise a missing or non-finite metric fails it."""
        final, metric, history = self.final, self.metric, self.history
        metrics: dict[str, float] = {}
        if final is not None:
            metrics = {k: v for k, v in numeric_values(final, MAX_METRICS + 1).items() if k != metric}
            metrics = dict(itertools.islice(metrics.items(), MAX_METRICS))
        value = finite_metric(final, metric) if final is not None else None
        if failure is not None:
            return ObjectiveResult("failed", None, metrics, history, one_line(failure), seconds)
        if pruned:
            return ObjectiveResult("pruned", value, metrics, history, None, seconds)
        if final is None:
            return ObjectiveResult("failed", None, {}, history, one_line(self.missing()), seconds)
        if value is None:
            return ObjectiveResult(
                "failed",
                None,
                metrics,
                history,
                one_line(f"{metric} is not a finite number: {describe(final[metric])}"),
                seconds,
            )
        return ObjectiveResult("ok", value, metrics, history, None, seconds)


def one_line(text: str, limit: int = 300) -> str:
    """The first non-empty line of ``text``, at most ``limit`` characters."""
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"
