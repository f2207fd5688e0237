"""How a searched parameter is laid along a plot axis, on its own scale.

A log parameter gets a log axis, an integer integer ticks, a choice one tick per
choice, and ``one_minus_log`` (a momentum β) an axis in log10(1 − β), so that
0.9, 0.99 and 0.999 stand equally far apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from hpsearch.analysis.plots.canvas import plain_log_ticks, tick_text
from hpsearch.space.scales import Distribution, choice_key
from hpsearch.space.search_space import Space

if TYPE_CHECKING:
    from matplotlib.axes import Axes

LOG_SCALES = ("log", "int_log")


def one_minus_log_position(beta: Any) -> np.ndarray:
    """Where a ``one_minus_log`` value sits on its axis: log10(1 − β), increasing with 1 − β.

    So 0.9 → −1, 0.99 → −2, 0.999 → −3: each extra 9 is one step of equal length.
    """
    return np.log10(1.0 - np.asarray(beta, dtype=float))


def one_minus_log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick positions within [low, high] (log10(1 − β) units) and their labels in β.

    Decades (0.9, 0.99, 0.999, ...) when at least three fit, else also 1 − 2·10^−k
    and 1 − 5·10^−k (0.8, 0.95, 0.98, ...), else four evenly spaced ticks.
    """
    candidates = [(math.log10(m) - k, m) for k in range(1, 16) for m in (1, 2, 5)]
    slack = 1e-9 * max(1.0, high - low)  # a bound at exactly 0.995 must keep its tick despite round-off
    inside = sorted((p, m) for p, m in candidates if low - slack <= p <= high + slack)
    positions = [p for p, m in inside if m == 1]
    if len(positions) < 3:
        positions = [p for p, _ in inside]
    if len(positions) < 2:
        positions = list(np.linspace(low, high, 4))
    return positions, [_beta_label(1.0 - 10.0**p) for p in positions]


def _beta_label(beta: float) -> str:
    """β written with one digit beyond its run of nines: 0.9, 0.95, 0.999, 0.9995."""
    decimals = max(1, math.ceil(-math.log10(1.0 - beta) - 1e-9) + 1)
    return f"{beta:.{decimals}f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class ParameterAxis:
    """How one searched parameter is laid along a plot axis.

    ``scale`` is its distribution's scale; ``limits`` (low, high) are in plot
    coordinates (what ``position`` returns) and cover every round's box and every value.
    """

    name: str
    scale: str
    choices: tuple[Any, ...]
    limits: tuple[float, float]

    @property
    def numeric(self) -> bool:
        """Whether the parameter has a numeric scale (not a choice)."""
        return self.scale != "choice"

    def position(self, values: Sequence[Any]) -> np.ndarray:
        """Plot coordinates of parameter values. (n,) -> (n,) floats."""
        if self.scale == "choice":
            index = {choice_key(c): i for i, c in reversed(list(enumerate(self.choices)))}  # by type and value
            return np.array([index[choice_key(v)] for v in values], dtype=float)
        if self.scale == "one_minus_log":
            return one_minus_log_position(values)
        return np.asarray(values, dtype=float)

    def draw_on(self, ax: Axes, which: str) -> None:
        """Set scale, limits, ticks and label of the ``which`` ("x" or "y") axis of ``ax``."""
        from matplotlib.ticker import MaxNLocator

        axis = ax.xaxis if which == "x" else ax.yaxis
        if self.scale in LOG_SCALES:
            getattr(ax, f"set_{which}scale")("log")
        # log10(1 − β) falls as β grows: reversed limits put 0.9, 0.99, 0.999 left to right.
        getattr(ax, f"set_{which}lim")(*(self.limits[::-1] if self.scale == "one_minus_log" else self.limits))
        if self.scale == "choice":
            axis.set_ticks(range(len(self.choices)), [str(c) for c in self.choices])
        elif self.scale == "one_minus_log":
            axis.set_ticks(*one_minus_log_ticks(*self.limits))
        elif self.scale == "int":
            from matplotlib.ticker import FuncFormatter

            axis.set_major_locator(MaxNLocator(integer=True))
            axis.set_major_formatter(FuncFormatter(lambda value, _: tick_text(value)))
        elif self.scale == "int_log":
            plain_log_ticks(axis, base=2)  # 16, 32, 64, ... rather than 2×10^1
        label = f"{self.name} (axis: log10(1 − {self.name}))" if self.scale == "one_minus_log" else self.name
        axis.set_label_text(f"{label} [{self.scale}]")

    def box(self, space: Space) -> tuple[float, float] | None:
        """This parameter's range in ``space``, in plot coordinates (None for a choice)."""
        return self.span(space[self.name]) if self.numeric and self.name in space else None

    def span(self, distribution: Distribution) -> tuple[float, float]:
        """A numeric distribution's range in plot coordinates; an integer owns ±½ around it."""
        half = 0.5 if distribution.scale in ("int", "int_log") else 0.0
        low, high = self.position([distribution.low - half, distribution.high + half])
        return float(low), float(high)


def parameter_axis(name: str, outer: Distribution, values: list[Any]) -> ParameterAxis:
    """The axis of one parameter; ``outer`` covers every round's box (``envelope``)."""
    if not outer.is_numeric:
        return ParameterAxis(name, "choice", tuple(outer.choices), (-0.5, len(outer.choices) - 0.5))
    axis = ParameterAxis(name, outer.scale, (), (0.0, 1.0))
    positions = np.concatenate([axis.position(values), axis.span(outer)])
    return replace(axis, limits=padded_limits(positions, log=outer.scale in LOG_SCALES))


def padded_limits(positions: np.ndarray, *, log: bool) -> tuple[float, float]:
    """Limits around finite ``positions`` with a 4 % margin, measured on the axis as drawn."""
    drawn = positions[np.isfinite(positions)]
    drawn = np.log10(drawn[drawn > 0]) if log else drawn
    low, high = (float(drawn.min()), float(drawn.max())) if drawn.size else (0.0, 1.0)
    margin = 0.04 * (high - low) if high > low else 0.5  # a single value still gets a visible axis
    low, high = low - margin, high + margin
    return (10.0**low, 10.0**high) if log else (low, high)
