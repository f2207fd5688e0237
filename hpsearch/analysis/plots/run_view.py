"""A run prepared for drawing: its trials in id order, their costs, rounds and parameter axes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hpsearch.analysis.importance import ImportanceReport
from hpsearch.analysis.plots.parameter_axis import ParameterAxis, parameter_axis
from hpsearch.analysis.run_notes import describe_round
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus, rank
from hpsearch.objectives.spec import ObjectiveSpec
from hpsearch.space.samplers import PLANNED_SAMPLERS
from hpsearch.space.search_space import Space, envelope


@dataclass(frozen=True)
class RunView:
    """A run prepared for drawing: trials in id order and what every plot needs of them.

    ``cost`` (n,) holds dev J where finite for an ok trial, and for a pruned
    one its dev J at the rung it reached; NaN elsewhere. ``good`` (n,) marks
    the trials with a finite cost, ``pruned`` (n,) the pruned ones among them
    (drawn hollow: their value is at an earlier rung, not at full training).
    ``ranked`` are the good trials best first, ``top_k`` of them ringed in the plots.
    """

    rounds: list[RoundRecord]
    spaces: list[Space]
    axes: dict[str, ParameterAxis]
    trials: list[TrialRecord]
    cost: np.ndarray
    good: np.ndarray
    round_of: np.ndarray
    ranked: list[TrialRecord]
    top_k: int
    label: str = "dev J"
    metric: str | None = None
    maximize: bool = False
    pruned: np.ndarray | None = None
    warm: tuple[TrialRecord, ...] = ()  # earlier runs' trials a warm start counts as history: drawn apart

    @property
    def finished(self) -> np.ndarray:
        """(n,) the good trials that trained to the end (not pruned): the ones "best so far" counts."""
        return self.good & ~self.pruned_mask

    @property
    def pruned_mask(self) -> np.ndarray:
        """(n,) the good trials stopped at a rung of early stopping."""
        return self.pruned if self.pruned is not None else np.zeros(len(self.trials), dtype=bool)

    @classmethod
    def of(
        cls, rounds: list[RoundRecord], trials: list[TrialRecord], top_k: int, objective: ObjectiveSpec | None = None
    ) -> RunView:
        """Prepare ``trials`` for drawing; with an own ``objective``, its metric takes the place of dev J."""
        rounds = sorted(rounds, key=lambda r: r.round)
        trials = sorted(trials, key=lambda t: t.trial)
        spaces = [Space.from_json(r.space) for r in rounds]
        metric = objective.metric if objective is not None else None
        cost = np.array([finite_cost(t, metric) for t in trials], dtype=float)  # (n,)
        good = np.isfinite(cost)
        ranked = [t for t in rank(trials) if np.isfinite(finite_cost(t, metric))]
        outer = envelope(spaces) if spaces else Space({})
        axes = {
            name: parameter_axis(name, outer[name], [t.params[name] for t in trials if name in t.params])
            for name in outer
        }  # a conditional parameter: the trials where it was active
        round_of = np.array([t.round for t in trials], dtype=int)
        pruned = good & np.array([t.status is TrialStatus.PRUNED for t in trials], dtype=bool)
        if objective is None:
            return cls(rounds, spaces, axes, trials, cost, good, round_of, ranked, top_k, pruned=pruned)
        return cls(
            rounds,
            spaces,
            axes,
            trials,
            cost,
            good,
            round_of,
            ranked,
            top_k,
            label=objective.metric,
            metric=objective.metric,
            maximize=objective.direction == "maximize",
            pruned=pruned,
        )

    def round_label(self, number: int) -> str:
        """``round 2 (zoom top 3)``: a round's number and how it was made (``describe_round``), for legends."""
        kinds = {r.round: describe_round(r, self.trials).kind for r in self.rounds}
        return f"round {number} ({kinds[number]})" if number in kinds else f"round {number}"

    def round_numbers(self) -> list[int]:
        """Every round that has a record or a trial, in order."""
        return sorted({r.round for r in self.rounds} | set(self.round_of.tolist()))

    def zoom_boxes(self) -> list[tuple[int, Space]]:
        """(round, space) of every box zoom round: the boxes the plots outline (a tpe round has no box: its
        stored space is the whole space searched so far, its trials planned from every finished one; nor has
        an auto round, part of whose trials are planned so)."""
        return [
            (r.round, s)
            for r, s in zip(self.rounds, self.spaces)
            if r.kind == "zoom" and r.sampler not in PLANNED_SAMPLERS
        ]


def finite_cost(trial: TrialRecord, metric: str | None = None) -> float:
    """Dev J (or ``metric``) of an ok trial, or of a pruned one at the rung it reached, when finite; else NaN
    (diverged, failed, or a non-finite cost)."""
    cost = trial.dev_cost if metric is None else trial.metrics.get(metric)
    if trial.status in (TrialStatus.OK, TrialStatus.PRUNED) and cost is not None and math.isfinite(cost):
        return float(cost)
    return math.nan


def choose_pair(view: RunView, importance: ImportanceReport | None) -> tuple[str, str] | None:
    """The two numeric parameters for the pairs plot: most important first, else by name."""
    numeric = [name for name, axis in view.axes.items() if axis.numeric]
    if importance is not None and importance.enough:
        ranked = [item.name for item in importance.items if item.name in numeric]
        numeric = ranked + [name for name in numeric if name not in ranked]
    return (numeric[0], numeric[1]) if len(numeric) >= 2 else None


def positions(view: RunView, name: str) -> np.ndarray:
    """Each trial's place on ``name``'s axis, (n,) float; NaN where the parameter was inactive (a conditional
    parameter the trial did not use): matplotlib draws nothing there."""
    active = [k for k, t in enumerate(view.trials) if name in t.params]
    x = np.full(len(view.trials), np.nan)
    if active:
        x[active] = view.axes[name].position([view.trials[k].params[name] for k in active])
    return x


def active_title(view: RunView, name: str) -> str:
    """`` (active in 11 of 30 trials)`` for a parameter some trials did not use, else ``""``."""
    active = sum(name in t.params for t in view.trials)
    return "" if active == len(view.trials) else f" (active in {active} of {len(view.trials)} trials)"
