"""Learning curves: the best trials' J (or own metric) per epoch, and every trial of a round with rungs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np

from hpsearch.analysis.plots.canvas import as_finite, costs_or_note, new_figure, palette_colour
from hpsearch.analysis.plots.run_view import RunView
from hpsearch.core.decisions import Decision
from hpsearch.core.records import TrialRecord, TrialStatus

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LEARNING_CURVE_TRIALS = 5


def learning_curves_figure(view: RunView, decisions: Mapping[int, list[Decision]]) -> Figure:
    """Train (dashed) and dev (solid) J per epoch of the best trials (up to ``LEARNING_CURVE_TRIALS``; the title
    says how many are drawn); a babysat trial's decisions as dotted lines."""
    if view.metric is not None:
        return metric_curves_figure(view, view.metric, view.label)
    figure = new_figure(7.0, 4.2)
    ax = figure.subplots()
    plotted = []
    drawn = 0
    for place, trial in enumerate(view.ranked[:LEARNING_CURVE_TRIALS], start=1):
        dev = as_finite(trial.history.get("dev_cost", []))
        train = as_finite(trial.history.get("train_cost", []))
        if not (np.isfinite(dev).any() or np.isfinite(train).any()):
            continue
        colour = palette_colour(place - 1)
        where = (
            f", pruned at rung {trial.rung + 1}"
            if trial.status is TrialStatus.PRUNED and trial.rung is not None
            else ""
        )
        label = f"#{place} trial {trial.trial} (dev J {trial.dev_cost:.4g}{where})"
        ax.plot(np.arange(1, dev.size + 1), dev, color=colour, linewidth=1.5, label=label)
        ax.plot(np.arange(1, train.size + 1), train, color=colour, linewidth=1.0, linestyle="--")
        plotted.extend([dev, train])
        drawn += 1
        for decision in decisions.get(trial.trial, []):  # between epoch k and k + 1
            ax.axvline(decision.epoch + 0.5, color=colour, linestyle=":", linewidth=1)
            ax.text(
                decision.epoch + 0.5,
                0.98,
                f" {decision.action} ({decision.reason})",
                rotation=90,
                fontsize=6,
                color="0.3",
                transform=ax.get_xaxis_transform(),
                va="top",
            )
    if costs_or_note(ax, plotted, "no finished trial has a learning curve"):
        ax.legend(fontsize=7, loc="best")
    ax.set_xlabel("epoch")
    ax.set_ylabel("J (solid: dev, dashed: train)")
    ax.set_title(curves_title("learning curves", drawn, len(view.ranked)), fontsize=10)
    return figure


def curves_title(what: str, drawn: int, ranked: int) -> str:
    """``learning curves of the best 3 trials`` — the number actually drawn — and, when fewer than the cap were
    drawn though more trials have a value, why."""
    noun = "trial" if drawn == 1 else "trials"
    title = f"{what} of the best {drawn} {noun}" if drawn else what
    if drawn < min(LEARNING_CURVE_TRIALS, ranked):
        title += f" ({min(LEARNING_CURVE_TRIALS, ranked) - drawn} of the best {LEARNING_CURVE_TRIALS} have no curve)"
    return title


def rung_curves_figure(round_number: int, trials: list[TrialRecord]) -> Figure:
    """Dev J per epoch of every trial of a round under early stopping: the further a trial was promoted,
    the stronger its line; those that reached the top rung in colour; dotted lines at the rung epochs."""
    figure = new_figure(7.0, 4.2)
    ax = figure.subplots()
    rung_epochs = sorted(
        {
            (t.rung, t.epochs_run)
            for t in trials
            if t.rung is not None and t.status in (TrialStatus.OK, TrialStatus.PRUNED)
        }
    )
    top = max((rung for rung, _ in rung_epochs), default=0)
    plotted = []
    finished = sorted((t for t in trials if t.status is TrialStatus.OK), key=TrialRecord.rank_key)
    named = 0
    for trial in sorted(trials, key=lambda t: (t.rung or 0, t.trial)):  # the most promoted drawn last, on top
        dev = as_finite(trial.history.get("dev_cost", []))
        if not np.isfinite(dev).any():
            continue
        plotted.append(dev)
        epochs = np.arange(1, dev.size + 1)
        if trial.status is TrialStatus.OK:
            place = finished.index(trial)
            label = (
                f"#{place + 1} trial {trial.trial} (dev J {trial.dev_cost:.4g})"
                if place < LEARNING_CURVE_TRIALS
                else None
            )
            named += label is not None
            ax.plot(epochs, dev, color=palette_colour(place), linewidth=1.8, label=label)
        else:
            strength = 0.25 + 0.5 * (trial.rung or 0) / max(top, 1)
            ax.plot(epochs, dev, color="0.35", alpha=strength, linewidth=0.6 + (trial.rung or 0) * 0.4)
    for rung, epoch in rung_epochs:
        ax.axvline(epoch, color="0.5", linestyle=":", linewidth=0.8)
        ax.annotate(
            f"rung {rung + 1}",
            (epoch, 1.0),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            ha="right",
            va="top",
            rotation=90,
            color="0.4",
        )
    at_top = sum(1 for t in finished if np.isfinite(as_finite(t.history.get("dev_cost", []))).any())
    if at_top > named:  # say that the legend names only the best of those in colour
        ax.plot([], [], color="none", label=f"(and {at_top - named} more at the top rung, in colour)")
    if costs_or_note(ax, plotted, "no trial of this round has a learning curve") and finished:
        ax.legend(fontsize=7, loc="best")
    ax.set_xlabel("epoch")
    ax.set_ylabel("dev J")
    ax.set_title(
        f"round {round_number}: every trial's dev J; the further promoted, the darker; "
        f"{at_top} at the top rung in colour, the best {named} named",
        fontsize=9,
    )
    return figure


def metric_curves_figure(view: RunView, key: str, label: str) -> Figure:
    """``history[key]`` per epoch (or reported step) of the best trials: an own objective's metric, or a
    regression's dev RMSE in the target's units (``key`` ``dev_rmse``)."""
    figure = new_figure(7.0, 4.2)
    ax = figure.subplots()
    plotted = []
    drawn = 0
    for place, trial in enumerate(view.ranked[:LEARNING_CURVE_TRIALS], start=1):
        values = as_finite(trial.history.get(key, []))
        if not np.isfinite(values).any():
            continue
        steps = trial.history.get("epoch") or trial.history.get("step") or list(range(1, values.size + 1))
        last = values[np.isfinite(values)][-1]
        ax.plot(
            np.asarray(steps, dtype=float),
            values,
            color=palette_colour(place - 1),
            linewidth=1.5,
            label=f"#{place} trial {trial.trial} ({label} {last:.4g})",
        )
        plotted.append(values)
        drawn += 1
    if costs_or_note(ax, plotted, f"no finished trial has {label} per epoch"):
        ax.legend(fontsize=7, loc="best")
    ax.set_xlabel("epoch" if key == "dev_rmse" else "epoch (or step) reported")
    ax.set_ylabel(label)
    ax.set_title(curves_title(f"{label} per epoch", drawn, len(view.ranked)), fontsize=10)
    return figure
