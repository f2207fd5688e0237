"""The parts of a run's page that only some runs have: early stopping's rungs, confirm's intervals, and a trial's
command line. Each is read only when asked and bounded like the rest (``views``)."""

from __future__ import annotations

import shlex
from typing import Any

from hpsearch.confirm.repeats import load_confirmation
from hpsearch.core.records import TrialStatus
from hpsearch.objectives.command import trial_argv
from hpsearch.serve.runs import RunCache
from hpsearch.serve.views import config_of, number, trial_page
from hpsearch.storage.run_store import RunStore

#: Most trials whose rungs one answer holds (the best ones).
MAX_RUNG_TRIALS = 2000


def rungs_json(store: RunStore, cache: RunCache) -> dict[str, Any]:
    """Where each trial stood at each rung of early stopping (its value, the epochs it had trained), of the best
    ``MAX_RUNG_TRIALS`` trials; ``pruned`` trials stopped at their last rung (drawn hollow). Empty without rungs."""
    heads = [h for h in sorted(cache.heads.values(), key=lambda h: h.rank_key()) if h.rung is not None]
    chosen = heads[:MAX_RUNG_TRIALS]
    entries = store.rung_entries([h.trial for h in chosen]) if chosen else {}
    pruned = {h.trial for h in chosen if h.status is TrialStatus.PRUNED}
    trials: dict[int, list[list[float | None]]] = {}
    for (trial, _), result in sorted(entries.items()):
        trials.setdefault(trial, []).append([result.epoch, number(result.value)])
    return {
        "trials": [{"trial": t, "pruned": t in pruned, "points": points} for t, points in trials.items()],
        "of": len(heads),
    }


def confirm_json(store: RunStore, cache: RunCache) -> dict[str, Any] | None:
    """Confirm's summary (``load_confirmation``, as ``show`` prints it): each confirmed trial's repeats, mean and
    95% interval, best first; None for a run never confirmed."""
    del cache
    if not store.repeats():
        return None
    confirmation = load_confirmation(store)
    if confirmation is None:
        return None
    return {
        "trials": [
            {
                "trial": c.trial,
                "rank": c.rank,
                "leaderboard_rank": c.leaderboard_rank,
                "first": number(c.first_value),
                "mean": number(c.mean) if c.n else None,
                "interval": [number(v) for v in c.interval] if c.n >= 2 else None,
                "values": [number(v) for v in c.values],
            }
            for c in confirmation.trials
        ],
        "tied": confirmation.tied,
        "deterministic": confirmation.deterministic,
    }


def command_line(store: RunStore, cache: RunCache, params: dict[str, Any]) -> str:
    """The command line that reproduces a trial of an own command objective, else the command that shows the run."""
    objective = config_of(store, cache).objective
    if objective is not None and objective.command is not None:
        try:
            return shlex.join(trial_argv(objective, params))
        except (KeyError, ValueError):  # a parameter the template names and the trial did not use
            pass
    return f"hpsearch show {shlex.quote(store.run_dir.name)}"


def trial_with_command(store: RunStore, cache: RunCache, trial: int) -> dict[str, Any] | None:
    """``views.trial_page`` with the trial's command line; None if the run has no such trial."""
    page = trial_page(store, cache, trial)
    if page is None:
        return None
    return {**page, "command": command_line(store, cache, cache.records(store, [trial])[0].params)}
