"""Plain records the run store takes and gives back, besides core's trial and round records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class EpochLog:
    """Epochs ``first_epoch``, ``first_epoch + 1``, ... of one trial: history lists and training seconds."""

    first_epoch: int
    history: Mapping[str, list[float]]
    seconds: list[float] | None = None


@dataclass(frozen=True)
class RunSummary:
    """One line of ``hpsearch list``.

    ``name`` is the run folder's name (what ``RUN`` arguments accept).
    ``best_dev_cost``/``best_trial`` are those of the best ``ok`` trial with a
    finite dev cost (``records.rank`` order), ``None`` while there is none.
    ``status_counts`` maps every ``TrialStatus`` value to its number of trials.
    With an own objective, ``metric`` names its metric and ``best_value`` is
    the best trial's value of it (``best_dev_cost`` is then None). ``confirmed``: the best trial is
    ``confirm``'s best, whose repeat ``models/best.npz`` holds (what ``predict RUN`` uses), not the
    leaderboard's first.
    """

    name: str
    path: Path
    created: datetime
    rounds: int
    trials_done: int
    trials_planned: int
    best_dev_cost: float | None
    best_trial: int | None
    status_counts: dict[str, int]
    metric: str | None = None
    best_value: float | None = None
    confirmed: bool = False


@dataclass(frozen=True)
class UnreadableRun:
    """A run folder ``hpsearch list`` cannot read (a damaged ``run.sqlite``, a symlink, ...) and why, in one line."""

    name: str
    path: Path
    reason: str
