"""What the zoom planners learn from: every finished trial, with its cost at each rung it reached.

One input for every planner (the box around the best, TPE, and any other zoom method): the run's warm-start
trials (``search.warm_start``, kept in its ``warm_trials`` table, oldest first) and then its own trials, by id.
A warm trial takes a negative id, so it sorts before the run's own and, at an equal value, ranks first; it is
never trained, shown among the run's trials or saved as its best model.
"""

from __future__ import annotations

import math

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.records import TrialRecord, TrialStatus
from hpsearch.search.halving import rungs
from hpsearch.storage.run_store import RunStore


def planner_history(store: RunStore, config: SearchConfig) -> tuple[list[TrialRecord], list[dict[int, float]]]:
    """The finished trials a zoom round is planned from, oldest first, and each one's levels (``trial_levels``):
    the warm-start trials that count, then the run's own."""
    warm = [t for t in store.tables.warm.all() if t.left_out is None]
    own = sorted(store.trials(), key=lambda t: t.trial)
    records = [t.record(i - len(warm)) for i, t in enumerate(warm)]
    return records + own, [dict(t.levels) for t in warm] + trial_levels(store, config, own)


def trial_levels(store: RunStore, config: SearchConfig, trials: list[TrialRecord]) -> list[dict[int, float]]:
    """Each trial's cost at each rung it reached (lower is better; ``+inf`` diverged), for ``level_losses``.

    Without early stopping a trial has one level, its ranking value; a failed
    trial none. With it, the built-in engine's rung results, or an own
    objective's reports at the rung epochs (its metric as a cost).
    """
    epochs = rungs(config)
    by_trial: dict[int, dict[int, float]] = {}
    if epochs and config.objective is None:
        for (trial, rung), e in store.rung_entries([t.trial for t in trials]).items():
            by_trial.setdefault(trial, {})[rung] = math.inf if e.diverged else e.value
    levels = []
    for t in trials:
        level: dict[int, float] = {}
        if t.status is TrialStatus.FAILED:
            levels.append(level)
            continue
        if config.objective is None:
            level.update(by_trial.get(t.trial, {}))
        elif epochs and config.objective.metric in t.history:
            progress = t.history.get("epoch", t.history.get("step", ()))
            at = dict(zip(progress, t.history[config.objective.metric]))
            level.update({k: config.objective.score(at[e]) for k, e in enumerate(epochs) if e in at})
        level.setdefault(t.rung or 0, t.ranking_value)
        if t.status is TrialStatus.DIVERGED:
            level[t.rung or 0] = math.inf
        levels.append({rung: v if math.isfinite(v) else math.inf for rung, v in level.items()})
    return levels
