"""Pictures of the cost over the searched values: per parameter, over the top pair, and over time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hpsearch.analysis.plots.canvas import (
    cost_axis,
    cost_norm,
    cost_scale,
    new_figure,
    note,
    palette_colour,
    plain_log_ticks,
    strip_jitter,
)
from hpsearch.analysis.plots.run_view import RunView, active_title, finite_cost, positions
from hpsearch.core.records import TrialStatus

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_ROUND_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_APART_ROWS = ("diverged", "failed")
#: The legend entry of pruned trials, drawn hollow at their value at the rung they reached.
PRUNED_LABEL = "pruned (hollow: value at its rung)"


def parameter_figure(view: RunView, name: str) -> Figure:
    """Dev J against one parameter, pruned trials hollow at their rung's J; trials without a finite J as x marks
    in a band above."""
    axis = view.axes[name]
    figure = new_figure(7.0, 4.8)
    if view.good.all():  # no diverged or failed trial: no empty band for them
        band, ax = None, figure.subplots()
    else:
        band, ax = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 5]})
    x = positions(view, name)  # (n,), NaN where the parameter was inactive
    if not axis.numeric:
        x = x + np.array([strip_jitter(t.trial) for t in view.trials], dtype=float)

    for number, space in view.zoom_boxes():
        box = axis.box(space)
        if box is not None:
            ax.axvspan(*box, color=palette_colour(number), alpha=0.12, label=f"{view.round_label(number)} box")
    for number in view.round_numbers():
        mine = view.finished & (view.round_of == number)
        if mine.any():
            ax.scatter(x[mine], view.cost[mine], s=22, color=palette_colour(number), label=view.round_label(number))
        cut = view.pruned_mask & (view.round_of == number)
        if cut.any():
            ax.scatter(
                x[cut],
                view.cost[cut],
                s=22,
                facecolors="none",
                edgecolors=palette_colour(number),
                linewidths=1.0,
                label=f"{view.round_label(number)} {PRUNED_LABEL}",
            )
    warm_points(ax, view, name)
    ring_top(ax, view, x, view.cost)
    if not view.good.any():
        note(ax, f"no trial finished with a finite {view.label}")
    cost_axis(ax, view.cost)
    ax.set_ylabel(view.label)
    axis.draw_on(ax, "x")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")

    if band is None:
        ax.set_title(f"dev J vs {name}{active_title(view, name)}", fontsize=10)
        return figure
    rows = {label: i for i, label in enumerate(_APART_ROWS)}
    counts = dict.fromkeys(_APART_ROWS, 0)
    for i, trial in enumerate(view.trials):
        if not view.good[i]:
            row = "failed" if trial.status is TrialStatus.FAILED else "diverged"
            counts[row] += 1
            band.scatter(x[i], rows[row], marker="x", s=28, color=palette_colour(trial.round))
    band.set_ylim(-0.6, len(_APART_ROWS) - 0.4)
    band.set_yticks(range(len(_APART_ROWS)), [f"{row} ({counts[row]})" for row in _APART_ROWS], fontsize=7)
    band.tick_params(axis="x", labelbottom=False)
    band.set_title(f"{view.label} vs {name}{active_title(view, name)}", fontsize=10)
    return figure


def warm_points(ax: Axes, view: RunView, name: str) -> None:
    """A warm start's earlier trials (``view.warm``) as grey plus signs: history the zoom rounds planned from,
    not trials of this run."""
    drawn = [(t.params[name], finite_cost(t, view.metric)) for t in view.warm if name in t.params]
    drawn = [(value, cost) for value, cost in drawn if np.isfinite(cost)]
    if drawn:
        x = view.axes[name].position([value for value, _ in drawn])
        label = f"warm start ({len(drawn)} trials of earlier runs)"
        ax.scatter(x, [cost for _, cost in drawn], s=26, marker="+", color="0.55", label=label)


def ring_top(ax: Axes, view: RunView, xs: np.ndarray, ys: np.ndarray) -> None:
    """Ring the top trials and number them by rank; ``xs``, ``ys`` (n,) are where each trial is drawn."""
    row = {t.trial: i for i, t in enumerate(view.trials)}
    top = view.ranked[: view.top_k]
    for place, trial in enumerate(top, start=1):
        x, y = xs[row[trial.trial]], ys[row[trial.trial]]
        label = f"top {len(top)}" if place == 1 else None
        ax.scatter([x], [y], s=120, facecolors="none", edgecolors="black", linewidths=1.2, label=label)
        ax.annotate(str(place), (x, y), xytext=(5, 4), textcoords="offset points", fontsize=7)


def pairs_figure(view: RunView, x_name: str, y_name: str) -> Figure:
    """Dev J (colour) over two parameters, one marker per round (hollow: pruned, at its rung's J), zoom boxes
    outlined."""
    from matplotlib.patches import Rectangle

    x_axis, y_axis = view.axes[x_name], view.axes[y_name]
    figure = new_figure(7.0, 5.6)
    ax = figure.subplots()
    xs, ys = positions(view, x_name), positions(view, y_name)  # NaN where inactive: not drawn

    finite = view.cost[view.good]
    scale = cost_scale(finite)
    norm = cost_norm(scale)
    if finite.size:
        norm.autoscale(finite)
    points = None
    for k, number in enumerate(view.round_numbers()):
        marker = _ROUND_MARKERS[k % len(_ROUND_MARKERS)]
        mine = view.finished & (view.round_of == number)
        if mine.any():
            points = ax.scatter(
                xs[mine],
                ys[mine],
                c=view.cost[mine],
                cmap="viridis",
                norm=norm,
                s=30,
                marker=marker,
                edgecolors="0.3",
                linewidths=0.4,
                label=view.round_label(number),
            )
        cut = view.pruned_mask & (view.round_of == number)
        if cut.any():
            from matplotlib import colormaps

            ax.scatter(
                xs[cut],
                ys[cut],
                s=30,
                marker=marker,
                facecolors="none",
                linewidths=1.0,
                edgecolors=colormaps["viridis"](norm(view.cost[cut])),
                label=f"{view.round_label(number)} {PRUNED_LABEL}",
            )
            points = points if points is not None else _colour_source(view.cost[cut], norm)
    if (~view.good).any():
        ax.scatter(xs[~view.good], ys[~view.good], marker="x", s=24, color="0.55", label="diverged / failed")
    for number, space in view.zoom_boxes():
        bx, by = x_axis.box(space), y_axis.box(space)
        if bx is not None and by is not None:
            ax.add_patch(
                Rectangle(
                    (bx[0], by[0]),
                    bx[1] - bx[0],
                    by[1] - by[0],
                    fill=False,
                    linestyle="--",
                    edgecolor=palette_colour(number),
                    linewidth=1.4,
                    label=f"{view.round_label(number)} box",
                )
            )
    ring_top(ax, view, xs, ys)
    if points is not None:
        better = "higher" if view.maximize else "lower"
        colorbar = figure.colorbar(points, ax=ax, label=f"{view.label} ({better} is better)")
        if scale["value"] != "linear":
            plain_log_ticks(colorbar.ax.yaxis, locate=scale["value"] == "log")
    else:
        note(ax, f"no trial finished with a finite {view.label}")
    x_axis.draw_on(ax, "x")
    y_axis.draw_on(ax, "y")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{view.label} over {x_name} × {y_name}", fontsize=10)
    return figure


def _colour_source(costs: np.ndarray, norm: object) -> object:
    """An invisible mappable of ``costs`` for the colour bar when only pruned (hollow) trials were drawn."""
    from matplotlib.cm import ScalarMappable

    mappable = ScalarMappable(norm=norm, cmap="viridis")  # type: ignore[arg-type]
    mappable.set_array(costs)
    return mappable


def progress_figure(view: RunView) -> Figure:
    """Best dev J so far of the trials trained to the end against trials finished (in trial id order), pruned
    trials hollow at their rung's J, rounds marked."""
    figure = new_figure(7.0, 4.2)
    ax = figure.subplots()
    finished = np.arange(1, len(view.trials) + 1)  # (n,)
    # Running minimum (maximum when maximized) that ignores NaN: ±inf until the first good trial, shown as a gap.
    # A pruned trial's J is at an earlier rung, not comparable with full training: it does not count.
    if view.maximize:
        best = np.maximum.accumulate(np.where(view.finished, view.cost, -np.inf))
    else:
        best = np.minimum.accumulate(np.where(view.finished, view.cost, np.inf))
    best = np.where(np.isfinite(best), best, np.nan)
    for number in view.round_numbers():
        mine = view.finished & (view.round_of == number)
        if mine.any():
            ax.scatter(
                finished[mine],
                view.cost[mine],
                s=12,
                alpha=0.45,
                color=palette_colour(number),
                label=view.round_label(number),
            )
        cut = view.pruned_mask & (view.round_of == number)
        if cut.any():
            ax.scatter(
                finished[cut],
                view.cost[cut],
                s=12,
                alpha=0.6,
                facecolors="none",
                edgecolors=palette_colour(number),
                label=f"{view.round_label(number)} {PRUNED_LABEL}",
            )
        starts = np.flatnonzero(view.round_of == number)
        if number > 0 and starts.size:
            ax.axvline(starts[0] + 0.5, color="0.5", linestyle=":", linewidth=1)
            ax.text(
                starts[0] + 0.7,
                0.02,
                f"round {number}",
                rotation=90,
                fontsize=7,
                color="0.4",
                transform=ax.get_xaxis_transform(),
                va="bottom",
            )
    if np.isfinite(best).any():
        ax.step(finished, best, where="post", color="black", linewidth=1.6, label="best so far")
    else:
        note(ax, f"no trial finished with a finite {view.label}")
    apart = ~view.good
    if apart.any():
        ax.scatter(
            finished[apart],
            np.full(apart.sum(), 0.97),
            marker="x",
            s=18,
            color="0.55",
            transform=ax.get_xaxis_transform(),
            label="diverged / failed",
        )
    cost_axis(ax, view.cost)
    ax.set_xlim(0.5, max(len(view.trials), 1) + 0.5)
    ax.set_xlabel("trials finished (in trial id order)")
    ax.set_ylabel(view.label)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    ax.set_title("search progress", fontsize=10)
    return figure
