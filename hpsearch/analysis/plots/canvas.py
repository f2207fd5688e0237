"""The matplotlib side shared by every picture: figures, PNG files, colours, cost axes and tick labels.

matplotlib is imported inside each function, so that importing this module
needs no plot extra. We draw on ``Figure`` objects with the Agg canvas, never
through pyplot, so no window opens and no global state changes.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from hpsearch.io.safe_files import write_bytes_atomic

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
# A cost axis goes logarithmic when its largest value is this many times its smallest.
_LOG_COST_RATIO = 50.0
# With exact zeros, a symlog cost axis shows at most this many decades below the largest cost.
_SYMLOG_DECADES = 4


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` × ``height`` inches on an Agg canvas (no pyplot, no window)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: Path) -> Path:
    """Write the PNG atomically (a full disk leaves no truncated file) and never through a symlink."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return write_bytes_atomic(path.parent, path.name, buffer.getvalue())


def slug(name: str) -> str:
    """``name`` made safe for a file name: every run of other characters becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def palette_colour(number: int) -> Any:
    """The ``number``-th colour of a 10-colour qualitative palette (rounds, curves)."""
    from matplotlib import colormaps

    return colormaps["tab10"](number % 10)


def cost_scale(costs: np.ndarray) -> dict[str, Any]:
    """How to lay out costs: matplotlib scale keywords, log-like when they span a wide range.

    A few bad trials at J ≈ 10 would otherwise flatten every good one onto the
    floor. Exact zeros (a perfectly fit dev set) keep their place on a symlog
    scale, linear below the smallest positive cost but showing at most
    ``_SYMLOG_DECADES`` decades, so that J = 1e-10 does not push the rest aside.
    """
    finite = costs[np.isfinite(costs)]
    positive = finite[finite > 0]
    if not positive.size or finite.min() < 0 or positive.max() / positive.min() <= _LOG_COST_RATIO:
        return {"value": "linear"}
    if finite.min() > 0:
        return {"value": "log"}
    return {"value": "symlog", "linthresh": float(max(positive.min(), positive.max() / 10**_SYMLOG_DECADES))}


def cost_norm(scale: dict[str, Any]) -> Any:
    """The colour normalisation matching a ``cost_scale``."""
    from matplotlib.colors import LogNorm, Normalize, SymLogNorm

    if scale["value"] == "log":
        return LogNorm()
    if scale["value"] == "symlog":
        return SymLogNorm(linthresh=scale["linthresh"])
    return Normalize()


def cost_axis(ax: Axes, costs: np.ndarray) -> None:
    """Put ``costs`` on the y axis of ``ax`` on the scale ``cost_scale`` picks."""
    scale = cost_scale(costs)
    ax.set_yscale(**scale)
    if scale["value"] != "linear":
        plain_log_ticks(ax.yaxis, locate=scale["value"] == "log")


def plain_log_ticks(axis: Any, base: int = 10, locate: bool = True) -> None:
    """Ticks of a log axis written as plain numbers (0.2, 64) rather than powers (2×10^−1).

    ``locate`` False keeps the axis' own tick positions (a symlog axis places its own).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if locate:  # between the decades of a base-10 axis also tick 2 and 5, as a plain axis would
        axis.set_major_locator(LogLocator(base=base, subs=(1.0, 2.0, 5.0) if base == 10 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: tick_text(value)))
    axis.set_minor_formatter(NullFormatter())


def tick_text(value: float) -> str:
    """A tick label as a plain number: 1024, not 1.02e+03; 0.003, not 3×10^−3."""
    if abs(value) >= 1 and float(value).is_integer():
        return str(int(value))
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def costs_or_note(ax: Axes, drawn: list[np.ndarray], empty: str) -> bool:
    """Lay the y axis of ``ax`` out for the ``drawn`` costs and return True; with none drawn, write ``empty``."""
    if not drawn:
        note(ax, empty)
        return False
    cost_axis(ax, np.concatenate(drawn))
    return True


def note(ax: Axes, text: str) -> None:
    """A grey line of text in the middle of ``ax``, where a plot has nothing to draw."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def strip_jitter(trial: int) -> float:
    """A spread in [−0.2, 0.2) for the strip plot, fixed per trial id (golden-ratio sequence)."""
    return ((trial * 0.6180339887498949) % 1.0 - 0.5) * 0.4


def as_finite(values: Sequence[float]) -> np.ndarray:
    """Values as floats with nan/inf turned into gaps (NaN). (epochs,) -> (epochs,)."""
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    return np.where(np.isfinite(array), array, np.nan)
