"""Plain, immutable records passed between the engine, the runner, the store and the views.

Workers return these; only the parent process stores and ranks them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TrialStatus(str, Enum):
    """How a trial ended.

    ``ok``: trained to its last epoch; ``pruned``: stopped early at a rung of
    successive halving or Hyperband; ``diverged``: its cost blew up;
    ``failed``: an exception. Ranking: ok and pruned trials by the rung they
    reached (highest first), then by their value there; then diverged, then failed.
    """

    OK = "ok"
    PRUNED = "pruned"
    DIVERGED = "diverged"
    FAILED = "failed"


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial of a search, as stored.

    ``trial`` is the run-wide trial id (0, 1, 2, ... across rounds); ``index``
    its position within its round. ``params`` holds the searched
    hyperparameters only (the fixed ones are in the run's config).
    Result fields are ``None`` for a failed trial, whose ``error`` says why.
    With an own objective the engine's fields (``dev_cost``, ...) stay ``None``:
    ``metrics`` holds the objective's metric and every other number it
    reported, ``history`` its per-epoch reports (one list per key), and
    ``value`` is the metric as a cost (negated when maximized).
    """

    trial: int
    round: int
    index: int
    params: dict[str, Any]
    seed: int
    status: TrialStatus
    dev_cost: float | None = None
    train_cost: float | None = None
    dev_accuracy: float | None = None
    epochs_run: int = 0
    seconds: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    rung: int | None = None
    value: float | None = None
    best_dev_cost: float | None = None
    best_epoch: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def ranking_value(self) -> float:
        """The number this trial is ranked by (lower is better): ``value``, else dev cost; inf if none."""
        value = self.value if self.value is not None else self.dev_cost
        return value if value is not None and math.isfinite(value) else math.inf

    def rank_key(self) -> tuple[int, int, float, int]:
        """Sort key: ok and pruned trials by rung reached (highest first), then value; then diverged, then failed.

        ``rung`` is the index of the last rung a trial reached under early
        stopping (None without it, which ranks as one rung). Ties go to the lower trial id.
        """
        return ranking_key(self.status, self.rung, self.ranking_value, self.trial)


_STATUS_ORDER = {TrialStatus.OK: 0, TrialStatus.PRUNED: 0, TrialStatus.DIVERGED: 1, TrialStatus.FAILED: 2}


def ranking_key(status: TrialStatus, rung: int | None, value: float, trial: int) -> tuple[int, int, float, int]:
    """``TrialRecord.rank_key`` of a trial's parts (``value``: its ``ranking_value``), for views that rank
    thousands of stored trials without making a record of each (``storage.trials.TrialHead``)."""
    order = _STATUS_ORDER[status]
    if order:
        return (order, 0, math.inf, trial)
    return (order, -(rung or 0), value, trial)


@dataclass(frozen=True)
class RoundRecord:
    """One round of a search: its space (``Space.to_json()``) and how many trials it planned.

    ``kind`` is ``random``/``grid``/``quasi`` for the first round, ``zoom`` for a
    coarse-to-fine round; ``top_k``/``expand`` record how a zoom round was made.
    ``planned`` holds the unit points of a round planned from results (sampler
    ``tpe``), one per trial in ``space``'s unit cube: stored with the round, so
    resuming or any number of workers train the same trials. It is kept in the
    round's stored space JSON under ``PLANNED_KEY`` (``stored_space``,
    ``from_stored_space``), a key no parameter name can take. ``enqueued``
    holds the values ``search.enqueue`` gives round 0's first trials (the other
    parameters drawn as usual), kept the same way under ``ENQUEUED_KEY``.
    """

    round: int
    space: dict[str, Any]
    n_trials: int
    sampler: str
    kind: str = "initial"
    top_k: int | None = None
    expand: bool = False
    first_trial: int = 0
    planned: tuple[tuple[float, ...], ...] = ()
    enqueued: tuple[dict[str, Any], ...] = ()


#: The key of a round's stored space JSON that holds its planned unit points (not an identifier: no parameter's name).
PLANNED_KEY = "~planned"
#: The key of round 0's stored space JSON that holds its enqueued points (``search.enqueue``).
ENQUEUED_KEY = "~enqueued"


def stored_space(rnd: RoundRecord) -> dict[str, Any]:
    """What the store keeps as a round's space: ``rnd.space``, plus its planned points under ``PLANNED_KEY`` and
    its enqueued ones under ``ENQUEUED_KEY``."""
    stored = dict(rnd.space)
    if rnd.planned:
        stored[PLANNED_KEY] = [list(p) for p in rnd.planned]
    if rnd.enqueued:
        stored[ENQUEUED_KEY] = [dict(p) for p in rnd.enqueued]
    return stored


def from_stored_space(stored: dict[str, Any]) -> dict[str, Any]:
    """``RoundRecord`` fields ``space``, ``planned`` and ``enqueued`` from what ``stored_space`` wrote."""
    space = {k: v for k, v in stored.items() if k not in (PLANNED_KEY, ENQUEUED_KEY)}
    return {
        "space": space,
        "planned": tuple(tuple(float(x) for x in p) for p in stored.get(PLANNED_KEY, ())),
        "enqueued": tuple(dict(p) for p in stored.get(ENQUEUED_KEY, ())),
    }


@dataclass(frozen=True)
class RepeatRecord:
    """One repeat of a top trial, retrained with a fresh seed by ``hpsearch confirm``.

    ``repeat`` is 0-based; ``seed`` its training seed; ``value`` the number the
    trial is ranked by (``search.rank_by``: last or best dev J), lower is better.
    Result fields are ``None`` for a failed repeat, whose ``error`` says why.
    """

    trial: int
    repeat: int
    seed: int
    status: TrialStatus
    value: float | None = None
    dev_cost: float | None = None
    train_cost: float | None = None
    dev_accuracy: float | None = None
    epochs_run: int = 0
    seconds: float = 0.0
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # a regression's dev_rmse and dev_r2; else empty


def rank(trials: list[TrialRecord]) -> list[TrialRecord]:
    """Trials best first."""
    return sorted(trials, key=TrialRecord.rank_key)


def best_epoch(dev_costs: list[float | None]) -> tuple[float | None, int | None]:
    """The lowest finite dev cost of a history and its 0-based epoch (the earliest on ties); (None, None) if none.

    The one definition of a trial's best epoch: the engine keeps the same one as it trains
    (``TrainingState.best_epoch``), and stored or pruned histories are summarised by this.
    """
    finite = [(c, e) for e, c in enumerate(dev_costs) if c is not None and math.isfinite(c)]
    if not finite:
        return None, None
    cost, epoch = min(finite)
    return cost, epoch


def as_cost(value: object, direction: str = "minimize") -> float:
    """A value as a cost, lower is better whatever the direction (maximize negates); a missing, non-numeric
    or non-finite value is the worst there is (+inf). The one conversion every ranking rule uses: the
    leaderboard, both kinds of early stopping and the model-based sampler."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # NumPy scalars
        except (TypeError, ValueError, OverflowError):
            return math.inf
    if not math.isfinite(value):
        return math.inf
    return -float(value) if direction == "maximize" else float(value)
