"""PNG pictures of a finished search, each parameter on its own scale.

``plot_run`` writes:

* ``cost_vs_<name>.png`` for every searched parameter: dev J against its values,
  coloured by round, the top K ringed, each zoom round's box shaded, and every
  trial without a finite dev J (diverged or failed) as an ``x`` in a band above
  the plot — drawn apart, never dropped. A choice parameter gets a strip plot.
* ``pairs.png``: dev J over the plane of the two most important numeric
  parameters, one marker per round, zoom boxes outlined — coarse to fine.
* ``progress.png``: best dev J so far against trials finished.
* ``learning_curves.png``: train and dev J per epoch of the best trials.
* ``confirm.png`` (after ``hpsearch confirm``): a strip plot of the confirmed
  trials' repeats, one column each in confirmed order, mean and first run marked.

With an own objective, its metric takes the place of dev J everywhere (axes
are labelled with its name; with ``maximize``, best so far is the highest),
and the learning curves are its per-epoch reports of the metric.

matplotlib is an optional extra, imported only here and only when plotting. We
draw on ``Figure`` objects with the Agg canvas, never through pyplot, so no
window opens and no global state changes.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from hpsearch.core.decisions import Decision
from hpsearch.core.errors import MissingDependencyError
from hpsearch.analysis.importance import ImportanceReport
from hpsearch.objectives.spec import ObjectiveSpec
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.io.safe_files import check_no_symlinks, make_folder, write_bytes_atomic
from hpsearch.space.scales import Distribution, Space, envelope

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from hpsearch.confirm.repeats import Confirmation

PLOTS_DIR = "plots"
LOG_SCALES = ("log", "int_log")
LEARNING_CURVE_TRIALS = 5
DPI = 100
# A cost axis goes logarithmic when its largest value is this many times its smallest.
_LOG_COST_RATIO = 50.0
# With exact zeros, a symlog cost axis shows at most this many decades below the largest cost.
_SYMLOG_DECADES = 4
_ROUND_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_APART_ROWS = ("diverged", "failed")


def plot_run(
    rounds: list[RoundRecord],
    trials: list[TrialRecord],
    out_dir: Path,
    *,
    top_k: int = 5,
    importance: ImportanceReport | None = None,
    objective: ObjectiveSpec | None = None,
    decisions: Mapping[int, list[Decision]] | None = None,
    confirmation: Confirmation | None = None,
) -> list[Path]:
    """Write every picture of a run into ``out_dir`` (created if missing); return the files written.

    Parameters
    ----------
    rounds
        The run's rounds; their spaces set each parameter's scale and axis range.
    trials
        Every trial of the run, in any order, whatever its status.
    top_k
        How many of the best trials are ringed.
    importance
        Picks the pair for ``pairs.png``: its two most important numeric
        parameters; without it (or when it has too few trials), the first two by name.
    objective
        The run's own objective (None: the built-in engine): its metric is plotted instead of dev J.
    decisions
        Trial → its decisions (``hpsearch babysit``), marked on its learning curve.
    confirmation
        ``confirm.load_confirmation``'s summary: adds ``confirm.png``.

    Raises
    ------
    MissingDependencyError
        When matplotlib is not installed.
    """
    try:
        import matplotlib  # noqa: F401  (only checks that the extra is installed)
    except ImportError as error:
        raise MissingDependencyError("matplotlib", "plot", "hpsearch plot") from error

    out_dir.mkdir(parents=True, exist_ok=True)
    view = _RunView.of(rounds, trials, top_k, objective)
    written = []
    for name in view.axes:
        written.append(_save(_parameter_figure(view, name), out_dir / f"cost_vs_{_slug(name)}.png"))
    pair = _pair(view, importance)
    if pair is not None:
        written.append(_save(_pairs_figure(view, *pair), out_dir / "pairs.png"))
    written.append(_save(_progress_figure(view), out_dir / "progress.png"))
    written.append(_save(_learning_curves_figure(view, decisions or {}), out_dir / "learning_curves.png"))
    for rnd in rounds:
        in_round = [t for t in trials if t.round == rnd.round]
        if objective is None and any(t.rung is not None for t in in_round):  # the engine's rungs of dev J
            written.append(_save(_rung_curves_figure(rnd.round, in_round), out_dir / f"rungs_round{rnd.round}.png"))
    if confirmation is not None:
        written.append(_save(_confirm_figure(confirmation), out_dir / "confirm.png"))
    return written


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
class _ParameterAxis:
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
        return self.scale != "choice"

    def position(self, values: Sequence[Any]) -> np.ndarray:
        """Plot coordinates of parameter values. (n,) -> (n,) floats."""
        if self.scale == "choice":
            return np.array([self.choices.index(v) for v in values], dtype=float)
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
            axis.set_major_formatter(FuncFormatter(lambda value, _: _tick_text(value)))
        elif self.scale == "int_log":
            _plain_log_ticks(axis, base=2)  # 16, 32, 64, ... rather than 2×10^1
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


@dataclass(frozen=True)
class _RunView:
    """A run prepared for drawing: trials in id order and what every plot needs of them.

    ``cost`` (n,) holds dev J where finite for an ok trial, NaN elsewhere;
    ``good`` (n,) marks those trials. ``ranked`` are the good trials best
    first, ``top_k`` of them ringed in the plots.
    """

    rounds: list[RoundRecord]
    spaces: list[Space]
    axes: dict[str, _ParameterAxis]
    trials: list[TrialRecord]
    cost: np.ndarray
    good: np.ndarray
    round_of: np.ndarray
    ranked: list[TrialRecord]
    top_k: int
    label: str = "dev J"
    metric: str | None = None
    maximize: bool = False

    @classmethod
    def of(cls, rounds: list[RoundRecord], trials: list[TrialRecord], top_k: int,
           objective: ObjectiveSpec | None = None) -> _RunView:
        rounds = sorted(rounds, key=lambda r: r.round)
        trials = sorted(trials, key=lambda t: t.trial)
        spaces = [Space.from_json(r.space) for r in rounds]
        metric = objective.metric if objective is not None else None
        cost = np.array([_finite_dev_cost(t, metric) for t in trials], dtype=float)  # (n,)
        good = np.isfinite(cost)
        ranked = [t for t in rank(trials) if np.isfinite(_finite_dev_cost(t, metric))]
        outer = envelope(spaces) if spaces else Space({})
        axes = {name: _parameter_axis(name, outer[name], [t.params[name] for t in trials]) for name in outer}
        round_of = np.array([t.round for t in trials], dtype=int)
        if objective is None:
            return cls(rounds, spaces, axes, trials, cost, good, round_of, ranked, top_k)
        return cls(rounds, spaces, axes, trials, cost, good, round_of, ranked, top_k, label=objective.metric,
                   metric=objective.metric, maximize=objective.direction == "maximize")

    def round_label(self, number: int) -> str:
        kinds = {r.round: r.kind for r in self.rounds}
        return f"round {number} ({kinds[number]})" if number in kinds else f"round {number}"

    def round_numbers(self) -> list[int]:
        return sorted({r.round for r in self.rounds} | set(self.round_of.tolist()))

    def zoom_boxes(self) -> list[tuple[int, Space]]:
        return [(r.round, s) for r, s in zip(self.rounds, self.spaces) if r.kind == "zoom"]


def _finite_dev_cost(trial: TrialRecord, metric: str | None = None) -> float:
    """Dev J (or ``metric``) of an ok trial when finite, else NaN (diverged, failed, or a non-finite cost)."""
    cost = trial.dev_cost if metric is None else trial.metrics.get(metric)
    if trial.status is TrialStatus.OK and cost is not None and math.isfinite(cost):
        return float(cost)
    return math.nan


def _parameter_axis(name: str, outer: Distribution, values: list[Any]) -> _ParameterAxis:
    """The axis of one parameter; ``outer`` covers every round's box (``envelope``)."""
    if not outer.is_numeric:
        return _ParameterAxis(name, "choice", tuple(outer.choices), (-0.5, len(outer.choices) - 0.5))
    axis = _ParameterAxis(name, outer.scale, (), (0.0, 1.0))
    positions = np.concatenate([axis.position(values), axis.span(outer)])
    return replace(axis, limits=_padded(positions, log=outer.scale in LOG_SCALES))


def _padded(positions: np.ndarray, *, log: bool) -> tuple[float, float]:
    """Limits around finite ``positions`` with a 4 % margin, measured on the axis as drawn."""
    drawn = positions[np.isfinite(positions)]
    drawn = np.log10(drawn[drawn > 0]) if log else drawn
    low, high = (float(drawn.min()), float(drawn.max())) if drawn.size else (0.0, 1.0)
    margin = 0.04 * (high - low) if high > low else 0.5  # a single value still gets a visible axis
    low, high = low - margin, high + margin
    return (10.0**low, 10.0**high) if log else (low, high)


def _pair(view: _RunView, importance: ImportanceReport | None) -> tuple[str, str] | None:
    """The two numeric parameters for the pairs plot: most important first, else by name."""
    numeric = [name for name, axis in view.axes.items() if axis.numeric]
    if importance is not None and importance.enough:
        ranked = [item.name for item in importance.items if item.name in numeric]
        numeric = ranked + [name for name in numeric if name not in ranked]
    return (numeric[0], numeric[1]) if len(numeric) >= 2 else None


# --------------------------------------------------------------------------- figures


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    """Write the PNG atomically (a full disk leaves no truncated file) and never through a symlink."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return write_bytes_atomic(path.parent, path.name, buffer.getvalue())


def run_plots_dir(run_dir: Path) -> Path:
    """``run_dir/plots``, created if missing; RunError if the run folder holds a symlink."""
    check_no_symlinks(run_dir)
    return make_folder(run_dir, PLOTS_DIR)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _colour(number: int) -> Any:
    """The ``number``-th colour of a 10-colour qualitative palette (rounds, curves)."""
    from matplotlib import colormaps

    return colormaps["tab10"](number % 10)


def _cost_scale(costs: np.ndarray) -> dict[str, Any]:
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


def _cost_norm(scale: dict[str, Any]) -> Any:
    """The colour normalisation matching a ``_cost_scale``."""
    from matplotlib.colors import LogNorm, Normalize, SymLogNorm

    if scale["value"] == "log":
        return LogNorm()
    if scale["value"] == "symlog":
        return SymLogNorm(linthresh=scale["linthresh"])
    return Normalize()


def _cost_axis(ax: Axes, costs: np.ndarray) -> None:
    """Put ``costs`` on the y axis of ``ax`` on the scale ``_cost_scale`` picks."""
    scale = _cost_scale(costs)
    ax.set_yscale(**scale)
    if scale["value"] != "linear":
        _plain_log_ticks(ax.yaxis, locate=scale["value"] == "log")


def _plain_log_ticks(axis: Any, base: int = 10, locate: bool = True) -> None:
    """Ticks of a log axis written as plain numbers (0.2, 64) rather than powers (2×10^−1).

    ``locate`` False keeps the axis' own tick positions (a symlog axis places its own).
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if locate:  # between the decades of a base-10 axis also tick 2 and 5, as a plain axis would
        axis.set_major_locator(LogLocator(base=base, subs=(1.0, 2.0, 5.0) if base == 10 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: _tick_text(value)))
    axis.set_minor_formatter(NullFormatter())


def _tick_text(value: float) -> str:
    """A tick label as a plain number: 1024, not 1.02e+03; 0.003, not 3×10^−3."""
    if abs(value) >= 1 and float(value).is_integer():
        return str(int(value))
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _parameter_figure(view: _RunView, name: str) -> Figure:
    """Dev J against one parameter; trials without a finite J as x marks in a band above."""
    axis = view.axes[name]
    figure = _new_figure(7.0, 4.8)
    if view.good.all():  # no diverged or failed trial: no empty band for them
        band, ax = None, figure.subplots()
    else:
        band, ax = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 5]})
    x = axis.position([t.params[name] for t in view.trials])  # (n,)
    if not axis.numeric:
        x = x + np.array([_strip_jitter(t.trial) for t in view.trials], dtype=float)

    for number, space in view.zoom_boxes():
        box = axis.box(space)
        if box is not None:
            ax.axvspan(*box, color=_colour(number), alpha=0.12, label=f"{view.round_label(number)} box")
    for number in view.round_numbers():
        mine = view.good & (view.round_of == number)
        if mine.any():
            ax.scatter(x[mine], view.cost[mine], s=22, color=_colour(number), label=view.round_label(number))
    _ring_top(ax, view, x, view.cost)
    if not view.good.any():
        _note(ax, f"no trial finished with a finite {view.label}")
    _cost_axis(ax, view.cost)
    ax.set_ylabel(view.label)
    axis.draw_on(ax, "x")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")

    if band is None:
        ax.set_title(f"dev J vs {name}", fontsize=10)
        return figure
    rows = {label: i for i, label in enumerate(_APART_ROWS)}
    counts = dict.fromkeys(_APART_ROWS, 0)
    for i, trial in enumerate(view.trials):
        if not view.good[i]:
            row = "failed" if trial.status is TrialStatus.FAILED else "diverged"
            counts[row] += 1
            band.scatter(x[i], rows[row], marker="x", s=28, color=_colour(trial.round))
    band.set_ylim(-0.6, len(_APART_ROWS) - 0.4)
    band.set_yticks(range(len(_APART_ROWS)), [f"{row} ({counts[row]})" for row in _APART_ROWS], fontsize=7)
    band.tick_params(axis="x", labelbottom=False)
    band.set_title(f"{view.label} vs {name}", fontsize=10)
    return figure


def _strip_jitter(trial: int) -> float:
    """A spread in [−0.2, 0.2) for the strip plot, fixed per trial id (golden-ratio sequence)."""
    return ((trial * 0.6180339887498949) % 1.0 - 0.5) * 0.4


def _ring_top(ax: Axes, view: _RunView, xs: np.ndarray, ys: np.ndarray) -> None:
    """Ring the top trials and number them by rank; ``xs``, ``ys`` (n,) are where each trial is drawn."""
    row = {t.trial: i for i, t in enumerate(view.trials)}
    top = view.ranked[: view.top_k]
    for place, trial in enumerate(top, start=1):
        x, y = xs[row[trial.trial]], ys[row[trial.trial]]
        label = f"top {len(top)}" if place == 1 else None
        ax.scatter([x], [y], s=120, facecolors="none", edgecolors="black", linewidths=1.2, label=label)
        ax.annotate(str(place), (x, y), xytext=(5, 4), textcoords="offset points", fontsize=7)


def _pairs_figure(view: _RunView, x_name: str, y_name: str) -> Figure:
    """Dev J (colour) over two parameters, one marker per round, zoom boxes outlined."""
    from matplotlib.patches import Rectangle

    x_axis, y_axis = view.axes[x_name], view.axes[y_name]
    figure = _new_figure(7.0, 5.6)
    ax = figure.subplots()
    xs = x_axis.position([t.params[x_name] for t in view.trials])
    ys = y_axis.position([t.params[y_name] for t in view.trials])

    finite = view.cost[view.good]
    scale = _cost_scale(finite)
    norm = _cost_norm(scale)
    if finite.size:
        norm.autoscale(finite)
    points = None
    for k, number in enumerate(view.round_numbers()):
        mine = view.good & (view.round_of == number)
        if mine.any():
            points = ax.scatter(
                xs[mine], ys[mine], c=view.cost[mine], cmap="viridis", norm=norm, s=30,
                marker=_ROUND_MARKERS[k % len(_ROUND_MARKERS)], edgecolors="0.3", linewidths=0.4,
                label=view.round_label(number),
            )
    if (~view.good).any():
        ax.scatter(xs[~view.good], ys[~view.good], marker="x", s=24, color="0.55", label="diverged / failed")
    for number, space in view.zoom_boxes():
        bx, by = x_axis.box(space), y_axis.box(space)
        if bx is not None and by is not None:
            ax.add_patch(Rectangle(
                (bx[0], by[0]), bx[1] - bx[0], by[1] - by[0], fill=False, linestyle="--",
                edgecolor=_colour(number), linewidth=1.4, label=f"{view.round_label(number)} box",
            ))
    _ring_top(ax, view, xs, ys)
    if points is not None:
        better = "higher" if view.maximize else "lower"
        colorbar = figure.colorbar(points, ax=ax, label=f"{view.label} ({better} is better)")
        if scale["value"] != "linear":
            _plain_log_ticks(colorbar.ax.yaxis, locate=scale["value"] == "log")
    else:
        _note(ax, f"no trial finished with a finite {view.label}")
    x_axis.draw_on(ax, "x")
    y_axis.draw_on(ax, "y")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{view.label} over {x_name} × {y_name}", fontsize=10)
    return figure


def _progress_figure(view: _RunView) -> Figure:
    """Best dev J so far against trials finished (in trial id order), rounds marked."""
    figure = _new_figure(7.0, 4.2)
    ax = figure.subplots()
    finished = np.arange(1, len(view.trials) + 1)  # (n,)
    # Running minimum (maximum when maximized) that ignores NaN: ±inf until the first good trial, shown as a gap.
    if view.maximize:
        best = np.maximum.accumulate(np.where(view.good, view.cost, -np.inf))
    else:
        best = np.minimum.accumulate(np.where(view.good, view.cost, np.inf))
    best = np.where(np.isfinite(best), best, np.nan)
    for number in view.round_numbers():
        mine = view.good & (view.round_of == number)
        if mine.any():
            ax.scatter(finished[mine], view.cost[mine], s=12, alpha=0.45, color=_colour(number),
                       label=view.round_label(number))
        starts = np.flatnonzero(view.round_of == number)
        if number > 0 and starts.size:
            ax.axvline(starts[0] + 0.5, color="0.5", linestyle=":", linewidth=1)
            ax.text(starts[0] + 0.7, 0.02, f"round {number}", rotation=90, fontsize=7, color="0.4",
                    transform=ax.get_xaxis_transform(), va="bottom")
    if np.isfinite(best).any():
        ax.step(finished, best, where="post", color="black", linewidth=1.6, label="best so far")
    else:
        _note(ax, f"no trial finished with a finite {view.label}")
    apart = ~view.good
    if apart.any():
        ax.scatter(finished[apart], np.full(apart.sum(), 0.97), marker="x", s=18, color="0.55",
                   transform=ax.get_xaxis_transform(), label="diverged / failed")
    _cost_axis(ax, view.cost)
    ax.set_xlim(0.5, max(len(view.trials), 1) + 0.5)
    ax.set_xlabel("trials finished (in trial id order)")
    ax.set_ylabel(view.label)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    ax.set_title("search progress", fontsize=10)
    return figure


def _learning_curves_figure(view: _RunView, decisions: Mapping[int, list[Decision]]) -> Figure:
    """Train (dashed) and dev (solid) J per epoch of the best trials; a babysat trial's decisions as dotted lines."""
    figure = _new_figure(7.0, 4.2)
    ax = figure.subplots()
    plotted = []
    if view.metric is not None:
        return _reported_curves_figure(view, figure, ax)
    for place, trial in enumerate(view.ranked[:LEARNING_CURVE_TRIALS], start=1):
        dev = _as_finite(trial.history.get("dev_cost", []))
        train = _as_finite(trial.history.get("train_cost", []))
        if not (np.isfinite(dev).any() or np.isfinite(train).any()):
            continue
        colour = _colour(place - 1)
        label = f"#{place} trial {trial.trial} (dev J {trial.dev_cost:.4g})"
        ax.plot(np.arange(1, dev.size + 1), dev, color=colour, linewidth=1.5, label=label)
        ax.plot(np.arange(1, train.size + 1), train, color=colour, linewidth=1.0, linestyle="--")
        plotted.extend([dev, train])
        for decision in decisions.get(trial.trial, []):  # between epoch k and k + 1
            ax.axvline(decision.epoch + 0.5, color=colour, linestyle=":", linewidth=1)
            ax.text(decision.epoch + 0.5, 0.98, f" {decision.action} ({decision.reason})", rotation=90, fontsize=6,
                    color="0.3", transform=ax.get_xaxis_transform(), va="top")
    if plotted:
        _cost_axis(ax, np.concatenate(plotted))
        ax.legend(fontsize=7, loc="best")
    else:
        _note(ax, "no finished trial has a learning curve")
    ax.set_xlabel("epoch")
    ax.set_ylabel("J (solid: dev, dashed: train)")
    ax.set_title(f"learning curves of the best {LEARNING_CURVE_TRIALS} trials", fontsize=10)
    return figure


def _rung_curves_figure(round_number: int, trials: list[TrialRecord]) -> Figure:
    """Dev J per epoch of every trial of a round under early stopping: the further a trial was promoted,
    the stronger its line; those that reached the top rung in colour; dotted lines at the rung epochs."""
    figure = _new_figure(7.0, 4.2)
    ax = figure.subplots()
    rung_epochs = sorted({(t.rung, t.epochs_run) for t in trials
                          if t.rung is not None and t.status in (TrialStatus.OK, TrialStatus.PRUNED)})
    top = max((rung for rung, _ in rung_epochs), default=0)
    plotted = []
    finished = sorted((t for t in trials if t.status is TrialStatus.OK), key=TrialRecord.rank_key)
    for trial in sorted(trials, key=lambda t: (t.rung or 0, t.trial)):  # the most promoted drawn last, on top
        dev = _as_finite(trial.history.get("dev_cost", []))
        if not np.isfinite(dev).any():
            continue
        plotted.append(dev)
        epochs = np.arange(1, dev.size + 1)
        if trial.status is TrialStatus.OK:
            place = finished.index(trial)
            ax.plot(epochs, dev, color=_colour(place), linewidth=1.8,
                    label=f"trial {trial.trial} (dev J {trial.dev_cost:.4g})" if place < LEARNING_CURVE_TRIALS else None)
        else:
            strength = 0.25 + 0.5 * (trial.rung or 0) / max(top, 1)
            ax.plot(epochs, dev, color="0.35", alpha=strength, linewidth=0.6 + (trial.rung or 0) * 0.4)
    for rung, epoch in rung_epochs:
        ax.axvline(epoch, color="0.5", linestyle=":", linewidth=0.8)
        ax.annotate(f"rung {rung + 1}", (epoch, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                    ha="right", va="top", rotation=90, color="0.4")
    if plotted:
        _cost_axis(ax, np.concatenate(plotted))
        if finished:
            ax.legend(fontsize=7, loc="best")
    else:
        _note(ax, "no trial of this round has a learning curve")
    ax.set_xlabel("epoch")
    ax.set_ylabel("dev J")
    ax.set_title(f"round {round_number}: every trial's dev J; the further promoted, the darker; "
                 "top rung in colour", fontsize=9)
    return figure


def _reported_curves_figure(view: _RunView, figure: Figure, ax: Axes) -> Figure:
    """An own objective's metric per reported epoch (or step) of the best trials."""
    plotted = []
    for place, trial in enumerate(view.ranked[:LEARNING_CURVE_TRIALS], start=1):
        values = _as_finite(trial.history.get(view.metric, []))
        if not np.isfinite(values).any():
            continue
        steps = trial.history.get("epoch") or trial.history.get("step") or list(range(1, values.size + 1))
        label = f"#{place} trial {trial.trial} ({view.label} {view.cost[view.trials.index(trial)]:.4g})"
        ax.plot(np.asarray(steps, dtype=float), values, color=_colour(place - 1), linewidth=1.5, label=label)
        plotted.append(values)
    if plotted:
        _cost_axis(ax, np.concatenate(plotted))
        ax.legend(fontsize=7, loc="best")
    else:
        _note(ax, f"no finished trial reported {view.label} per epoch")
    ax.set_xlabel("epoch (or step) reported")
    ax.set_ylabel(view.label)
    ax.set_title(f"{view.label} per epoch of the best {LEARNING_CURVE_TRIALS} trials", fontsize=10)
    return figure


def _confirm_figure(confirmation: Confirmation) -> Figure:
    """The J of every ok repeat of each confirmed trial (dots), its mean (bar) and its first run (hollow diamond)."""
    figure = _new_figure(max(5.0, 1.2 * len(confirmation.trials) + 2.0), 4.2)
    ax = figure.subplots()
    drawn = []
    for x, c in enumerate(confirmation.trials):
        values = np.array(c.values, dtype=float)  # (n,) ok repeats
        jitter = np.array([_strip_jitter(r.repeat) for r in c.ok_repeats])  # (n,)
        ax.scatter(x + jitter, values, s=18, alpha=0.7, color=_colour(0), label="repeat" if x == 0 else None)
        if values.size:
            ax.hlines(c.mean, x - 0.3, x + 0.3, color="black", linewidth=1.6, label="mean" if x == 0 else None)
        if math.isfinite(c.first_value):
            ax.scatter([x], [c.first_value], marker="D", s=40, facecolors="none", edgecolors="#b00020",
                       label="first run" if x == 0 else None)
            drawn.append(c.first_value)
        drawn.extend(values.tolist())
    ax.set_xticks(range(len(confirmation.trials)))
    ax.set_xticklabels([f"trial {c.trial}\n{c.leaderboard_rank}. → {c.rank}." for c in confirmation.trials],
                       fontsize=8)
    ax.set_xlim(-0.6, len(confirmation.trials) - 0.4)
    if drawn:
        _cost_axis(ax, np.array(drawn))
        if min(drawn) == 0:  # a perfect fit: no room below it
            ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="best")
    else:
        _note(ax, "no repeat finished with a finite J")
    ax.set_xlabel("confirmed order (leaderboard place → confirmed place)")
    ax.set_ylabel("dev J")
    ax.set_title("confirm: each top trial retrained with fresh seeds", fontsize=10)
    return figure


def _as_finite(values: Sequence[float]) -> np.ndarray:
    """Values as floats with nan/inf turned into gaps (NaN). (epochs,) -> (epochs,)."""
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    return np.where(np.isfinite(array), array, np.nan)
